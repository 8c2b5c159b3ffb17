import { beforeAll, describe, expect, it } from "vitest";
import { errorCode, gql, type TestUser } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

// it sends far more than a user's 60 messages a minute (rate-limits.test.ts tests that limit)
const {
  server,
  api,
  users: [alice, bob, mallory],
} = useTestServer(["alice", "bob", "mallory"], { env: { RATE_LIMIT_SEND_MESSAGE: "1000/60" } });
let roomId: string;
beforeAll(async () => {
  roomId = (
    await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Chat", type: GROUP, memberIds: $m }) { id } }`, { m: [bob.id] })
  ).createRoom.id;
});

const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id seq content createdAt clientMessageId sender { id } room { id } replyTo { id content } } }`;
const send = (user: TestUser, input: Record<string, unknown>) => api.run(user, SEND, { input: { roomId, ...input } });
const HISTORY = `query($roomId: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  messages(roomId: $roomId, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { seq content } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;

describe("sendMessage", () => {
  it("stores the message with the next seq and returns it", async () => {
    const { sendMessage } = await api.ok(alice, SEND, { input: { roomId, content: "  hello  " } });
    expect(sendMessage).toMatchObject({ content: "hello", sender: { id: alice.id }, room: { id: roomId }, replyTo: null });
    expect(sendMessage.seq).toBeGreaterThan(0);
  });

  it("replies to a message of the same room only", async () => {
    const original = (await api.ok(alice, SEND, { input: { roomId, content: "question?" } })).sendMessage;
    const reply = (await api.ok(bob, SEND, { input: { roomId, content: "answer", replyToId: original.id } })).sendMessage;
    expect(reply.replyTo).toEqual({ id: original.id, content: "question?" });
    const elsewhere = (await api.ok(alice, `mutation { createRoom(input: { name: "Other", type: GROUP }) { id } }`, {})).createRoom.id;
    const bad = await api.run(alice, SEND, { input: { roomId: elsewhere, content: "x", replyToId: original.id } });
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
    const other = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Twin", type: GROUP, memberIds: $m }) { id } }`, { m: [bob.id] })
    ).createRoom.id;
    for (let i = 0; i < 5; i++) {
      const key = `twin-${i}`;
      const results = await Promise.all(
        [roomId, other, roomId, other].map((r) => api.run(alice, SEND, { input: { roomId: r, content: "twice", clientMessageId: key } })),
      );
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
    const room = (await api.ok(alice, `mutation { createRoom(input: { name: "History", type: GROUP }) { id } }`, {})).createRoom.id;
    for (let i = 1; i <= 7; i++) await api.ok(alice, SEND, { input: { roomId: room, content: `m${i}` } });
    const page = (vars: Record<string, unknown>) => api.ok(alice, HISTORY, { roomId: room, ...vars }).then((d) => d.messages);

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
    const room = (await api.ok(alice, `mutation { createRoom(input: { name: "Busy", type: GROUP }) { id } }`, {})).createRoom.id;
    for (let i = 0; i < 101; i++) await api.ok(alice, SEND, { input: { roomId: room, content: `n${i}` } });
    const page = (await api.ok(alice, HISTORY, { roomId: room, first: 1000 })).messages;
    expect(page.edges).toHaveLength(100);
    expect(page.pageInfo.hasNextPage).toBe(true);
  });
});

describe("reactions", () => {
  const REACT = (op: "addReaction" | "removeReaction") =>
    `mutation($id: ID!, $e: String!) { ${op}(messageId: $id, emoji: $e) { id reactions { emoji count viewerHasReacted users { id } } } }`;

  it("groups reactions by emoji with counts, users and the viewer's own", async () => {
    const msg = (await api.ok(alice, SEND, { input: { roomId, content: "react to me" } })).sendMessage;
    await api.ok(alice, REACT("addReaction"), { id: msg.id, e: "👍" });
    await api.ok(alice, REACT("addReaction"), { id: msg.id, e: "👍" });
    await api.ok(bob, REACT("addReaction"), { id: msg.id, e: "❤️" });
    const both = (await api.ok(bob, REACT("addReaction"), { id: msg.id, e: "👍🏽" })).addReaction;
    expect(both.reactions).toEqual([
      { emoji: "👍", count: 1, viewerHasReacted: false, users: [{ id: alice.id }] },
      { emoji: "❤️", count: 1, viewerHasReacted: true, users: [{ id: bob.id }] },
      { emoji: "👍🏽", count: 1, viewerHasReacted: true, users: [{ id: bob.id }] },
    ]);
    const removed = (await api.ok(bob, REACT("removeReaction"), { id: msg.id, e: "❤️" })).removeReaction;
    expect(removed.reactions.map((r: any) => r.emoji)).toEqual(["👍", "👍🏽"]);
  });

  it("refuses a non-emoji with BAD_USER_INPUT on emoji", async () => {
    const msg = (await api.ok(alice, SEND, { input: { roomId, content: "x" } })).sendMessage;
    for (const e of ["a", "👍👍", "", "<script>"]) {
      expect((await api.run(alice, REACT("addReaction"), { id: msg.id, e })).errors?.[0]?.extensions).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "emoji",
      });
    }
  });
});

describe("unreadCount", () => {
  it("counts messages after the member's read marker; sending moves the marker", async () => {
    const room = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Unread", type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id],
      })
    ).createRoom.id;
    for (const c of ["a", "b", "c"]) await api.ok(alice, SEND, { input: { roomId: room, content: c } });
    const UNREAD = `query($id: ID!) { room(id: $id) { unreadCount lastMessage { content } } }`;
    expect((await api.ok(bob, UNREAD, { id: room })).room).toEqual({ unreadCount: 3, lastMessage: { content: "c" } });
    expect((await api.ok(alice, UNREAD, { id: room })).room.unreadCount).toBe(0);
    await api.ok(bob, SEND, { input: { roomId: room, content: "d" } });
    expect((await api.ok(bob, UNREAD, { id: room })).room.unreadCount).toBe(0);
    expect((await api.ok(alice, UNREAD, { id: room })).room.unreadCount).toBe(1);
  });
});

describe("non-members", () => {
  it("are refused on the history query and on every room-scoped mutation, with nothing written", async () => {
    const msg = (await api.ok(alice, SEND, { input: { roomId, content: "private" } })).sendMessage;
    const before = await Promise.all([server.app.db.message.count(), server.app.db.reaction.count()]);
    const attempts = [
      api.run(mallory, HISTORY, { roomId, first: 10 }),
      api.run(mallory, SEND, { input: { roomId, content: "let me in" } }),
      api.run(mallory, `mutation($id: ID!) { addReaction(messageId: $id, emoji: "👍") { id } }`, { id: msg.id }),
      api.run(mallory, `mutation($id: ID!) { removeReaction(messageId: $id, emoji: "👍") { id } }`, { id: msg.id }),
      api.run(mallory, `mutation($id: ID!) { setTyping(roomId: $id, isTyping: true) }`, { id: roomId }),
      api.run(mallory, `mutation($id: ID!) { leaveRoom(roomId: $id) }`, { id: roomId }),
      api.run(mallory, `mutation($r: ID!, $u: ID!) { addRoomMember(roomId: $r, userId: $u) { role } }`, { r: roomId, u: mallory.id }),
    ];
    for (const result of await Promise.all(attempts)) {
      // a GROUP room's existence does not leak to outsiders
      expect(errorCode(result)).toBe("NOT_FOUND");
      expect(result.data?.messages ?? result.data?.sendMessage ?? null).toBeNull();
    }
    expect(await Promise.all([server.app.db.message.count(), server.app.db.reaction.count()])).toEqual(before);
  });

  it("get FORBIDDEN in a PUBLIC room they have not joined", async () => {
    const pub = (await api.ok(alice, `mutation { createRoom(input: { name: "Open", type: PUBLIC }) { id } }`, {})).createRoom.id;
    expect(errorCode(await api.run(mallory, HISTORY, { roomId: pub, first: 5 }))).toBe("FORBIDDEN");
    expect(errorCode(await api.run(mallory, SEND, { input: { roomId: pub, content: "hi" } }))).toBe("FORBIDDEN");
  });

  it("without a token get UNAUTHENTICATED", async () => {
    expect(errorCode(await gql(server.url, HISTORY, { roomId, first: 5 }))).toBe("UNAUTHENTICATED");
    expect(errorCode(await gql(server.url, SEND, { input: { roomId, content: "anon" } }))).toBe("UNAUTHENTICATED");
  });
});
