import { randomBytes, randomUUID } from "node:crypto";
import type { Client } from "graphql-ws";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE_TRY_AGAIN_LATER } from "../../src/limits/socket-guard.js";
import { type GqlResponse, gql, gqlOk, registerUsers, type TestUser, wsClient } from "../helpers/client.js";
import { type DedicatedPostgres, startDedicatedPostgres } from "../helpers/dedicated-postgres.js";
import { type NodeProcess, startNode } from "../helpers/node-process.js";

/** One answered mutation of a writer loop. */
interface Write {
  response: GqlResponse;
  startedAt: number;
  /** The write's own key: the clientMessageId of a send, the message id of a reaction or receipt. */
  key: string;
}

/**
 * Fault: the PostgreSQL a node uses is stopped (pg_ctl stop: its connections
 * are terminated, in the middle of transactions) while three writers keep
 * sending messages, adding reactions and marking messages read, then started
 * again on the same data and port.
 *
 * Promise: while it is down, each mutation answers SERVICE_UNAVAILABLE
 * ("Database unavailable; retry later"), never an unexpected error, and a
 * WebSocket's connection_init closes with 1013 Try Again Later; the process
 * stays up (/health 200) and /ready answers 503; once PostgreSQL is back the same
 * process serves the mutations again, with no restart. Nothing is half-written:
 * every send that answered OK is stored exactly once, the room's messages have
 * the seqs 1…lastSeq and its event log 1…lastEventSeq (no gap), and each
 * message, reaction and receipt has its event in the log.
 */
describe("PostgreSQL restarted under a node", () => {
  /** Each writer's pause between two writes, in ms. */
  const WRITE_PACE_MS = 20;
  let database: DedicatedPostgres;
  let node: NodeProcess;
  let alice: TestUser, bob: TestUser;
  let roomId: string, firstMessageId: string;

  beforeAll(async () => {
    database = await startDedicatedPostgres();
    // one node, in-process pub/sub; it migrates the empty database when it starts
    node = await startNode({ DATABASE_URL: database.url, REDIS_URL: "", JWT_SECRET: randomBytes(32).toString("hex") });
    [alice, bob] = await registerUsers(node.url, ["alice", "bob"]);
    roomId = (
      await gqlOk(
        node.url,
        `mutation($m: [ID!]) { createRoom(input: { name: "Outage", type: GROUP, memberIds: $m }) { id } }`,
        { m: [bob.id] },
        alice.accessToken,
      )
    ).createRoom.id;
    firstMessageId = (
      await gqlOk(
        node.url,
        `mutation($r: ID!) { sendMessage(input: { roomId: $r, content: "first" }) { id } }`,
        { r: roomId },
        alice.accessToken,
      )
    ).sendMessage.id;
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await database?.remove();
  });

  /** The close code of a graphql-ws connection as alice (not retried). */
  const wsClose = async () => {
    let client!: Client;
    const code = await new Promise<number>((resolve) => {
      client = wsClient(node.wsUrl, alice.accessToken, { on: { closed: (event) => resolve((event as CloseEvent).code) } });
    });
    await Promise.resolve(client.dispose()).catch(() => {}); // closed already: graphql-ws rejects with the close event
    return code;
  };

  const probe = async (path: "/health" | "/ready") => (await fetch(node.url.replace("/graphql", path))).status;

  it("answers SERVICE_UNAVAILABLE while it is down, stays up, recovers by itself, and writes nothing by halves", async () => {
    const sent: string[] = [firstMessageId]; // ids of messages whose send answered OK
    const writes: Record<"send" | "react" | "read", Write[]> = { send: [], react: [], read: [] };
    let writing = true;
    // each writer pauses WRITE_PACE_MS between writes: failures are fast, and a fast machine must not make thousands
    const loop = async (kind: keyof typeof writes, write: () => Promise<Write>) => {
      for (; writing; await new Promise((resolve) => setTimeout(resolve, WRITE_PACE_MS))) writes[kind].push(await write());
    };
    const writers = Promise.all([
      loop("send", async () => {
        const key = randomUUID();
        const startedAt = Date.now();
        const response = await gql(
          node.url,
          `mutation($r: ID!, $k: String!) { sendMessage(input: { roomId: $r, content: $k, clientMessageId: $k }) { id } }`,
          { r: roomId, k: key },
          alice.accessToken,
        );
        if (response.data?.sendMessage) sent.push(response.data.sendMessage.id);
        return { response, startedAt, key };
      }),
      loop("react", async () => {
        const key = sent.at(-1)!;
        const startedAt = Date.now();
        return {
          response: await gql(
            node.url,
            `mutation($m: ID!) { addReaction(messageId: $m, emoji: "👍") { id } }`,
            { m: key },
            bob.accessToken,
          ),
          startedAt,
          key,
        };
      }),
      loop("read", async () => {
        const key = sent.at(-1)!;
        const startedAt = Date.now();
        return {
          response: await gql(
            node.url,
            `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id } }`,
            { r: roomId, m: key },
            bob.accessToken,
          ),
          startedAt,
          key,
        };
      }),
    ]);
    /** Resolves once every writer has `count` more answers satisfying `match`. */
    const each = async (count: number, match: (w: Write) => boolean) => {
      const target = Object.values(writes).map((list) => list.filter(match).length + count);
      while (Object.values(writes).some((list, i) => list.filter(match).length < target[i]!)) {
        expect(writes.send.length).toBeLessThan(2000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const ok = (w: Write) => !w.response.errors;
    try {
      await each(5, ok);
      await database.stop();
      const stoppedAt = Date.now();
      await each(3, (w) => w.startedAt > stoppedAt);
      expect(await probe("/ready")).toBe(503);
      expect(await probe("/health")).toBe(200);
      expect(await wsClose()).toBe(CLOSE_TRY_AGAIN_LATER); // which graphql-ws clients retry

      await database.start();
      let ready = await probe("/ready");
      for (const deadline = Date.now() + 20_000; ready !== 200 && Date.now() < deadline; ready = await probe("/ready")) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ready).toBe(200);
      const readyAt = Date.now();
      await each(3, (w) => w.startedAt > readyAt && ok(w));
    } finally {
      writing = false;
      await writers;
    }
    expect(node.child.exitCode).toBeNull(); // the same process throughout

    for (const list of Object.values(writes)) {
      const failures = list.filter((w) => !ok(w)).map((w) => w.response.errors![0]);
      expect(failures.length).toBeGreaterThan(0);
      for (const error of failures)
        expect(error).toMatchObject({ message: "Database unavailable; retry later", extensions: { code: "SERVICE_UNAVAILABLE" } });
    }

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const rows = async <T>(sql: string) => (await db.query(sql, [roomId])).rows as T[];
      const [room] = await rows<{ lastSeq: number; lastEventSeq: number }>(`SELECT "lastSeq", "lastEventSeq" FROM "Room" WHERE id = $1`);
      const messages = await rows<{ id: string; seq: number; clientMessageId: string | null }>(
        `SELECT id, seq, "clientMessageId" FROM "Message" WHERE "roomId" = $1 ORDER BY seq`,
      );
      const events = await rows<{ seq: number; payload: { kind: string; messageId?: string; userId?: string } }>(
        `SELECT seq, payload FROM "StoredEvent" WHERE "roomId" = $1 ORDER BY seq`,
      );
      const reactions = await rows<{ messageId: string }>(
        `SELECT r."messageId" FROM "Reaction" r JOIN "Message" m ON m.id = r."messageId" WHERE m."roomId" = $1`,
      );
      const [marker] = await rows<{ lastReadSeq: number }>(
        `SELECT "lastReadSeq" FROM "RoomMember" WHERE "roomId" = $1 AND "userId" = '${bob.id}'`,
      );

      // no gap, no half-written message
      expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => i + 1));
      expect(room!.lastSeq).toBe(messages.length);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(room!.lastEventSeq).toBe(events.length);
      // every send that answered OK is stored, once (clientMessageId is unique per sender)
      const storedKeys = messages.map((m) => m.clientMessageId);
      for (const w of writes.send.filter(ok)) expect(storedKeys.filter((k) => k === w.key)).toHaveLength(1);
      // each change with its event: messages, reactions, receipts
      const eventsOf = (kind: string) =>
        events
          .filter((e) => e.payload.kind === kind)
          .map((e) => e.payload.messageId)
          .sort();
      expect(eventsOf("MessageAdded")).toEqual(messages.map((m) => m.id).sort());
      expect(eventsOf("ReactionAdded")).toEqual(reactions.map((r) => r.messageId).sort());
      for (const w of writes.react.filter(ok)) expect(reactions.map((r) => r.messageId)).toContain(w.key);
      const receipts = events
        .filter((e) => e.payload.kind === "ReadReceipt" && e.payload.userId === bob.id)
        .map((e) => messages.find((m) => m.id === e.payload.messageId)!.seq);
      expect(receipts).toEqual([...receipts].sort((x, y) => x - y)); // the marker only moves forward, each move with its receipt
      expect(marker!.lastReadSeq).toBe(receipts.at(-1));
      const lastReadOk = writes.read.filter(ok).at(-1)!;
      expect(marker!.lastReadSeq).toBeGreaterThanOrEqual(messages.find((m) => m.id === lastReadOk.key)!.seq);
    } finally {
      await db.end();
    }
  }, 120_000);
});
