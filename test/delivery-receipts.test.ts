/**
 * Delivery receipts (issue 16, item 3): markDelivered(roomId, upToSeq) per
 * device moves the member's delivery mark (never backwards; a read implies
 * delivery) and publishes a DeliveryReceipt on roomEvents; Message.deliveryState
 * is DELIVERED for the sender once every other member acknowledged, READ as
 * before. Members hiding read receipts publish nothing and count for nothing;
 * rooms above DELIVERY_RECEIPTS_MAX_MEMBERS (3 here) track nothing and stay SENT
 * until READ. Over HTTP, with the events read by the sender over graphql-ws
 * (Redis pub/sub); non-members refused as everywhere (NOT_FOUND / FORBIDDEN).
 */
import { describe, expect, it } from "vitest";
import { errorCode, ext, type GqlResponse, gql, type Subscription, subscribe, type TestUser } from "./helpers/client.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const MAX_MEMBERS = 3;
const {
  server,
  api,
  api: { run, ok },
  client,
  users: [alice, bob, carol, dave, mallory],
} = useTestServer(["alice", "bob", "carol", "dave", "mallory"], {
  redis: true,
  env: { DELIVERY_RECEIPTS_MAX_MEMBERS: String(MAX_MEMBERS) },
});

const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id seq deliveryState } }`;
const DELIVERED = `mutation($r: ID!, $s: Int!) { markDelivered(roomId: $r, upToSeq: $s) { id } }`;
const MARK_READ = `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id } }`;
const STATES = `query($r: ID!) { messages(roomId: $r, first: 100) { edges { node { seq deliveryState } } } }`;
const SET_RECEIPTS = `mutation($v: Boolean!) { updateSettings(input: { showReadReceipts: $v }) { showReadReceipts } }`;
const LOGIN = `mutation($u: String!) { login(input: { username: $u, password: "correct horse battery", deviceType: MOBILE }) { accessToken } }`;
const ROOM_EVENTS = `subscription($r: ID!, $after: String) { roomEvents(roomId: $r, after: $after) { __typename
  ... on DeliveryReceipt { seq user { id } upToSeq }
  ... on ReadReceipt { user { id } }
  ... on MessageAdded { message { seq } } } }`;

/** Local helper: `user` sends each content in turn; resolves the messages' seqs. */
async function send(user: TestUser, r: string, ...contents: string[]): Promise<number[]> {
  const seqs = [];
  for (const c of contents) seqs.push((await ok(user, SEND, { r, c })).sendMessage.seq);
  return seqs;
}
/** Local helper: seq → deliveryState, as `viewer` sees the room's history. */
async function states(viewer: TestUser, r: string): Promise<Record<number, string | null>> {
  const edges = (await ok(viewer, STATES, { r })).messages.edges;
  return Object.fromEntries(edges.map((e: any) => [e.node.seq, e.node.deliveryState]));
}
/** Local helper: the room's events as `viewer` gets them over graphql-ws, from the start of its log (gap-free: no warm-up needed). */
const events = (viewer: TestUser, r: string): Subscription => subscribe(client(viewer), ROOM_EVENTS, { r, after: "0" });
const kind = (type: string) => (e: GqlResponse) => e.data?.roomEvents?.__typename === type;
/** Local helper: the stored delivery marks of the room, by user id. */
async function marks(r: string): Promise<Record<string, number>> {
  const rows = await server.app.db.roomMember.findMany({ where: { roomId: r }, select: { userId: true, lastDeliveredSeq: true } });
  return Object.fromEntries(rows.map((m) => [m.userId, m.lastDeliveredSeq]));
}

describe("markDelivered and deliveryState", () => {
  it("is SENT until every other member acknowledged (any device of theirs), then DELIVERED; READ once one reads; null for others", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol] });
    const [s1, s2] = await send(alice, r, "one", "two");
    expect(await states(alice, r)).toEqual({ [s1!]: "SENT", [s2!]: "SENT" });

    // bob's device received both: carol has not, so still SENT
    await ok(bob, DELIVERED, { r, s: s2 });
    expect(await states(alice, r)).toEqual({ [s1!]: "SENT", [s2!]: "SENT" });

    // carol's phone (a second session: another device) received the first one
    const phone = { ...carol, accessToken: (await ok(carol, LOGIN, { u: carol.username })).login.accessToken };
    await ok(phone, DELIVERED, { r, s: s1 });
    expect(await states(alice, r)).toEqual({ [s1!]: "DELIVERED", [s2!]: "SENT" });
    expect(await marks(r)).toEqual({ [alice.id]: 0, [bob.id]: s2, [carol.id]: s1 });
    // only the sender sees a state
    expect(await states(bob, r)).toEqual({ [s1!]: null, [s2!]: null });

    // carol's web session received the second; then bob reads the first
    await ok(carol, DELIVERED, { r, s: s2 });
    expect(await states(alice, r)).toEqual({ [s1!]: "DELIVERED", [s2!]: "DELIVERED" });
    await ok(bob, MARK_READ, { r, m: (await server.app.db.message.findFirstOrThrow({ where: { roomId: r, seq: s1! } })).id });
    expect(await states(alice, r)).toEqual({ [s1!]: "READ", [s2!]: "DELIVERED" });
  });

  it("is DELIVERED in a DIRECT room once the other member acknowledged, and the mark never goes backwards", async () => {
    const r = (await ok(alice, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: bob.id })).directRoom.id;
    const [s1, s2, s3] = await send(alice, r, "a", "b", "c");
    await ok(bob, DELIVERED, { r, s: s2 });
    await ok(bob, DELIVERED, { r, s: s1 });
    expect(await states(alice, r)).toEqual({ [s1!]: "DELIVERED", [s2!]: "DELIVERED", [s3!]: "SENT" });
    expect((await marks(r))[bob.id]).toBe(s2);
  });

  it("counts a read as delivered: a member who read a message has nothing left to acknowledge", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol] });
    const [s1] = await send(alice, r, "one");
    // bob answers (sending moves his read marker past s1) and carol acknowledges
    await send(bob, r, "answer");
    await ok(carol, DELIVERED, { r, s: s1 });
    expect((await states(alice, r))[s1!]).toBe("READ");
    // bob's acknowledgement of what he has read moves nothing and announces nothing
    const sub = events(alice, r);
    await ok(bob, DELIVERED, { r, s: s1 });
    await send(alice, r, "after");
    await sub.nextWhere((e) => kind("MessageAdded")(e) && e.data!.roomEvents.message.seq === s1! + 2);
    expect(sub.events.filter(kind("DeliveryReceipt")).map((e) => e.data!.roomEvents.user.id)).toEqual([carol.id]);
    expect((await marks(r))[bob.id]).toBe(0);
  });

  it("refuses an upToSeq beyond the room's newest message, or below 1, with BAD_USER_INPUT on upToSeq", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const [s1] = await send(alice, r, "only");
    expect(ext(await run(bob, DELIVERED, { r, s: s1! + 1 }))).toMatchObject({ code: "BAD_USER_INPUT", field: "upToSeq" });
    expect(ext(await run(bob, DELIVERED, { r, s: 0 }))).toMatchObject({ code: "BAD_USER_INPUT", field: "upToSeq" });
    expect(await marks(r)).toEqual({ [alice.id]: 0, [bob.id]: 0 });
  });

  it("refuses non-members: NOT_FOUND for a GROUP room, FORBIDDEN for a PUBLIC one, UNAUTHENTICATED without a token", async () => {
    const group = await makeRoom(api, alice, { members: [bob] });
    const publicRoom = await makeRoom(api, alice, { type: "PUBLIC" });
    const [s1] = await send(alice, group, "private");
    await send(alice, publicRoom, "public");
    const outsider = await run(mallory, DELIVERED, { r: group, s: s1 });
    expect(errorCode(outsider)).toBe("NOT_FOUND");
    expect(outsider.data?.markDelivered ?? null).toBeNull();
    expect(errorCode(await run(mallory, DELIVERED, { r: publicRoom, s: 1 }))).toBe("FORBIDDEN");
    expect(errorCode(await gql(server.url, DELIVERED, { r: group, s: s1 }))).toBe("UNAUTHENTICATED");
    expect(Object.keys(await marks(group)).sort()).toEqual([alice.id, bob.id].sort());
    expect((await states(alice, group))[s1!]).toBe("SENT");
  });
});

describe("DeliveryReceipt events", () => {
  it("reach the sender over graphql-ws when a member's delivery mark advances, and only then", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol] });
    const sub = events(alice, r);
    const [s1, s2] = await send(alice, r, "one", "two");
    await ok(bob, DELIVERED, { r, s: s1 });
    const first = await sub.nextWhere(kind("DeliveryReceipt"));
    expect(first.data!.roomEvents).toMatchObject({ user: { id: bob.id }, upToSeq: s1 });
    // an acknowledgement that moves nothing (the same seq, an older one) publishes nothing
    await ok(bob, DELIVERED, { r, s: s1 });
    await ok(bob, DELIVERED, { r, s: 1 });
    await ok(carol, DELIVERED, { r, s: s2 });
    const second = await sub.nextWhere(kind("DeliveryReceipt"));
    expect(second.data!.roomEvents).toMatchObject({ user: { id: carol.id }, upToSeq: s2 });
    // the log's seqs leave no room for a receipt in between
    expect(second.data!.roomEvents.seq).toBe(first.data!.roomEvents.seq + 1);
    expect((await states(alice, r))[s1!]).toBe("DELIVERED");
  });
});

describe("privacy: members hiding read receipts", () => {
  it("publish no DeliveryReceipt and do not make a message DELIVERED; turned back on, their mark counts", async () => {
    const r = await makeRoom(api, alice, { members: [dave] });
    await ok(dave, SET_RECEIPTS, { v: false });
    try {
      const sub = events(alice, r);
      const [s1] = await send(alice, r, "hello");
      await ok(dave, DELIVERED, { r, s: s1 });
      expect((await states(alice, r))[s1!]).toBe("SENT");
      // the mark is stored (it is dave's), nothing is published: the next event is alice's next message
      expect((await marks(r))[dave.id]).toBe(s1);
      const [s2] = await send(alice, r, "still there?");
      await sub.nextWhere((e) => kind("MessageAdded")(e) && e.data!.roomEvents.message.seq === s2);
      expect(sub.events.filter(kind("DeliveryReceipt"))).toEqual([]);
    } finally {
      await ok(dave, SET_RECEIPTS, { v: true });
    }
    expect(Object.values(await states(alice, r))).toEqual(["DELIVERED", "SENT"]);
  });

  it("keep a group's messages SENT (until READ) even when everyone else acknowledged", async () => {
    const r = await makeRoom(api, alice, { members: [bob, dave] });
    await ok(dave, SET_RECEIPTS, { v: false });
    try {
      const [s1] = await send(alice, r, "hi all");
      await ok(bob, DELIVERED, { r, s: s1 });
      await ok(dave, DELIVERED, { r, s: s1 });
      expect((await states(alice, r))[s1!]).toBe("SENT");
      await ok(bob, MARK_READ, { r, m: (await server.app.db.message.findFirstOrThrow({ where: { roomId: r, seq: s1! } })).id });
      expect((await states(alice, r))[s1!]).toBe("READ");
    } finally {
      await ok(dave, SET_RECEIPTS, { v: true });
    }
  });
});

describe(`rooms above DELIVERY_RECEIPTS_MAX_MEMBERS (${MAX_MEMBERS} here)`, () => {
  it("track nothing: no mark stored, no event, SENT until READ", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol, dave] });
    const sub = events(alice, r);
    const [s1] = await send(alice, r, "to many");
    for (const member of [bob, carol, dave]) expect((await ok(member, DELIVERED, { r, s: s1 })).markDelivered.id).toBe(r);
    expect((await states(alice, r))[s1!]).toBe("SENT");
    expect(await marks(r)).toEqual({ [alice.id]: 0, [bob.id]: 0, [carol.id]: 0, [dave.id]: 0 });
    await ok(bob, MARK_READ, { r, m: (await server.app.db.message.findFirstOrThrow({ where: { roomId: r, seq: s1! } })).id });
    expect((await states(alice, r))[s1!]).toBe("READ");
    // the ReadReceipt is the next event after the message: no DeliveryReceipt before it
    await sub.nextWhere(kind("ReadReceipt"));
    expect(sub.events.filter(kind("DeliveryReceipt"))).toEqual([]);
  });

  it("start tracking at the bound: a room back at the limit counts acknowledgements again", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol, dave] });
    const [s1] = await send(alice, r, "before");
    await ok(alice, `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`, { r, u: dave.id });
    for (const member of [bob, carol]) await ok(member, DELIVERED, { r, s: s1 });
    expect((await states(alice, r))[s1!]).toBe("DELIVERED");
  });
});
