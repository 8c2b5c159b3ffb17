/**
 * Threads and pins (issue 4 part A contract): sendMessage with threadRootId
 * (replies to a top-level, non-deleted message of the same room; the root's
 * threadReplyCount and threadLastReplyAt; Message.thread oldest first with
 * paging; Message.threadRoot) and pinMessage/unpinMessage (OWNER/ADMIN in
 * GROUP and PUBLIC rooms, either member in DIRECT; pinnedAt/pinnedBy;
 * Room.pinnedMessages most recently pinned first; idempotent; at most 50).
 */
import { describe, expect, it } from "vitest";
import { errorCode, ext, type TestUser } from "./helpers/client.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api,
  api: { run, ok },
  users: [alice, bob, carol, dave, mallory],
} = useTestServer(["alice", "bob", "carol", "dave", "mallory"], {
  env: { RATE_LIMIT_SEND_MESSAGE: "1000/60" }, // 100+ messages for the pin cap; rate-limits.test.ts tests that limit
});

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id seq content createdAt threadRoot { id } } }`;
const DELETE = `mutation($id: ID!) { deleteMessage(id: $id) { id } }`;
const THREAD_INFO = `query($r: ID!) { messages(roomId: $r, first: 100) { edges { node { id seq content threadRoot { id } threadReplyCount threadLastReplyAt } } } }`;
const THREAD = `query($r: ID!, $first: Int, $after: String) { messages(roomId: $r, first: 100) { edges { node { id
  thread(first: $first, after: $after) { edges { cursor node { id content threadRoot { id } } } pageInfo { hasNextPage endCursor } } } } } }`;
const PIN = `mutation($id: ID!) { pinMessage(id: $id) { id pinnedAt pinnedBy { id } } }`;
const UNPIN = `mutation($id: ID!) { unpinMessage(id: $id) { id pinnedAt pinnedBy { id } } }`;
const PINNED = `query($r: ID!) { room(id: $r) { pinnedMessages { id content pinnedAt pinnedBy { id } } } }`;

/** Local helper: sends a message (in a thread when `threadRootId` is given); resolves it. */
const send = async (user: TestUser, r: string, content: string, threadRootId?: string) =>
  (await ok(user, SEND, { input: { roomId: r, content, ...(threadRootId ? { threadRootId } : {}) } })).sendMessage;
/** Local helper: one message of room `r` as `viewer` sees it in `query` (a messages(roomId) query). */
async function node(viewer: TestUser, query: string, r: string, id: string, vars: Record<string, unknown> = {}): Promise<any> {
  const found = (await ok(viewer, query, { r, ...vars })).messages.edges.find((e: any) => e.node.id === id);
  if (!found) throw new Error(`message ${id} not in the history of ${r}`);
  return found.node;
}
const pinnedIds = async (viewer: TestUser, r: string): Promise<string[]> =>
  (await ok(viewer, PINNED, { r })).room.pinnedMessages.map((m: any) => m.id);

describe("threads", () => {
  it("sendMessage with threadRootId replies in the root's thread; the root counts replies and the last reply's time", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const root = await send(alice, r, "shall we talk about X?");
    const other = await send(alice, r, "unrelated");
    expect(await node(alice, THREAD_INFO, r, root.id)).toMatchObject({ threadRoot: null, threadReplyCount: 0, threadLastReplyAt: null });

    const first = await send(bob, r, "yes", root.id);
    expect(first.threadRoot).toEqual({ id: root.id });
    let seen = await node(bob, THREAD_INFO, r, root.id);
    expect(seen).toMatchObject({ threadReplyCount: 1, threadLastReplyAt: first.createdAt });

    const second = await send(alice, r, "great", root.id);
    seen = await node(bob, THREAD_INFO, r, root.id);
    expect(seen).toMatchObject({ threadRoot: null, threadReplyCount: 2, threadLastReplyAt: second.createdAt });
    expect(await node(bob, THREAD_INFO, r, second.id)).toMatchObject({
      threadRoot: { id: root.id },
      threadReplyCount: 0,
      threadLastReplyAt: null,
    });
    // other top-level messages are untouched
    expect(await node(bob, THREAD_INFO, r, other.id)).toMatchObject({ threadRoot: null, threadReplyCount: 0, threadLastReplyAt: null });

    // messages(roomId) still lists thread replies, in seq order
    const history = (await ok(alice, THREAD_INFO, { r })).messages.edges.map((e: any) => e.node.content);
    expect(history).toEqual(["great", "yes", "unrelated", "shall we talk about X?"]);
  });

  it("Message.thread lists the replies oldest first, paged with first/after", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const root = await send(alice, r, "root");
    const replies = [];
    for (let i = 1; i <= 5; i++) {
      replies.push(await send(i % 2 ? bob : alice, r, `reply ${i}`, root.id));
      if (i === 2) await send(bob, r, "top-level in between");
    }
    const page = async (vars: Record<string, unknown>) => (await node(alice, THREAD, r, root.id, vars)).thread;

    const all = await page({});
    expect(all.edges.map((e: any) => e.node.content)).toEqual(["reply 1", "reply 2", "reply 3", "reply 4", "reply 5"]);
    expect(all.edges.every((e: any) => e.node.threadRoot?.id === root.id)).toBe(true);
    expect(all.pageInfo.hasNextPage).toBe(false);

    const p1 = await page({ first: 2 });
    expect(p1.edges.map((e: any) => e.node.id)).toEqual([replies[0]!.id, replies[1]!.id]);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = await page({ first: 2, after: p1.pageInfo.endCursor });
    expect(p2.edges.map((e: any) => e.node.content)).toEqual(["reply 3", "reply 4"]);
    expect(p2.pageInfo.hasNextPage).toBe(true);
    const p3 = await page({ first: 2, after: p2.pageInfo.endCursor });
    expect(p3.edges.map((e: any) => e.node.content)).toEqual(["reply 5"]);
    expect(p3.pageInfo.hasNextPage).toBe(false);

    // a reply and an ordinary message have an empty thread
    expect((await node(alice, THREAD, r, replies[0]!.id, { first: 10 })).thread.edges).toEqual([]);
  });

  it.each([
    ["a reply (threads do not nest)", "reply"],
    ["a message of another room", "elsewhere"],
    ["a deleted message", "deleted"],
    ["an unknown message", "unknown"],
  ])("refuses threadRootId pointing to %s with BAD_USER_INPUT on input.threadRootId, storing nothing", async (_label, kind) => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const root = await send(alice, r, "root");
    const targets: Record<string, () => Promise<string>> = {
      reply: async () => (await send(bob, r, "a reply", root.id)).id,
      elsewhere: async () => (await send(alice, await makeRoom(api, alice, { members: [bob] }), "over there")).id,
      deleted: async () => {
        const gone = await send(alice, r, "gone");
        await ok(alice, DELETE, { id: gone.id });
        return gone.id;
      },
      unknown: async () => UNKNOWN_ID,
    };
    const target = await targets[kind]!();
    const before = await server.app.db.message.count({ where: { roomId: r } });
    const result = await run(bob, SEND, { input: { roomId: r, content: "nested?", threadRootId: target } });
    expect(ext(result)).toMatchObject({ code: "BAD_USER_INPUT", field: "input.threadRootId" });
    expect(await server.app.db.message.count({ where: { roomId: r } })).toBe(before);
    expect((await node(alice, THREAD_INFO, r, root.id)).threadReplyCount).toBe(kind === "reply" ? 1 : 0);
  });
});

describe("pins", () => {
  it("in a GROUP room the OWNER and ADMINs pin (pinnedAt, pinnedBy); a MEMBER gets FORBIDDEN, a non-member NOT_FOUND", async () => {
    const r = await makeRoom(api, alice, { admins: [bob], members: [carol] });
    const [m1, m2, m3] = [await send(carol, r, "one"), await send(carol, r, "two"), await send(carol, r, "three")];

    const byOwner = (await ok(alice, PIN, { id: m1.id })).pinMessage;
    expect(byOwner).toMatchObject({ id: m1.id, pinnedBy: { id: alice.id } });
    expect(new Date(byOwner.pinnedAt).getTime()).toBeGreaterThanOrEqual(new Date(m1.createdAt).getTime());
    const byAdmin = (await ok(bob, PIN, { id: m2.id })).pinMessage;
    expect(byAdmin).toMatchObject({ id: m2.id, pinnedBy: { id: bob.id } });
    expect(new Date(byAdmin.pinnedAt).getTime()).toBeGreaterThanOrEqual(new Date(byOwner.pinnedAt).getTime());

    expect(errorCode(await run(carol, PIN, { id: m3.id }))).toBe("FORBIDDEN");
    expect(errorCode(await run(carol, UNPIN, { id: m1.id }))).toBe("FORBIDDEN");
    expect(errorCode(await run(mallory, PIN, { id: m3.id }))).toBe("NOT_FOUND");
    expect(errorCode(await run(mallory, UNPIN, { id: m1.id }))).toBe("NOT_FOUND");
    expect(errorCode(await run(alice, PIN, { id: UNKNOWN_ID }))).toBe("NOT_FOUND");

    // every member sees the pins, most recently pinned first
    expect((await ok(carol, PINNED, { r })).room.pinnedMessages).toEqual([
      { id: m2.id, content: "two", pinnedAt: byAdmin.pinnedAt, pinnedBy: { id: bob.id } },
      { id: m1.id, content: "one", pinnedAt: byOwner.pinnedAt, pinnedBy: { id: alice.id } },
    ]);
  });

  it("in a PUBLIC room a MEMBER who joined gets FORBIDDEN", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC" });
    await ok(dave, `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`, { r });
    const m = await send(dave, r, "pin me?");
    expect(errorCode(await run(dave, PIN, { id: m.id }))).toBe("FORBIDDEN");
    expect((await ok(alice, PIN, { id: m.id })).pinMessage.pinnedBy).toEqual({ id: alice.id });
  });

  it("in a DIRECT room either member pins and unpins", async () => {
    const r = (await ok(alice, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: dave.id })).directRoom.id;
    const mine = await send(alice, r, "alice's");
    const theirs = await send(dave, r, "dave's");
    expect((await ok(dave, PIN, { id: mine.id })).pinMessage.pinnedBy).toEqual({ id: dave.id });
    expect((await ok(alice, PIN, { id: theirs.id })).pinMessage.pinnedBy).toEqual({ id: alice.id });
    expect(await pinnedIds(dave, r)).toEqual([theirs.id, mine.id]);
    expect((await ok(alice, UNPIN, { id: mine.id })).unpinMessage).toEqual({ id: mine.id, pinnedAt: null, pinnedBy: null });
    expect(await pinnedIds(alice, r)).toEqual([theirs.id]);
  });

  it("orders pinnedMessages by when they were pinned, not by message order; re-pinning after an unpin moves it to the top", async () => {
    const r = await makeRoom(api, alice);
    const [older, newer, third] = [await send(alice, r, "older"), await send(alice, r, "newer"), await send(alice, r, "third")];
    await ok(alice, PIN, { id: newer.id });
    await ok(alice, PIN, { id: older.id });
    await ok(alice, PIN, { id: third.id });
    expect(await pinnedIds(alice, r)).toEqual([third.id, older.id, newer.id]);
    await ok(alice, UNPIN, { id: newer.id });
    await ok(alice, PIN, { id: newer.id });
    expect(await pinnedIds(alice, r)).toEqual([newer.id, third.id, older.id]);
  });

  it("is idempotent: pinning a pinned message keeps its pin, unpinning an unpinned one is fine", async () => {
    const r = await makeRoom(api, alice, { admins: [bob] });
    const m = await send(alice, r, "pin once");
    const first = (await ok(alice, PIN, { id: m.id })).pinMessage;
    const again = (await ok(alice, PIN, { id: m.id })).pinMessage;
    expect(again).toEqual(first);
    expect(await pinnedIds(alice, r)).toEqual([m.id]);

    expect((await ok(bob, UNPIN, { id: m.id })).unpinMessage).toEqual({ id: m.id, pinnedAt: null, pinnedBy: null });
    expect((await ok(bob, UNPIN, { id: m.id })).unpinMessage).toEqual({ id: m.id, pinnedAt: null, pinnedBy: null });
    expect(await pinnedIds(alice, r)).toEqual([]);
    // a never-pinned message unpins as a no-op too
    const never = await send(alice, r, "never pinned");
    expect((await ok(alice, UNPIN, { id: never.id })).unpinMessage).toEqual({ id: never.id, pinnedAt: null, pinnedBy: null });
  });

  it("refuses to pin a deleted message (FORBIDDEN)", async () => {
    const r = await makeRoom(api, alice);
    const m = await send(alice, r, "gone");
    await ok(alice, DELETE, { id: m.id });
    expect(errorCode(await run(alice, PIN, { id: m.id }))).toBe("FORBIDDEN");
    expect(await pinnedIds(alice, r)).toEqual([]);
  });

  it("allows at most 50 pinned messages per room: the 51st pin is FORBIDDEN until one is unpinned", async () => {
    const r = await makeRoom(api, alice);
    const messages = [];
    for (let i = 1; i <= 51; i++) messages.push(await send(alice, r, `m${i}`));
    for (const m of messages.slice(0, 50)) await ok(alice, PIN, { id: m.id });
    expect(await pinnedIds(alice, r)).toHaveLength(50);

    const last = messages[50]!;
    expect(errorCode(await run(alice, PIN, { id: last.id }))).toBe("FORBIDDEN");
    const pinned = await pinnedIds(alice, r);
    expect(pinned).toHaveLength(50);
    expect(pinned).not.toContain(last.id);
    // re-pinning one of the 50 is not a 51st pin
    expect((await ok(alice, PIN, { id: messages[0]!.id })).pinMessage.pinnedBy).toEqual({ id: alice.id });

    await ok(alice, UNPIN, { id: messages[10]!.id });
    expect((await ok(alice, PIN, { id: last.id })).pinMessage.pinnedBy).toEqual({ id: alice.id });
    expect((await pinnedIds(alice, r))[0]).toBe(last.id);
    expect(await pinnedIds(alice, r)).toHaveLength(50);
  });

  it("pins are per room: another room's 50 pins do not count", async () => {
    const full = await makeRoom(api, alice);
    for (let i = 1; i <= 50; i++) await ok(alice, PIN, { id: (await send(alice, full, `f${i}`)).id });
    const other = await makeRoom(api, alice);
    const m = await send(alice, other, "room two");
    expect((await ok(alice, PIN, { id: m.id })).pinMessage.pinnedBy).toEqual({ id: alice.id });
    expect(await pinnedIds(alice, other)).toEqual([m.id]);
  });
});
