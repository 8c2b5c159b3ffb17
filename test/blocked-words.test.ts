/**
 * Blocked words (chat/room-rules.ts, issue 16): setBlockedWords by a room's OWNER
 * or an ADMIN (a MEMBER is refused; count and length bounded; one word each;
 * stored lower-cased without duplicates; Room.blockedWords only for OWNER and
 * ADMINs). A send or an edit with a blocked word, whole word and in any case, is
 * refused with BAD_USER_INPUT on its content, stores and publishes nothing; a word
 * that merely contains one passes. Over HTTP and graphql-ws.
 */
import { describe, expect, it } from "vitest";
import { ext, type GqlResponse, subscribe, untilReceived } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api: { run, ok },
  users: [owner, admin, member],
  client,
} = useTestServer(["owner", "admin", "member"], { env: { RATE_LIMITS: "off" } });

const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const SET_ROLE = `mutation($r: ID!, $u: ID!) { updateMemberRole(roomId: $r, userId: $u, role: ADMIN) { role } }`;
const BLOCK = `mutation($r: ID!, $w: [String!]!) { setBlockedWords(roomId: $r, words: $w) { id blockedWords } }`;
const WORDS = `query($r: ID!) { room(id: $r) { blockedWords } }`;
const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id content } }`;
const EDIT = `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id content } }`;

/** A GROUP room of `owner` with `admin` as ADMIN and `member`, blocking `words`. */
async function room(words: string[]): Promise<string> {
  const r = (await ok(owner, CREATE, { input: { name: "Words", type: "GROUP", memberIds: [admin.id, member.id] } })).createRoom
    .id as string;
  await ok(owner, SET_ROLE, { r, u: admin.id });
  if (words.length) await ok(owner, BLOCK, { r, w: words });
  return r;
}

const send = (content: string, roomId: string) => run(member, SEND, { i: { roomId, content } });
const refusedOn = (result: GqlResponse, field: string) => {
  expect(result.data ?? null).toBeNull();
  expect(ext(result)).toEqual({ code: "BAD_USER_INPUT", field });
};
const messageCount = (roomId: string) => server.app.db.message.count({ where: { roomId } });

describe("setBlockedWords", () => {
  it("is the OWNER's and ADMINs': stored normalized, sorted, without duplicates; a MEMBER is FORBIDDEN and sees null", async () => {
    const r = await room([]);
    expect((await ok(admin, BLOCK, { r, w: ["Spam", "spam", "  ＥＧＧＳ ", "ham"] })).setBlockedWords.blockedWords).toEqual([
      "eggs",
      "ham",
      "spam",
    ]);
    expect((await ok(owner, WORDS, { r })).room.blockedWords).toEqual(["eggs", "ham", "spam"]);
    expect((await ok(member, WORDS, { r })).room.blockedWords).toBeNull();
    expect(ext(await run(member, BLOCK, { r, w: [] }))?.code).toBe("FORBIDDEN");
    expect((await ok(owner, BLOCK, { r, w: [] })).setBlockedWords.blockedWords).toEqual([]);
  });

  it("refuses more than 200 words (BAD_USER_INPUT on `words`), or a word over 50 characters, empty, or more than one word (on `words.<index>`)", async () => {
    const r = await room([]);
    expect(ext(await run(owner, BLOCK, { r, w: Array.from({ length: 201 }, (_, i) => `w${i}`) }))).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "words",
    });
    for (const bad of ["x".repeat(51), " ", "two words", "dot.ted"]) {
      expect(ext(await run(owner, BLOCK, { r, w: ["fine", bad] })), bad).toMatchObject({ code: "BAD_USER_INPUT", field: "words.1" });
    }
    expect((await ok(owner, BLOCK, { r, w: Array.from({ length: 200 }, (_, i) => `w${i}`) })).setBlockedWords.blockedWords).toHaveLength(
      200,
    );
    expect((await ok(owner, BLOCK, { r, w: ["y".repeat(50), "naïve", "日本"] })).setBlockedWords.blockedWords).toHaveLength(3);
  });
});

describe("blocked words on sendMessage and editMessage", () => {
  it("refuses a send with a blocked word in any case and punctuation, with BAD_USER_INPUT on input.content, storing nothing", async () => {
    const r = await room(["spam", "naïve"]);
    for (const content of ["spam", "Buy SPAM now", "spam!", "(Spam)", "eggs,spam", "so NAÏVE"])
      refusedOn(await send(content, r), "input.content");
    expect(await messageCount(r)).toBe(0);
  });

  it("matches whole words only: a word that contains a blocked one passes", async () => {
    const r = await room(["ass", "spam"]);
    for (const content of ["a class act", "spammer", "assess", "s p a m"]) expect((await send(content, r)).errors, content).toBeUndefined();
    expect(await messageCount(r)).toBe(4);
  });

  it("applies to the OWNER and ADMINs too, and to sends with a mention (the transaction path)", async () => {
    const r = await room(["spam"]);
    refusedOn(await run(owner, SEND, { i: { roomId: r, content: "spam" } }), "input.content");
    refusedOn(await run(admin, SEND, { i: { roomId: r, content: `spam @${member.username}` } }), "input.content");
    expect(await messageCount(r)).toBe(0);
    expect(await server.app.db.notification.count({ where: { userId: member.id } })).toBe(0);
  });

  it("refuses an edit to content with a blocked word, with BAD_USER_INPUT on content, keeping the message as it was", async () => {
    const r = await room([]);
    const { id } = (await ok(member, SEND, { i: { roomId: r, content: "fine words" } })).sendMessage;
    await ok(owner, BLOCK, { r, w: ["spam"] });
    refusedOn(await run(member, EDIT, { id, c: "now SPAM" }), "content");
    const stored = await server.app.db.message.findUniqueOrThrow({ where: { id }, include: { edits: true } });
    expect({ content: stored.content, editedAt: stored.editedAt, edits: stored.edits }).toEqual({
      content: "fine words",
      editedAt: null,
      edits: [],
    });
    expect((await ok(member, EDIT, { id, c: "spammy but fine" })).editMessage.content).toBe("spammy but fine");
  });

  it("over graphql-ws: the refusal names input.content, and subscribers get only the allowed messages", async () => {
    const r = await room(["spam"]);
    const watcher = subscribe(client(owner), `subscription($r: ID!) { messageAdded(roomId: $r) { content } }`, { r });
    await untilReceived(watcher, () => ok(owner, SEND, { i: { roomId: r, content: "ping" } }));
    const ws = client(member);
    refusedOn(await subscribe(ws, SEND, { i: { roomId: r, content: "spam over ws" } }).next(), "input.content");
    expect((await subscribe(ws, SEND, { i: { roomId: r, content: "fine over ws" } }).next()).data?.sendMessage.content).toBe(
      "fine over ws",
    );
    expect((await watcher.nextWhere((e) => e.data?.messageAdded.content !== "ping")).data?.messageAdded.content).toBe("fine over ws");
  });

  it("keeps a plain send one statement on the write pool with blocked words set, refused or stored", async () => {
    const r = await room(["spam"]);
    await ok(member, SEND, { i: { roomId: r, content: "warm-up" } });
    let statements: string[] | null = [];
    server.app.writes.onQuery((sql) => statements?.push(sql));
    await ok(member, SEND, { i: { roomId: r, content: "stored" } });
    refusedOn(await send("spam", r), "input.content");
    const counted = statements;
    statements = null;
    expect(counted).toHaveLength(2);
  });
});
