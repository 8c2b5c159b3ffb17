import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GqlResponse, gql, on, registerUsers, type TestUser } from "../helpers/client.js";
import { type DedicatedRedis, startDedicatedRedis } from "../helpers/dedicated-redis.js";
import { useNodes } from "../helpers/nodes.js";
import { type ResumingSubscriber, resumingSubscriber, storedMessages } from "../helpers/resuming.js";
import { makeRoom } from "../helpers/rooms.js";

/**
 * Fault: the Redis both nodes publish through is killed (SIGKILL) and started
 * again on the same port, empty, while each node serves a messageAdded
 * subscriber and messages keep being sent through both nodes.
 *
 * Promise: setTyping, which needs Redis, answers SERVICE_UNAVAILABLE meanwhile;
 * every send answers OK — PostgreSQL is up, so each is committed, and a
 * publish lost with Redis is not reported as a failure (EventLog.afterCommit);
 * once Redis is back the nodes' ioredis connections resubscribe by themselves
 * and the WebSockets never closed, so the next published message reaches both
 * subscribers and the gap before it is filled from PostgreSQL (realtime/stream.ts);
 * a client resuming with `after:` the cursor it had when Redis went away gets the
 * same. Each ends with exactly the stored messages, once each, in seq order.
 */
describe("Redis restarted under two nodes", () => {
  /** The sender's pause between two sends, in ms (a pace, so a fast machine does not send thousands). */
  const SEND_PACE_MS = 50;
  let redis: DedicatedRedis;
  afterAll(() => redis?.stop());
  const {
    nodes: [a, b],
  } = useNodes(2, async () => {
    redis = await startDedicatedRedis();
    return { REDIS_URL: redis.url };
  });
  let alice: TestUser, bob: TestUser, carol: TestUser;
  let roomId: string;

  beforeAll(async () => {
    [alice, bob, carol] = await registerUsers(a.url, ["alice", "bob", "carol"]);
    roomId = await makeRoom(on(a.url), bob, { name: "Restart", members: [alice, carol] });
  });

  it("subscribers on both nodes end with every stored message once, in order; no send fails", async () => {
    const sends: { id?: string; node: string; response: GqlResponse; startedAt: number }[] = [];
    let sending = true;
    // bob keeps sending, through A and B in turn, one every SEND_PACE_MS or so, until told to stop
    const sender = (async () => {
      for (let i = 0; sending; i++, await new Promise((resolve) => setTimeout(resolve, SEND_PACE_MS))) {
        const node = i % 2 === 0 ? a : b;
        const startedAt = Date.now();
        const response = await gql(
          node.url,
          `mutation($r: ID!, $c: String!, $k: String!) { sendMessage(input: { roomId: $r, content: $c, clientMessageId: $k }) { id } }`,
          { r: roomId, c: `message ${i}`, k: randomUUID() },
          bob.accessToken,
        );
        sends.push({ id: response.data?.sendMessage?.id, node: node.url, response, startedAt });
      }
    })();
    /** Resolves once `count` more sends have been answered. */
    const answered = async (count: number) => {
      const target = sends.length + count;
      while (sends.length < target) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    const subscribers: ResumingSubscriber[] = [];
    try {
      const onA = resumingSubscriber(a.wsUrl, alice, roomId);
      const onB = resumingSubscriber(b.wsUrl, carol, roomId);
      subscribers.push(onA, onB);
      await Promise.all([onA.untilAny(), onB.untilAny()]);
      await answered(5);

      await redis.stop();
      const beforeOutage = sends.length;
      const cursor = onA.received.at(-1)!.seq; // what a client that went away with Redis had
      await answered(5); // sent while Redis is down: committed, their publishes lost
      // typing lives only in Redis: refused with a retryable code, not an unexpected error
      const typing = await gql(a.url, `mutation($r: ID!) { setTyping(roomId: $r, isTyping: true) }`, { r: roomId }, alice.accessToken);
      expect(typing.errors?.[0]).toMatchObject({
        message: "Realtime service unavailable; retry later",
        extensions: { code: "SERVICE_UNAVAILABLE" },
      });
      await redis.start();
      const restartedAt = Date.now();

      // the first message sent after the restart that reaches both subscribers (their nodes have resubscribed)
      const reachedBoth = () =>
        sends.some(
          (s) => s.startedAt > restartedAt && s.id && onA.received.some((m) => m.id === s.id) && onB.received.some((m) => m.id === s.id),
        );
      while (!reachedBoth()) await answered(1);
      expect(sends.length).toBeLessThan(500);
      sending = false;
      await sender;
      const last = sends.at(-1)!.id!;
      const resumed = resumingSubscriber(b.wsUrl, alice, roomId, cursor);
      subscribers.push(resumed);
      await Promise.all([onA.until(last), onB.until(last), resumed.until(last)]);

      expect(sends.filter((s) => s.response.errors)).toEqual([]);
      const stored = await storedMessages(a.url, bob, roomId);
      expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
      expect(stored.map((m) => m.id)).toEqual(sends.map((s) => s.id));
      for (const subscriber of [onA, onB]) {
        const first = stored.findIndex((m) => m.id === subscriber.received[0]!.id);
        expect(first).toBeLessThan(beforeOutage); // it was live before the outage
        expect(subscriber.received).toEqual(stored.slice(first));
        expect(subscriber.connections).toHaveLength(1); // no reconnect was needed
        expect(subscriber.errors).toEqual([]);
      }
      expect(resumed.received).toEqual(stored.slice(cursor));
    } finally {
      sending = false;
      await sender;
      await Promise.all(subscribers.map((s) => s.dispose()));
    }
  }, 90_000);
});
