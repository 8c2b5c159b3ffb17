/**
 * Encryption at rest (security/message-encryption.ts, chat/reencryption.ts,
 * issue 16): with MESSAGE_ENCRYPTION_KEYS, message content and edits are stored
 * AES-256-GCM sealed with their key id, and every read opens them (messages,
 * edits, replies, room lists, notifications, subscriptions over graphql-ws); no
 * table holds the text (read with pg), nor does anything published on Redis. A
 * sealed content moved onto another message does not open. Rotation: a new key
 * first makes it current, and the re-encryption job moves older (and plaintext)
 * rows to it in bounded batches.
 * Search: MESSAGE_SEARCH=off refuses searchMessages and keeps no lexemes (the job
 * drops leftovers); MESSAGE_SEARCH=on keeps the GIN-indexed MessageSearch lexemes
 * (plaintext words, the documented trade-off) and finds sealed messages.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { Reencryption } from "../src/chat/reencryption.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { MessageEncryption } from "../src/security/message-encryption.js";
import { ext, subscribe, type TestUser, untilReceived } from "./helpers/client.js";
import { REDIS_URL } from "./helpers/env.js";
import { type TestServer, useTestServer } from "./helpers/server.js";

const key = () => randomBytes(32).toString("base64");
const K1 = key();
const K2 = key();

const CREATE = `mutation($m: [ID!]) { createRoom(input: { name: "Vault", type: GROUP, memberIds: $m }) { id } }`;
const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id content } }`;
const EDIT = `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id content edits { content } } }`;
const HISTORY = `query($r: ID!) { messages(roomId: $r, first: 50) { edges { node { id content edits { content } replyTo { content } } } } }`;
const SEARCH = `query($q: String!) { searchMessages(query: $q) { edges { node { snippet message { id content } } } } }`;

/** Every row of every table of the server's database, as text (to look for plaintext at rest). */
async function everyRow(server: TestServer): Promise<string[]> {
  const client = new pg.Client({ connectionString: server.app.config.DATABASE_URL });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    const rows: string[] = [];
    for (const { table_name } of tables.rows)
      rows.push(
        ...(await client.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`)).rows.map((r) => `${table_name}: ${r.row}`),
      );
    return rows;
  } finally {
    await client.end();
  }
}

/** A room of `owner` with `members`; resolves its id. */
const room = async (ok: (u: TestUser, q: string, v?: Record<string, unknown>) => Promise<any>, owner: TestUser, members: TestUser[]) =>
  (await ok(owner, CREATE, { m: members.map((m) => m.id) })).createRoom.id as string;

describe("encryption at rest, search off", () => {
  const {
    server,
    api: { run, ok },
    users: [alice, bob],
    client,
  } = useTestServer(["alice", "bob"], {
    redis: true,
    env: { MESSAGE_ENCRYPTION_KEYS: `k1:${K1}`, MESSAGE_SEARCH: "off", RATE_LIMITS: "off" },
  });

  it("stores content and edits sealed under k1, nothing plaintext in any table or on the Redis bus, and opens them on every read, over HTTP and graphql-ws", async () => {
    // everything published on the bus (other tests' traffic too: only these words are looked for)
    const sniffer = new Redis(REDIS_URL);
    const published: string[] = [];
    sniffer.on("pmessage", (_pattern, _channel, message: string) => published.push(message));
    await sniffer.psubscribe("*");
    const r = await room(ok, alice, [bob]);
    const ws = client(bob);
    const added = subscribe(ws, `subscription($r: ID!) { messageAdded(roomId: $r) { content replyTo { content } } }`, { r });
    const events = subscribe(
      ws,
      `subscription($r: ID!) { roomEvents(roomId: $r) { __typename ... on MessageEdited { message { content edits { content } } } } }`,
      { r },
    );
    await untilReceived(added, () => ok(alice, SEND, { i: { roomId: r, content: "warm-up" } }));

    const first = (await ok(alice, SEND, { i: { roomId: r, content: `quokka alpha for @${bob.username}` } })).sendMessage;
    expect(first.content).toBe(`quokka alpha for @${bob.username}`);
    const reply = (await ok(bob, SEND, { i: { roomId: r, content: "wombat bravo", replyToId: first.id } })).sendMessage;
    expect((await ok(alice, EDIT, { id: first.id, c: "quokka charlie" })).editMessage).toEqual({
      id: first.id,
      content: "quokka charlie",
      edits: [{ content: `quokka alpha for @${bob.username}` }],
    });

    // subscriptions get the texts (the bus carries them sealed)
    const live = (await added.nextWhere((e) => e.data?.messageAdded.content !== "warm-up")).data!.messageAdded;
    expect(live).toEqual({ content: `quokka alpha for @${bob.username}`, replyTo: null });
    expect((await added.nextWhere((e) => e.data?.messageAdded.content !== "warm-up")).data!.messageAdded).toEqual({
      content: "wombat bravo",
      replyTo: { content: `quokka alpha for @${bob.username}` },
    });
    const edited = await events.nextWhere((e) => e.data?.roomEvents.__typename === "MessageEdited");
    expect(edited.data!.roomEvents.message).toEqual({
      content: "quokka charlie",
      edits: [{ content: `quokka alpha for @${bob.username}` }],
    });

    // every read over HTTP: history, edits, replies' previews, room list, notifications, the data export
    const history = (await ok(bob, HISTORY, { r })).messages.edges.map((e: { node: unknown }) => e.node);
    expect(history.slice(0, 2)).toEqual([
      { id: reply.id, content: "wombat bravo", edits: [], replyTo: { content: "quokka charlie" } },
      { id: first.id, content: "quokka charlie", edits: [{ content: `quokka alpha for @${bob.username}` }], replyTo: null },
    ]);
    const rooms = await ok(bob, `query { myRooms(first: 5) { edges { node { lastMessage { content } } } } }`);
    expect(rooms.myRooms.edges[0].node.lastMessage.content).toBe("wombat bravo");
    const notifications = await ok(bob, `query { notifications(first: 5) { edges { node { message { content } } } } }`);
    expect(notifications.notifications.edges[0].node.message.content).toBe("quokka charlie");

    const exported = (await ok(alice, `query { exportMyData }`)).exportMyData;
    expect(exported.messages.find((m: { id: string }) => m.id === first.id)).toMatchObject({
      content: "quokka charlie",
      edits: [{ content: `quokka alpha for @${bob.username}` }],
    });

    // at rest: sealed under k1, and no table holds any of the words
    const raw = await server.app.db.$queryRaw<{ content: string; contentKeyId: string | null }[]>`
      SELECT content, "contentKeyId" FROM "Message" WHERE "roomId" = ${r}::uuid UNION ALL
      SELECT e.content, e."contentKeyId" FROM "MessageEdit" e JOIN "Message" m ON m.id = e."messageId" WHERE m."roomId" = ${r}::uuid`;
    expect(raw.length).toBeGreaterThanOrEqual(4); // the two messages, the edit, and the warm-up(s)
    for (const row of raw) {
      expect(row.contentKeyId).toBe("k1");
      expect(Buffer.from(row.content, "base64").length).toBeGreaterThan(12 + 16);
    }
    const leaks = (await everyRow(server)).filter((row) => /quokka|wombat|alpha|bravo|charlie|warm-up/.test(row));
    expect(leaks).toEqual([]);
    await sniffer.quit();
    expect(published.some((m) => m.includes(reply.id))).toBe(true); // the sniffer saw the sends' publishes
    expect(published.filter((m) => /quokka|wombat|alpha|bravo|charlie/.test(m))).toEqual([]);
    expect(await server.app.db.messageSearch.count()).toBe(0);
  });

  it("gives back any text as sent: emoji, combining marks, RTL overrides, 5,000 characters", async () => {
    const r = await room(ok, alice, []);
    for (const content of ["🦘🇦🇺 naïve cafe\u0301", "\u202Eevil\u202C \u200D", "é".repeat(5000)]) {
      const { id } = (await ok(alice, SEND, { i: { roomId: r, content } })).sendMessage;
      expect(
        (await ok(alice, `query($r: ID!) { messages(roomId: $r, first: 1) { edges { node { id content } } } }`, { r })).messages.edges[0]
          .node,
      ).toEqual({ id, content });
    }
  });

  it("refuses searchMessages with FORBIDDEN saying search is off", async () => {
    const result = await run(alice, SEARCH, { q: "quokka" });
    expect(ext(result)?.code).toBe("FORBIDDEN");
    expect(result.errors![0]!.message).toMatch(/search is turned off/);
  });

  it("does not open a sealed content moved onto another message (the message id is authenticated)", async () => {
    const r = await room(ok, alice, [bob]);
    const a = (await ok(alice, SEND, { i: { roomId: r, content: "numbat one" } })).sendMessage.id;
    const b = (await ok(alice, SEND, { i: { roomId: r, content: "numbat two" } })).sendMessage.id;
    await server.app.db
      .$executeRaw`UPDATE "Message" SET content = (SELECT content FROM "Message" WHERE id = ${a}::uuid) WHERE id = ${b}::uuid`;
    const result = await run(alice, `query($r: ID!) { messages(roomId: $r, first: 2) { edges { node { id content } } } }`, { r });
    expect(result.errors?.[0]?.message).toBe("Unexpected error.");
    expect(JSON.stringify(result)).not.toContain("numbat one");
  });

  it("re-encryption drops lexemes left from when search was on", async () => {
    const r = await room(ok, alice, []);
    const id = (await ok(alice, SEND, { i: { roomId: r, content: "left over" } })).sendMessage.id;
    await server.app.db
      .$executeRaw`INSERT INTO "MessageSearch" ("messageId", vector) VALUES (${id}::uuid, to_tsvector('simple', 'left over'))`;
    expect(await server.app.reencryption.runUntilDone()).toBe(1);
    expect(await server.app.db.messageSearch.count()).toBe(0);
  });
});

describe("key rotation", () => {
  // k2 is current; k1 still opens what it sealed
  const {
    server,
    api: { ok },
    users: [alice],
  } = useTestServer(["alice"], { env: { MESSAGE_ENCRYPTION_KEYS: `k2:${K2},k1:${K1}`, MESSAGE_SEARCH: "off", RATE_LIMITS: "off" } });

  it("re-encrypts rows under k1 and plaintext rows to k2 in batches; every text reads the same before and after", async () => {
    const r = await room(ok, alice, []);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await ok(alice, SEND, { i: { roomId: r, content: `echidna ${i}` } })).sendMessage.id);
    await ok(alice, EDIT, { id: ids[0], c: "echidna 0, edited" });
    // as if written before the rotation: four messages and the edit under k1, one message before encryption was on
    const old = new MessageEncryption([{ id: "k1", key: Buffer.from(K1, "base64") }]);
    for (const [i, id] of ids.entries()) {
      const text = i === 0 ? "echidna 0, edited" : `echidna ${i}`;
      const stored = i === 4 ? { content: text, contentKeyId: null } : old.seal(id, text);
      await server.app.db.message.update({ where: { id }, data: stored });
    }
    await server.app.db.messageEdit.updateMany({ where: { messageId: ids[0] }, data: old.seal(ids[0]!, "echidna 0") });
    const before = (await ok(alice, HISTORY, { r })).messages;
    expect(before.edges.map((e: { node: { content: string } }) => e.node.content)).toEqual([
      "echidna 4",
      "echidna 3",
      "echidna 2",
      "echidna 1",
      "echidna 0, edited",
    ]);

    const keys = async () =>
      (
        await server.app.db.$queryRaw<{ key: string | null }[]>`
        SELECT "contentKeyId" AS key FROM "Message" WHERE "roomId" = ${r}::uuid UNION ALL
        SELECT e."contentKeyId" FROM "MessageEdit" e JOIN "Message" m ON m.id = e."messageId" WHERE m."roomId" = ${r}::uuid`
      ).map((k) => k.key ?? "none");
    const job = new Reencryption(server.app.db, server.app.admission, server.app.encryption, false, 2, 3_600_000, (err) => {
      throw err;
    });
    try {
      // a batch takes at most 2 messages and 2 edits
      expect(await job.runBatch()).toBe(3);
      expect((await keys()).filter((k) => k === "k2")).toHaveLength(3);
      expect(await job.runUntilDone()).toBe(3);
      expect(await job.runBatch()).toBe(0);
    } finally {
      await job.close();
    }
    expect(await keys()).toEqual(["k2", "k2", "k2", "k2", "k2", "k2"]);
    expect((await ok(alice, HISTORY, { r })).messages).toEqual(before);
    expect((await everyRow(server)).filter((row) => row.includes("echidna"))).toEqual([]);
  });
});

describe("encryption at rest, search on", () => {
  const {
    server,
    api: { ok },
    users: [alice],
  } = useTestServer(["alice"], { env: { MESSAGE_ENCRYPTION_KEYS: `k1:${K1}`, MESSAGE_SEARCH: "on", RATE_LIMITS: "off" } });

  it("keeps the GIN-indexed lexemes in MessageSearch, finds sealed messages with snippets, and follows edits and deletes", async () => {
    const indexes = await server.app.db.$queryRaw<
      { indexdef: string }[]
    >`SELECT indexdef FROM pg_indexes WHERE tablename = 'MessageSearch' AND indexname = 'MessageSearch_vector_idx'`;
    expect(indexes[0]?.indexdef).toMatch(/USING gin \(vector\)/);

    const r = await room(ok, alice, []);
    const { id } = (await ok(alice, SEND, { i: { roomId: r, content: "zebra <crossing> & more" } })).sendMessage;
    expect((await ok(alice, SEARCH, { q: "zebra" })).searchMessages.edges).toEqual([
      { node: { snippet: "<mark>zebra</mark> &#60;crossing&#62; &#38; more", message: { id, content: "zebra <crossing> & more" } } },
    ]);
    // the trade-off: the content is sealed, its words are not
    const raw = await server.app.db.message.findUniqueOrThrow({ where: { id } });
    expect(raw.contentKeyId).toBe("k1");
    expect(raw.content).not.toContain("zebra");
    const [lexemes] = await server.app.db.$queryRaw<
      { vector: string }[]
    >`SELECT vector::text FROM "MessageSearch" WHERE "messageId" = ${id}::uuid`;
    expect(lexemes!.vector).toContain("'zebra'");

    await ok(alice, EDIT, { id, c: "giraffe now" });
    expect((await ok(alice, SEARCH, { q: "zebra" })).searchMessages.edges).toEqual([]);
    expect((await ok(alice, SEARCH, { q: "giraffe" })).searchMessages.edges).toHaveLength(1);
    await ok(alice, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id });
    expect(await server.app.db.messageSearch.count({ where: { messageId: id } })).toBe(0);
  });

  it("keeps a plain send one statement on the write pool, sealing and indexing included", async () => {
    const r = await room(ok, alice, []);
    await ok(alice, SEND, { i: { roomId: r, content: "warm-up" } });
    let statements: string[] | null = [];
    server.app.writes.onQuery((sql) => statements?.push(sql));
    const sent = (await ok(alice, SEND, { i: { roomId: r, content: "okapi" } })).sendMessage;
    const counted = statements;
    statements = null;
    expect(sent.content).toBe("okapi");
    expect(counted).toHaveLength(1);
    expect(await server.app.db.messageSearch.count({ where: { messageId: sent.id } })).toBe(1);
  });
});

describe("MESSAGE_ENCRYPTION_KEYS", () => {
  const env = (keys: string) => ({ NODE_ENV: "test", JWT_SECRET: "x".repeat(32), MESSAGE_ENCRYPTION_KEYS: keys });

  it("is off by default, and takes keys current first", () => {
    expect(loadConfig({ NODE_ENV: "test", JWT_SECRET: "x".repeat(32) }).MESSAGE_ENCRYPTION_KEYS).toBeUndefined();
    expect(loadConfig(env(`k2:${K2}, k1:${K1}`)).MESSAGE_ENCRYPTION_KEYS!.map((k) => k.id)).toEqual(["k2", "k1"]);
  });

  it("refuses a key that is not 32 bytes of base64, a bad or repeated id", () => {
    for (const bad of [`k1:${randomBytes(16).toString("base64")}`, "k1:not base64!", `bad id:${K1}`, `k1:${K1},k1:${K2}`, `:${K1}`]) {
      expect(() => loadConfig(env(bad)), bad).toThrow(ConfigError);
    }
  });
});
