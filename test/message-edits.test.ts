/**
 * Editing and deleting messages (issue 4 part A contract): editMessage (sender
 * only, content rules as sendMessage, same content is a no-op, Message.editedAt
 * and Message.edits oldest first) and deleteMessage (sender or room OWNER/ADMIN,
 * idempotent, a tombstone that keeps id and seq, loses content, edits and
 * reactions, stays in history, and is unpinned).
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
} = useTestServer(["alice", "bob", "carol", "dave", "mallory"]);

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id seq content createdAt } }`;
const EDIT = `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id seq content createdAt editedAt edits { content editedAt } } }`;
const DELETE = `mutation($id: ID!) { deleteMessage(id: $id) { id seq content deletedAt edits { content editedAt } reactions { emoji count } sender { id } } }`;
const REACT = `mutation($id: ID!, $e: String!) { addReaction(messageId: $id, emoji: $e) { id reactions { emoji count } } }`;
const PIN = `mutation($id: ID!) { pinMessage(id: $id) { id pinnedAt pinnedBy { id } } }`;
const HISTORY = `query($r: ID!) { messages(roomId: $r, first: 100) { edges { node { id seq content editedAt deletedAt edits { content } reactions { emoji } } } } }`;
const PINNED = `query($r: ID!) { room(id: $r) { pinnedMessages { id } } }`;

/** Local helper: sends `content` as `user` to room `r`; resolves the message. */
const send = async (user: TestUser, r: string, content: string) => (await ok(user, SEND, { r, c: content })).sendMessage;
const ms = (iso: string) => new Date(iso).getTime();

describe("editMessage", () => {
  it("lets the sender edit: content trimmed, editedAt set, edits lists earlier versions oldest first", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const msg = await send(bob, r, "first version");
    expect(
      (await ok(bob, `query($r: ID!) { messages(roomId: $r, first: 1) { edges { node { editedAt edits { content } } } } }`, { r })).messages
        .edges[0].node,
    ).toEqual({
      editedAt: null,
      edits: [],
    });

    const once = (await ok(bob, EDIT, { id: msg.id, c: "  second version \n" })).editMessage;
    expect(once).toMatchObject({ id: msg.id, seq: msg.seq, content: "second version", createdAt: msg.createdAt });
    expect(once.editedAt).not.toBeNull();
    expect(ms(once.editedAt)).toBeGreaterThanOrEqual(ms(msg.createdAt));
    expect(once.edits).toEqual([{ content: "first version", editedAt: once.editedAt }]);

    const twice = (await ok(bob, EDIT, { id: msg.id, c: "third version" })).editMessage;
    expect(twice.content).toBe("third version");
    expect(ms(twice.editedAt)).toBeGreaterThanOrEqual(ms(once.editedAt));
    // each MessageEdit is a previous content and when it was replaced
    expect(twice.edits).toEqual([
      { content: "first version", editedAt: once.editedAt },
      { content: "second version", editedAt: twice.editedAt },
    ]);

    // other members see the same through history
    const seen = (await ok(alice, HISTORY, { r })).messages.edges.find((e: any) => e.node.id === msg.id).node;
    expect(seen).toMatchObject({
      content: "third version",
      editedAt: twice.editedAt,
      edits: [{ content: "first version" }, { content: "second version" }],
    });
  });

  it("refuses any other member, even the OWNER (FORBIDDEN), and a non-member of a GROUP room (NOT_FOUND), changing nothing", async () => {
    const r = await makeRoom(api, alice, { admins: [carol], members: [bob] });
    const msg = await send(bob, r, "mine");
    expect(errorCode(await run(alice, EDIT, { id: msg.id, c: "owner's words" }))).toBe("FORBIDDEN");
    expect(errorCode(await run(carol, EDIT, { id: msg.id, c: "admin's words" }))).toBe("FORBIDDEN");
    const outsider = await run(mallory, EDIT, { id: msg.id, c: "outsider's words" });
    expect(errorCode(outsider)).toBe("NOT_FOUND");
    expect(outsider.data?.editMessage ?? null).toBeNull();
    expect(errorCode(await run(bob, EDIT, { id: UNKNOWN_ID, c: "x" }))).toBe("NOT_FOUND");
    const node = (await ok(bob, HISTORY, { r })).messages.edges[0].node;
    expect(node).toMatchObject({ id: msg.id, content: "mine", editedAt: null, edits: [] });
  });

  it("lets a plain MEMBER edit their own message while another plain MEMBER is refused", async () => {
    const r = await makeRoom(api, alice, { members: [bob, dave] });
    const msg = await send(dave, r, "dave's");
    expect(errorCode(await run(bob, EDIT, { id: msg.id, c: "bob's now" }))).toBe("FORBIDDEN");
    expect((await ok(dave, EDIT, { id: msg.id, c: "dave's, edited" })).editMessage.content).toBe("dave's, edited");
  });

  it.each([
    ["empty", ""],
    ["blank", "  \n\t "],
    ["5,001 characters", "x".repeat(5001)],
  ])("refuses %s content with BAD_USER_INPUT on content, changing nothing", async (_label, content) => {
    const r = await makeRoom(api, alice);
    const msg = await send(alice, r, "keep me");
    expect(ext(await run(alice, EDIT, { id: msg.id, c: content }))).toMatchObject({ code: "BAD_USER_INPUT", field: "content" });
    expect((await ok(alice, HISTORY, { r })).messages.edges[0].node).toMatchObject({ content: "keep me", editedAt: null, edits: [] });
  });

  it("accepts exactly 5,000 characters", async () => {
    const r = await makeRoom(api, alice);
    const msg = await send(alice, r, "short");
    expect((await ok(alice, EDIT, { id: msg.id, c: "y".repeat(5000) })).editMessage.content).toHaveLength(5000);
  });

  it("is a no-op for the same content: no history entry, editedAt unchanged", async () => {
    const r = await makeRoom(api, alice);
    const msg = await send(alice, r, "same");
    const same = (await ok(alice, EDIT, { id: msg.id, c: "same" })).editMessage;
    expect(same).toMatchObject({ content: "same", editedAt: null, edits: [] });

    const changed = (await ok(alice, EDIT, { id: msg.id, c: "different" })).editMessage;
    const again = (await ok(alice, EDIT, { id: msg.id, c: "different" })).editMessage;
    expect(again).toEqual(changed);
    expect(again.edits).toEqual([{ content: "same", editedAt: changed.editedAt }]);
    expect(await server.app.db.messageEdit.count({ where: { messageId: msg.id } })).toBe(1);
  });

  it("compares the trimmed content: surrounding whitespace alone is the same content (no-op)", async () => {
    const r = await makeRoom(api, alice);
    const msg = await send(alice, r, "padded");
    const same = (await ok(alice, EDIT, { id: msg.id, c: "  padded  " })).editMessage;
    expect(same).toMatchObject({ content: "padded", editedAt: null, edits: [] });
  });

  it("refuses to edit a deleted message (FORBIDDEN), leaving the tombstone as it is", async () => {
    const r = await makeRoom(api, alice);
    const msg = await send(alice, r, "soon gone");
    await ok(alice, DELETE, { id: msg.id });
    expect(errorCode(await run(alice, EDIT, { id: msg.id, c: "resurrected" }))).toBe("FORBIDDEN");
    expect((await ok(alice, HISTORY, { r })).messages.edges[0].node).toMatchObject({ id: msg.id, content: "", edits: [] });
  });
});

describe("deleteMessage", () => {
  it('lets the sender delete: a tombstone with the same id and seq, content "", deletedAt set, no edits, no reactions', async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const before = await send(bob, r, "before");
    const msg = await send(bob, r, "regrettable");
    const after = await send(alice, r, "after");
    await ok(bob, EDIT, { id: msg.id, c: "still regrettable" });
    await ok(alice, REACT, { id: msg.id, e: "👍" });
    await ok(bob, REACT, { id: msg.id, e: "❤️" });

    const tombstone = (await ok(bob, DELETE, { id: msg.id })).deleteMessage;
    expect(tombstone).toMatchObject({ id: msg.id, seq: msg.seq, content: "", edits: [], reactions: [], sender: { id: bob.id } });
    expect(tombstone.deletedAt).not.toBeNull();
    expect(ms(tombstone.deletedAt)).toBeGreaterThanOrEqual(ms(msg.createdAt));

    // still in history, in its place, for every member
    const history = (await ok(alice, HISTORY, { r })).messages.edges.map((e: any) => e.node);
    expect(history.map((m: any) => m.seq)).toEqual([after.seq, msg.seq, before.seq]);
    expect(history[1]).toMatchObject({ id: msg.id, seq: msg.seq, content: "", deletedAt: tombstone.deletedAt, edits: [], reactions: [] });
    expect(history[0]).toMatchObject({ content: "after", deletedAt: null });
    expect(history[2]).toMatchObject({ content: "before", deletedAt: null });
    // removed from storage, not just hidden
    expect(await server.app.db.messageEdit.count({ where: { messageId: msg.id } })).toBe(0);
    expect(await server.app.db.reaction.count({ where: { messageId: msg.id } })).toBe(0);
    expect((await server.app.db.message.findUnique({ where: { id: msg.id }, select: { content: true } }))?.content).toBe("");
  });

  it("lets the room's OWNER and ADMINs delete anyone's message", async () => {
    const r = await makeRoom(api, alice, { admins: [carol], members: [bob] });
    const first = await send(bob, r, "one");
    const second = await send(bob, r, "two");
    expect((await ok(alice, DELETE, { id: first.id })).deleteMessage).toMatchObject({ id: first.id, content: "" });
    expect((await ok(carol, DELETE, { id: second.id })).deleteMessage).toMatchObject({ id: second.id, content: "" });
    const history = (await ok(bob, HISTORY, { r })).messages.edges.map((e: any) => e.node);
    expect(history.map((m: any) => [m.content, m.deletedAt !== null])).toEqual([
      ["", true],
      ["", true],
    ]);
  });

  it("refuses a plain other MEMBER (FORBIDDEN) and a non-member (NOT_FOUND), changing nothing", async () => {
    const r = await makeRoom(api, alice, { members: [bob, dave] });
    const msg = await send(bob, r, "keep");
    expect(errorCode(await run(dave, DELETE, { id: msg.id }))).toBe("FORBIDDEN");
    expect(errorCode(await run(mallory, DELETE, { id: msg.id }))).toBe("NOT_FOUND");
    expect(errorCode(await run(dave, DELETE, { id: UNKNOWN_ID }))).toBe("NOT_FOUND");
    expect((await ok(bob, HISTORY, { r })).messages.edges[0].node).toMatchObject({ content: "keep", deletedAt: null });
  });

  it("refuses the other member of a DIRECT room (FORBIDDEN): no one there is OWNER or ADMIN", async () => {
    const r = (await ok(alice, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: dave.id })).directRoom.id;
    const msg = await send(alice, r, "direct words");
    expect(errorCode(await run(dave, DELETE, { id: msg.id }))).toBe("FORBIDDEN");
    expect((await ok(alice, DELETE, { id: msg.id })).deleteMessage.content).toBe("");
  });

  it("is idempotent: deleting again returns the same tombstone", async () => {
    const r = await makeRoom(api, alice, { admins: [carol], members: [bob] });
    const msg = await send(bob, r, "twice");
    const first = (await ok(bob, DELETE, { id: msg.id })).deleteMessage;
    const again = (await ok(bob, DELETE, { id: msg.id })).deleteMessage;
    expect(again).toEqual(first);
    const byAdmin = (await ok(carol, DELETE, { id: msg.id })).deleteMessage;
    expect(byAdmin).toEqual(first);
    expect(await server.app.db.message.count({ where: { roomId: r } })).toBe(1);
  });

  it("unpins a pinned message", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const kept = await send(bob, r, "pinned and kept");
    const msg = await send(bob, r, "pinned, then deleted");
    await ok(alice, PIN, { id: kept.id });
    expect((await ok(alice, PIN, { id: msg.id })).pinMessage.pinnedAt).not.toBeNull();
    expect((await ok(bob, PINNED, { r })).room.pinnedMessages.map((m: any) => m.id)).toEqual([msg.id, kept.id]);

    await ok(bob, DELETE, { id: msg.id });
    const node = (
      await ok(bob, `query($r: ID!) { messages(roomId: $r, first: 1) { edges { node { id pinnedAt pinnedBy { id } } } } }`, { r })
    ).messages.edges[0].node;
    expect(node).toEqual({ id: msg.id, pinnedAt: null, pinnedBy: null });
    expect((await ok(bob, PINNED, { r })).room.pinnedMessages.map((m: any) => m.id)).toEqual([kept.id]);
  });
});
