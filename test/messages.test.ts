import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, gql, gqlOk, registerUsers, type TestUser } from "./helpers/client.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let alice: TestUser, bob: TestUser, mallory: TestUser;
let roomId: string;
beforeAll(async () => {
  // it sends far more than a user's 60 messages a minute (rate-limits.test.ts tests that limit)
  server = await startTestServer({ env: { RATE_LIMIT_SEND_MESSAGE: "1000/60" } });
  [alice, bob, mallory] = await registerUsers(server.url, ["alice", "bob", "mallory"]);
  roomId = (await gqlOk(server.url, `mutation($m: [ID!]) { createRoom(input: { name: "Chat", type: GROUP, memberIds: $m }) { id } }`, { m: [bob.id] }, alice.accessToken)).createRoom.id;
});
afterAll(() => server.close());

const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id seq content createdAt clientMessageId sender { id } room { id } replyTo { id content } } }`;
const send = (user: TestUser, input: Record<string, unknown>) => gql(server.url, SEND, { input: { roomId, ...input } }, user.accessToken);
const HISTORY = `query($roomId: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  messages(roomId: $roomId, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { seq content } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;

describe("sendMessage", () => {
  it("stores the message with the next seq and returns it", async () => {
    const { sendMessage } = await gqlOk(server.url, SEND, { input: { roomId, content: "  hello  " } }, alice.accessToken);
    expect(sendMessage).toMatchObject({ content: "hello", sender: { id: alice.id }, room: { id: roomId }, replyTo: null });
    expect(sendMessage.seq).toBeGreaterThan(0);
  });

  it("replies to a message of the same room only", async () => {
    const original = (await gqlOk(server.url, SEND, { input: { roomId, content: "question?" } }, alice.accessToken)).sendMessage;
    const reply = (await gqlOk(server.url, SEND, { input: { roomId, content: "answer", replyToId: original.id } }, bob.accessToken)).sendMessage;
    expect(reply.replyTo).toEqual({ id: original.id, content: "question?" });
    const elsewhere = (await gqlOk(server.url, `mutation { createRoom(input: { name: "Other", type: GROUP }) { id } }`, {}, alice.accessToken)).createRoom.id;
    const bad = await gql(server.url, SEND, { input: { roomId: elsewhere, content: "x", replyToId: original.id } }, alice.accessToken);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.replyToId" });
  });

  it("returns the same message for a retried clientMessageId, even concurrently", async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => send(alice, { content: "once", clientMessageId: "c-123" })));
    const ids = new Set(results.map((r) => r.data?.sendMessage.id));
    expect(ids.size).toBe(1);
    expect(results[0]!.data?.sendMessage.clientMessageId).toBe("c-123");
    expect(await server.app.db.message.count({ where: { clientMessageId: "c-123" } })).toBe(1);
  });

  it("returns one message for a clientMessageId sent to two rooms at once (the loser meets the unique key, not the room lock)", async () => {
    const other = (await gqlOk(server.url, `mutation($m: [ID!]) { createRoom(input: { name: "Twin", type: GROUP, memberIds: $m }) { id } }`, { m: [bob.id] }, alice.accessToken)).createRoom.id;
    for (let i = 0; i < 5; i++) {
      const key = `twin-${i}`;
      const results = await Promise.all([roomId, other, roomId, other].map((r) => gql(server.url, SEND, { input: { roomId: r, content: "twice", clientMessageId: key } }, alice.accessToken)));
      expect(results.map((r) => r.errors)).toEqual([undefined, undefined, undefined, undefined]);
      expect(new Set(results.map((r) => r.data?.sendMessage.id)).size).toBe(1);
      expect(await server.app.db.message.count({ where: { clientMessageId: key } })).toBe(1);
    }
  });

  it.each([
    ["empty", ""],
    ["blank", "   \n "],
    ["5,001 characters", "x".repeat(5001)],
  ])("refuses %s content with BAD_USER_INPUT on input.content, storing nothing", async (_label, content) => {
    const before = await server.app.db.message.count();
    const result = await send(alice, { content });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.content" });
    expect(await server.app.db.message.count()).toBe(before);
  });

  it("accepts exactly 5,000 characters", async () => {
    expect((await send(alice, { content: "y".repeat(5000) })).data?.sendMessage.content).toHaveLength(5000);
  });
});

describe("history", () => {
  it("pages back newest first with first/after, and forward with last/before", async () => {
    const room = (await gqlOk(server.url, `mutation { createRoom(input: { name: "History", type: GROUP }) { id } }`, {}, alice.accessToken)).createRoom.id;
    for (let i = 1; i <= 7; i++) await gqlOk(server.url, SEND, { input: { roomId: room, content: `m${i}` } }, alice.accessToken);
    const page = (vars: Record<string, unknown>) => gqlOk(server.url, HISTORY, { roomId: room, ...vars }, alice.accessToken).then((d) => d.messages);

    const p1 = await page({ first: 3 });
    expect(p1.edges.map((e: any) => e.node.content)).toEqual(["m7", "m6", "m5"]);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = await page({ first: 3, after: p1.pageInfo.endCursor });
    expect(p2.edges.map((e: any) => e.node.content)).toEqual(["m4", "m3", "m2"]);
    const p3 = await page({ first: 3, after: p2.pageInfo.endCursor });
    expect(p3.edges.map((e: any) => e.node.content)).toEqual(["m1"]);
    expect(p3.pageInfo.hasNextPage).toBe(false);
    const newer = await page({ last: 2, before: p2.pageInfo.startCursor });
    expect(newer.edges.map((e: any) => e.node.content)).toEqual(["m6", "m5"]);
    expect(p1.edges.map((e: any) => e.node.seq)).toEqual([7, 6, 5]);
  });

  it("caps a page at 100 messages", async () => {
    const room = (await gqlOk(server.url, `mutation { createRoom(input: { name: "Busy", type: GROUP }) { id } }`, {}, alice.accessToken)).createRoom.id;
    for (let i = 0; i < 101; i++) await gqlOk(server.url, SEND, { input: { roomId: room, content: `n${i}` } }, alice.accessToken);
    const page = (await gqlOk(server.url, HISTORY, { roomId: room, first: 1000 }, alice.accessToken)).messages;
    expect(page.edges).toHaveLength(100);
    expect(page.pageInfo.hasNextPage).toBe(true);
  });
});

describe("reactions", () => {
  const REACT = (op: "addReaction" | "removeReaction") =>
    `mutation($id: ID!, $e: String!) { ${op}(messageId: $id, emoji: $e) { id reactions { emoji count viewerHasReacted users { id } } } }`;

  it("groups reactions by emoji with counts, users and the viewer's own", async () => {
    const msg = (await gqlOk(server.url, SEND, { input: { roomId, content: "react to me" } }, alice.accessToken)).sendMessage;
    await gqlOk(server.url, REACT("addReaction"), { id: msg.id, e: "👍" }, alice.accessToken);
    await gqlOk(server.url, REACT("addReaction"), { id: msg.id, e: "👍" }, alice.accessToken);
    await gqlOk(server.url, REACT("addReaction"), { id: msg.id, e: "❤️" }, bob.accessToken);
    const both = (await gqlOk(server.url, REACT("addReaction"), { id: msg.id, e: "👍🏽" }, bob.accessToken)).addReaction;
    expect(both.reactions).toEqual([
      { emoji: "👍", count: 1, viewerHasReacted: false, users: [{ id: alice.id }] },
      { emoji: "❤️", count: 1, viewerHasReacted: true, users: [{ id: bob.id }] },
      { emoji: "👍🏽", count: 1, viewerHasReacted: true, users: [{ id: bob.id }] },
    ]);
    const removed = (await gqlOk(server.url, REACT("removeReaction"), { id: msg.id, e: "❤️" }, bob.accessToken)).removeReaction;
    expect(removed.reactions.map((r: any) => r.emoji)).toEqual(["👍", "👍🏽"]);
  });

  it("refuses a non-emoji with BAD_USER_INPUT on emoji", async () => {
    const msg = (await gqlOk(server.url, SEND, { input: { roomId, content: "x" } }, alice.accessToken)).sendMessage;
    for (const e of ["a", "👍👍", "", "<script>"]) {
      expect((await gql(server.url, REACT("addReaction"), { id: msg.id, e }, alice.accessToken)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "emoji" });
    }
  });
});

describe("unreadCount", () => {
  it("counts messages after the member's read marker; sending moves the marker", async () => {
    const room = (await gqlOk(server.url, `mutation($m: [ID!]) { createRoom(input: { name: "Unread", type: GROUP, memberIds: $m }) { id } }`, { m: [bob.id] }, alice.accessToken)).createRoom.id;
    for (const c of ["a", "b", "c"]) await gqlOk(server.url, SEND, { input: { roomId: room, content: c } }, alice.accessToken);
    const UNREAD = `query($id: ID!) { room(id: $id) { unreadCount lastMessage { content } } }`;
    expect((await gqlOk(server.url, UNREAD, { id: room }, bob.accessToken)).room).toEqual({ unreadCount: 3, lastMessage: { content: "c" } });
    expect((await gqlOk(server.url, UNREAD, { id: room }, alice.accessToken)).room.unreadCount).toBe(0);
    await gqlOk(server.url, SEND, { input: { roomId: room, content: "d" } }, bob.accessToken);
    expect((await gqlOk(server.url, UNREAD, { id: room }, bob.accessToken)).room.unreadCount).toBe(0);
    expect((await gqlOk(server.url, UNREAD, { id: room }, alice.accessToken)).room.unreadCount).toBe(1);
  });
});

describe("non-members", () => {
  it("are refused on the history query and on every room-scoped mutation, with nothing written", async () => {
    const msg = (await gqlOk(server.url, SEND, { input: { roomId, content: "private" } }, alice.accessToken)).sendMessage;
    const before = await Promise.all([server.app.db.message.count(), server.app.db.reaction.count()]);
    const attempts = [
      gql(server.url, HISTORY, { roomId, first: 10 }, mallory.accessToken),
      gql(server.url, SEND, { input: { roomId, content: "let me in" } }, mallory.accessToken),
      gql(server.url, `mutation($id: ID!) { addReaction(messageId: $id, emoji: "👍") { id } }`, { id: msg.id }, mallory.accessToken),
      gql(server.url, `mutation($id: ID!) { removeReaction(messageId: $id, emoji: "👍") { id } }`, { id: msg.id }, mallory.accessToken),
      gql(server.url, `mutation($id: ID!) { setTyping(roomId: $id, isTyping: true) }`, { id: roomId }, mallory.accessToken),
      gql(server.url, `mutation($id: ID!) { leaveRoom(roomId: $id) }`, { id: roomId }, mallory.accessToken),
      gql(server.url, `mutation($r: ID!, $u: ID!) { addRoomMember(roomId: $r, userId: $u) { role } }`, { r: roomId, u: mallory.id }, mallory.accessToken),
    ];
    for (const result of await Promise.all(attempts)) {
      // a GROUP room's existence does not leak to outsiders
      expect(errorCode(result)).toBe("NOT_FOUND");
      expect(result.data?.messages ?? result.data?.sendMessage ?? null).toBeNull();
    }
    expect(await Promise.all([server.app.db.message.count(), server.app.db.reaction.count()])).toEqual(before);
  });

  it("get FORBIDDEN in a PUBLIC room they have not joined", async () => {
    const pub = (await gqlOk(server.url, `mutation { createRoom(input: { name: "Open", type: PUBLIC }) { id } }`, {}, alice.accessToken)).createRoom.id;
    expect(errorCode(await gql(server.url, HISTORY, { roomId: pub, first: 5 }, mallory.accessToken))).toBe("FORBIDDEN");
    expect(errorCode(await gql(server.url, SEND, { input: { roomId: pub, content: "hi" } }, mallory.accessToken))).toBe("FORBIDDEN");
  });

  it("without a token get UNAUTHENTICATED", async () => {
    expect(errorCode(await gql(server.url, HISTORY, { roomId, first: 5 }))).toBe("UNAUTHENTICATED");
    expect(errorCode(await gql(server.url, SEND, { input: { roomId, content: "anon" } }))).toBe("UNAUTHENTICATED");
  });
});
