/**
 * What one sendMessage costs in round trips (issue 13, docs/performance.md "The
 * send path"): a plain send, from a client whose token this node has checked
 * before, is one SQL statement on the write pool (chat_send_message: session,
 * posting rule, write) and nothing on Prisma's pool; its two publishes
 * (roomEvents, messageAdded) leave in one write to Redis. A send with a mention
 * may take more statements, in a transaction.
 * How it is counted: the server runs in this process; Prisma's `query` events
 * and the write pool's `onQuery` report each statement, and the publisher
 * connection's socket writes are counted. The same with tracing on (spans exported
 * to a collector stand-in): its spans and trace contexts add no round trip.
 */
import type { RedisPubSub } from "graphql-redis-subscriptions";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUSH_SQL_MARK } from "../src/push/notifier.js";
import { startOtlpCollector } from "./helpers/otlp-collector.js";
import { useTestServer } from "./helpers/server.js";

describe.each([{ tracing: "off" }, { tracing: "on" }])("sendMessage round trips, tracing $tracing", ({ tracing }) => {
  let collector: Awaited<ReturnType<typeof startOtlpCollector>> | undefined;
  beforeAll(async () => {
    collector = tracing === "on" ? await startOtlpCollector() : undefined;
  });
  afterAll(() => collector?.close());
  // the background sweeps (expired messages, presence) run their own statements: slowed out of the counting window
  const {
    server,
    api,
    users: [alice, bob],
  } = useTestServer(["alice", "bob"], () => ({
    redis: true,
    env: {
      EXPIRY_SWEEP_MS: "60000",
      PRESENCE_TTL_MS: "60000",
      RATE_LIMITS: "off",
      ...(collector ? { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } : {}),
    },
  }));
  let roomId: string;
  /** What the server does while recording: statements on each pool, writes to the Redis publisher's socket. */
  let recording: { prisma: string[]; writes: string[]; redisWrites: number } | null = null;

  // biome-ignore lint/suspicious/noDuplicateTestHooks: the collector (first hook) must be up before the server starts, this one needs the server
  beforeAll(async () => {
    expect(server.app.tracing !== null).toBe(tracing === "on");
    roomId = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Trips", type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id],
      })
    ).createRoom.id;
    // the push fan-out of each message (push/notifier.ts) runs in the push worker after the answer: not the send's
    server.app.db.$on("query", (e) => !e.query.includes(PUSH_SQL_MARK) && recording?.prisma.push(e.query));
    server.app.writes.onQuery((sql) => recording?.writes.push(sql));
    const socket = ((server.app.pubsub as RedisPubSub).getPublisher() as Redis).stream;
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((...args: unknown[]) => {
      if (recording) recording.redisWrites++;
      return write(...args);
    }) as typeof socket.write;
  }, 60_000);

  const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id seq content } }`;

  /** What the server does for one send of `content` by alice. */
  async function record(content: string): Promise<NonNullable<typeof recording>> {
    const counted = (recording = { prisma: [], writes: [], redisWrites: 0 });
    try {
      await api.ok(alice, SEND, { i: { roomId, content } });
      await new Promise((r) => setTimeout(r, 50)); // the publishes are written on the next tick after the answer at the latest
      return counted;
    } finally {
      recording = null;
    }
  }

  it("a plain send is one statement on the write pool, none on Prisma's, and one write to Redis", async () => {
    await api.ok(alice, SEND, { i: { roomId, content: "warm-up: the token is checked and cached" } });
    for (let i = 0; i < 3; i++) {
      const counted = await record(`plain ${i}`);
      expect(counted, JSON.stringify(counted)).toMatchObject({ prisma: [], redisWrites: 1 });
      expect(counted.writes).toHaveLength(1);
      expect(counted.writes[0]).toContain("chat_send_message");
    }
  });

  it("a send with a mention runs in a transaction on Prisma's pool, and still writes its publishes to Redis at once", async () => {
    const counted = await record(`hello @${bob.username}`);
    expect(counted.writes).toEqual([]);
    expect(counted.prisma.some((sql) => sql.includes("chat_send_message"))).toBe(true);
    // roomEvents, messageAdded and bob's MentionNotification
    expect(counted.redisWrites).toBe(1);
  });
});
