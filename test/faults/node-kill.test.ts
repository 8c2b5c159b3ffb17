import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { gqlOk, on, registerUsers, type TestUser } from "../helpers/client.js";
import type { NodeProcess } from "../helpers/node-process.js";
import { useNodes } from "../helpers/nodes.js";
import { resumingSubscriber, storedMessages } from "../helpers/resuming.js";
import { makeRoom } from "../helpers/rooms.js";

/**
 * Fault: a node is killed with SIGKILL (no graceful close: its sockets drop,
 * nothing is flushed) while a client is subscribed to messageAdded through it
 * and messages keep being sent through the other node.
 *
 * Promise: a client that reconnects by itself (graphql-ws `retryAttempts`) to
 * whatever its balancer gives it — here a `url` function answering A first, B
 * after — and resubscribes with `after:` its last cursor receives every stored
 * message exactly once, in order, including those sent while it was away.
 * (That the killed node's users go OFFLINE on the other node within
 * PRESENCE_TTL_MS + one sweep is test/two-nodes.test.ts's last test.)
 */
describe("a node killed with SIGKILL", () => {
  const {
    nodes: [a, b],
  } = useNodes(2);
  let alice: TestUser, bob: TestUser;
  let roomId: string;

  beforeAll(async () => {
    [alice, bob] = await registerUsers(b.url, ["alice", "bob"]);
    roomId = await makeRoom(on(b.url), bob, { name: "Failover", members: [alice] });
  });

  /** Sends `count` messages through `node` as bob, one after another; resolves their ids. */
  const send = async (node: NodeProcess, count: number, label: string): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const sent = await gqlOk(
        node.url,
        `mutation($r: ID!, $c: String!, $k: String!) { sendMessage(input: { roomId: $r, content: $c, clientMessageId: $k }) { id } }`,
        { r: roomId, c: `${label} ${i}`, k: randomUUID() },
        bob.accessToken,
      );
      ids.push(sent.sendMessage.id);
    }
    return ids;
  };

  it("a client failing over to the other node resumes with after: and gets every message once, in order", async () => {
    // the balancer: A first; once A is gone, B — but only after the test has sent the outage's messages
    let failOver!: () => void;
    const failedOver = new Promise<void>((resolve) => (failOver = resolve));
    let asked = 0;
    const balancer = async () => {
      if (asked++ === 0) return a.wsUrl;
      await failedOver;
      return b.wsUrl;
    };
    const subscriber = resumingSubscriber(balancer, alice, roomId);
    try {
      // live on A (no "subscribed" acknowledgement in the protocol: send until one arrives)
      for (let i = 0; !subscriber.received.length; i++) {
        await send(b, 1, "warm-up");
        await subscriber.untilAny(200).catch(() => {});
        expect(i).toBeLessThan(50);
      }
      const before = await send(b, 5, "before");
      await subscriber.until(before.at(-1)!);

      await a.stop("SIGKILL");
      const during = await send(b, 5, "during");
      failOver();
      const after = await send(b, 5, "after");
      await subscriber.until(after.at(-1)!);

      const stored = await storedMessages(b.url, bob, roomId);
      expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
      // from its first message on: every stored one, once, in order
      const first = stored.findIndex((m) => m.id === subscriber.received[0]!.id);
      expect(subscriber.received).toEqual(stored.slice(first));
      expect(subscriber.received.map((m) => m.id)).toEqual(expect.arrayContaining([...before, ...during, ...after]));
      expect(subscriber.connections).toEqual([a.wsUrl, b.wsUrl]);
      expect(subscriber.errors).toEqual([]);
    } finally {
      await subscriber.dispose();
    }
  }, 60_000);
});
