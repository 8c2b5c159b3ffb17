/**
 * Read receipts (issue 4 part A contract): markRead moves the viewer's read
 * marker (never backwards) and Room.unreadCount follows it; Message.readBy
 * (other members whose marker reached the message, minus the sender and users
 * with showReadReceipts false) and Message.deliveryState (SENT/READ, for the
 * sender only). Ends with the receipts flows of seeds 001 and 003, walked as
 * those frontends would through queries and mutations.
 */
import { describe, expect, it } from "vitest";
import { errorCode, ext, gql, type TestUser } from "./helpers/client.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api,
  api: { run, ok },
  users: [alice, bob, carol, dave, mallory],
} = useTestServer(["alice", "bob", "carol", "dave", "mallory"]);

const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id seq } }`;
const MARK = `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id unreadCount } }`;
const UNREAD = `query($r: ID!) { room(id: $r) { unreadCount } }`;
const RECEIPTS = `query($r: ID!) { messages(roomId: $r, first: 100) { edges { node { id content sender { id } readBy { id } deliveryState } } } }`;
const SET_RECEIPTS = `mutation($v: Boolean!) { updateSettings(input: { showReadReceipts: $v }) { showReadReceipts } }`;

/** Local helper: sends each content in turn as `user`; resolves the messages. */
async function sendAll(user: TestUser, r: string, contents: string[]): Promise<{ id: string; seq: number }[]> {
  const sent = [];
  for (const c of contents) sent.push((await ok(user, SEND, { r, c })).sendMessage);
  return sent;
}
const unread = async (user: TestUser, r: string): Promise<number> => (await ok(user, UNREAD, { r })).room.unreadCount;
/** Local helper: `messageId → { readBy (sorted ids), deliveryState }` as `viewer` sees the room's history. */
async function receipts(viewer: TestUser, r: string): Promise<Record<string, { readBy: string[]; deliveryState: string | null }>> {
  const edges = (await ok(viewer, RECEIPTS, { r })).messages.edges;
  return Object.fromEntries(
    edges.map((e: any) => [e.node.id, { readBy: e.node.readBy.map((u: any) => u.id).sort(), deliveryState: e.node.deliveryState }]),
  );
}
const ids = (...users: TestUser[]) => users.map((u) => u.id).sort();

describe("markRead and unreadCount", () => {
  it("moves the viewer's marker: unreadCount counts only the messages after it, per member", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol] });
    const m = await sendAll(alice, r, ["1", "2", "3", "4", "5"]);
    expect(await unread(bob, r)).toBe(5);
    expect((await ok(bob, MARK, { r, m: m[2]!.id })).markRead).toEqual({ id: r, unreadCount: 2 });
    expect(await unread(bob, r)).toBe(2);
    expect((await ok(bob, MARK, { r, m: m[4]!.id })).markRead.unreadCount).toBe(0);
    expect(await unread(bob, r)).toBe(0);
    // carol's marker did not move
    expect(await unread(carol, r)).toBe(5);
    // and new messages count again
    await sendAll(alice, r, ["6"]);
    expect(await unread(bob, r)).toBe(1);
  });

  it("never goes backwards: marking an older message after a newer one changes nothing", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const m = await sendAll(alice, r, ["1", "2", "3", "4", "5"]);
    await ok(bob, MARK, { r, m: m[3]!.id });
    expect(await unread(bob, r)).toBe(1);
    expect((await ok(bob, MARK, { r, m: m[1]!.id })).markRead.unreadCount).toBe(1);
    expect(await unread(bob, r)).toBe(1);
    // marking the same message again is fine too
    expect((await ok(bob, MARK, { r, m: m[3]!.id })).markRead.unreadCount).toBe(1);
    // the receipt for the newer message still stands
    expect((await receipts(alice, r))[m[3]!.id]!.readBy).toEqual(ids(bob));
  });

  it("refuses a message of another room with BAD_USER_INPUT on messageId, moving nothing", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    await sendAll(alice, r, ["here"]);
    const other = await makeRoom(api, alice, { members: [bob], type: "GROUP", name: "Other" });
    const [elsewhere] = await sendAll(alice, other, ["there"]);
    expect(ext(await run(bob, MARK, { r, m: elsewhere!.id }))).toMatchObject({ code: "BAD_USER_INPUT", field: "messageId" });
    expect(await unread(bob, r)).toBe(1);
    expect(await unread(bob, other)).toBe(1);
  });

  it("refuses a non-member of a GROUP room with NOT_FOUND, and without a token UNAUTHENTICATED", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const [m] = await sendAll(alice, r, ["private"]);
    const outsider = await run(mallory, MARK, { r, m: m!.id });
    expect(errorCode(outsider)).toBe("NOT_FOUND");
    expect(outsider.data?.markRead ?? null).toBeNull();
    expect(errorCode(await gql(server.url, MARK, { r, m: m!.id }))).toBe("UNAUTHENTICATED");
    expect((await receipts(alice, r))[m!.id]!.readBy).toEqual(ids());
  });

  it("refuses a non-member of a PUBLIC room with FORBIDDEN (public rooms are not hidden)", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC", name: "Open" });
    const [m] = await sendAll(alice, r, ["public"]);
    expect(errorCode(await run(mallory, MARK, { r, m: m!.id }))).toBe("FORBIDDEN");
  });
});

describe("readBy", () => {
  it("lists the other members whose marker reached the message; never the sender, nor users hiding read receipts", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol, dave] });
    expect((await ok(dave, SET_RECEIPTS, { v: false })).updateSettings.showReadReceipts).toBe(false);
    try {
      const [m1, m2] = await sendAll(alice, r, ["one", "two"]);
      let seen = await receipts(alice, r);
      // alice's own marker is at m2 (sending moves it), but she is the sender
      expect([seen[m1!.id]!.readBy, seen[m2!.id]!.readBy]).toEqual([[], []]);

      await ok(carol, MARK, { r, m: m1!.id });
      await ok(bob, MARK, { r, m: m2!.id });
      await ok(dave, MARK, { r, m: m2!.id });
      seen = await receipts(alice, r);
      expect(seen[m1!.id]!.readBy).toEqual(ids(bob, carol));
      expect(seen[m2!.id]!.readBy).toEqual(ids(bob));
      // the same for every member who looks
      expect(await receipts(carol, r)).toMatchObject({ [m1!.id]: { readBy: ids(bob, carol) }, [m2!.id]: { readBy: ids(bob) } });

      // bob's own message: the marker he moved by sending does not list him
      const [m3] = await sendAll(bob, r, ["three"]);
      expect((await receipts(alice, r))[m3!.id]!.readBy).toEqual([]);
      await ok(alice, MARK, { r, m: m3!.id });
      expect((await receipts(bob, r))[m3!.id]!.readBy).toEqual(ids(alice));
    } finally {
      await ok(dave, SET_RECEIPTS, { v: true });
    }
  });

  it("counts a member's own later message as having read what came before (sending moves the marker)", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const [question] = await sendAll(alice, r, ["question?"]);
    await sendAll(bob, r, ["answer"]);
    expect((await receipts(alice, r))[question!.id]).toEqual({ readBy: ids(bob), deliveryState: "READ" });
  });

  it("leaves out a reader who turns showReadReceipts off afterwards, and shows them again when turned back on", async () => {
    const r = await makeRoom(api, alice, { members: [dave] });
    const [m] = await sendAll(alice, r, ["seen?"]);
    await ok(dave, MARK, { r, m: m!.id });
    expect((await receipts(alice, r))[m!.id]).toEqual({ readBy: ids(dave), deliveryState: "READ" });
    await ok(dave, SET_RECEIPTS, { v: false });
    try {
      expect((await receipts(alice, r))[m!.id]).toEqual({ readBy: [], deliveryState: "SENT" });
    } finally {
      await ok(dave, SET_RECEIPTS, { v: true });
    }
    expect((await receipts(alice, r))[m!.id]).toEqual({ readBy: ids(dave), deliveryState: "READ" });
  });
});

describe("deliveryState", () => {
  it("is SENT for the sender until another member marks the message read, then READ; null for everyone else", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol] });
    const [m1, m2] = await sendAll(alice, r, ["one", "two"]);
    expect(await receipts(alice, r)).toMatchObject({ [m1!.id]: { deliveryState: "SENT" }, [m2!.id]: { deliveryState: "SENT" } });
    for (const viewer of [bob, carol]) {
      expect(await receipts(viewer, r)).toMatchObject({ [m1!.id]: { deliveryState: null }, [m2!.id]: { deliveryState: null } });
    }
    // bob reads up to m1: m1 READ, m2 still SENT
    await ok(bob, MARK, { r, m: m1!.id });
    expect(await receipts(alice, r)).toMatchObject({ [m1!.id]: { deliveryState: "READ" }, [m2!.id]: { deliveryState: "SENT" } });
    // carol reads m2: both READ (her marker covers m1 too)
    await ok(carol, MARK, { r, m: m2!.id });
    expect(await receipts(alice, r)).toMatchObject({ [m1!.id]: { deliveryState: "READ" }, [m2!.id]: { deliveryState: "READ" } });
    expect((await receipts(bob, r))[m2!.id]!.deliveryState).toBeNull();
  });

  it("is not made READ by a member who hides read receipts", async () => {
    const r = await makeRoom(api, alice, { members: [bob, dave] });
    await ok(dave, SET_RECEIPTS, { v: false });
    try {
      const [m] = await sendAll(alice, r, ["hello"]);
      await ok(dave, MARK, { r, m: m!.id });
      expect(await unread(dave, r)).toBe(0);
      expect((await receipts(alice, r))[m!.id]).toEqual({ readBy: [], deliveryState: "SENT" });
      await ok(bob, MARK, { r, m: m!.id });
      expect((await receipts(alice, r))[m!.id]).toEqual({ readBy: ids(bob), deliveryState: "READ" });
    } finally {
      await ok(dave, SET_RECEIPTS, { v: true });
    }
  });
});

describe("seed flows", () => {
  const CONVERSATIONS = `query { myRooms(first: 20) { edges { node { id type unreadCount lastMessage { content } } } } }`;
  const OPEN = `query($r: ID!) { messages(roomId: $r, first: 50) { edges { node { id content sender { id } readBy { id } deliveryState } } } }`;
  const conversation = async (user: TestUser, r: string) =>
    (await ok(user, CONVERSATIONS)).myRooms.edges.map((e: any) => e.node).find((n: any) => n.id === r);

  it("seed 001: conversation list with unread_count, messages marked read as they scroll into view (in any order), ✓✓ for the sender", async () => {
    // a direct conversation between two friends
    await ok(alice, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: carol.id });
    await ok(carol, `mutation($u: ID!) { sendContactRequest(userId: $u) { status } }`, { u: alice.id });
    const r = (await ok(alice, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: carol.id })).directRoom.id;
    const sent = await sendAll(alice, r, ["Hey, how are you?", "Long time no see", "Lunch today?"]);

    // GET /conversations: "unread_count": 3 for carol, 0 for alice
    expect(await conversation(carol, r)).toMatchObject({ type: "DIRECT", unreadCount: 3, lastMessage: { content: "Lunch today?" } });
    expect((await conversation(alice, r)).unreadCount).toBe(0);

    // carol opens the conversation (newest first); nothing is read by fetching alone
    const opened = (await ok(carol, OPEN, { r })).messages.edges.map((e: any) => e.node);
    expect(opened.map((n: any) => n.content)).toEqual(["Lunch today?", "Long time no see", "Hey, how are you?"]);
    expect(opened.every((n: any) => n.deliveryState === null)).toBe(true);
    expect((await ok(alice, OPEN, { r })).messages.edges.map((e: any) => e.node.deliveryState)).toEqual(["SENT", "SENT", "SENT"]);

    // the IntersectionObserver marks each visible message: bottom first, then the older ones
    for (const m of [sent[2]!, sent[0]!, sent[1]!]) expect((await ok(carol, MARK, { r, m: m.id })).markRead.unreadCount).toBe(0);
    expect((await conversation(carol, r)).unreadCount).toBe(0);

    // handleReadReceipt: alice's messages get ✓✓ (read by carol)
    const mine = (await ok(alice, OPEN, { r })).messages.edges.map((e: any) => e.node);
    expect(mine.map((n: any) => [n.deliveryState, n.readBy.map((u: any) => u.id)])).toEqual([
      ["READ", [carol.id]],
      ["READ", [carol.id]],
      ["READ", [carol.id]],
    ]);

    // carol answers; alice has 1 unread until she marks the conversation read (its newest message)
    const [answer] = await sendAll(carol, r, ["Good morning! Hope you have a great day."]);
    expect((await conversation(alice, r)).unreadCount).toBe(1);
    expect((await receipts(carol, r))[answer!.id]).toEqual({ readBy: [], deliveryState: "SENT" });
    expect((await ok(alice, MARK, { r, m: answer!.id })).markRead.unreadCount).toBe(0);
    expect((await receipts(carol, r))[answer!.id]).toEqual({ readBy: ids(alice), deliveryState: "READ" });
  });

  it("seed 003: support chat with per-participant unread_count and read_receipts on each message", async () => {
    // the salon admin (OWNER), a colleague (ADMIN) and the customer
    const [salonAdmin, colleague, customer] = [alice, bob, mallory];
    const r = await makeRoom(api, salonAdmin, { members: [colleague, customer], type: "GROUP", name: "Support Chat" });
    await ok(salonAdmin, `mutation($r: ID!, $u: ID!) { updateMemberRole(roomId: $r, userId: $u, role: ADMIN) { role } }`, {
      r,
      u: colleague.id,
    });
    const [hi] = await sendAll(salonAdmin, r, ["Hi, how can I help you?"]);

    // participants: the admin has unread_count 0, the customer 1
    expect(await unread(salonAdmin, r)).toBe(0);
    expect(await unread(customer, r)).toBe(1);

    // the customer's ChatWindow fetches history, then read_message for the message shown
    const history = (await ok(customer, OPEN, { r })).messages.edges.map((e: any) => e.node);
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ id: hi!.id, content: "Hi, how can I help you?", readBy: [], deliveryState: null });
    await ok(customer, MARK, { r, m: hi!.id });
    expect(await unread(customer, r)).toBe(0);

    // the admin's message now has read_receipts from the customer: ✓✓
    expect((await receipts(salonAdmin, r))[hi!.id]).toEqual({ readBy: ids(customer), deliveryState: "READ" });

    // the customer writes; each staff member has it unread; once one reads it the customer sees ✓✓
    const [question] = await sendAll(customer, r, ["Can I move my appointment to 3pm?"]);
    expect([await unread(salonAdmin, r), await unread(colleague, r), await unread(customer, r)]).toEqual([1, 2, 0]);
    expect((await receipts(customer, r))[question!.id]).toEqual({ readBy: [], deliveryState: "SENT" });
    await ok(colleague, MARK, { r, m: question!.id });
    expect([await unread(salonAdmin, r), await unread(colleague, r)]).toEqual([1, 0]);
    expect((await receipts(customer, r))[question!.id]).toEqual({ readBy: ids(colleague), deliveryState: "READ" });
    // the colleague's marker also covers the greeting
    expect((await receipts(salonAdmin, r))[hi!.id]!.readBy).toEqual(ids(colleague, customer));
  });
});
