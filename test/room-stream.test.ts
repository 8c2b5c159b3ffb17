/**
 * The room event stream (issue 4 part A contract), over graphql-ws with Redis
 * pub/sub: every roomEvents event is a SequencedEvent (seq +1 per stored room
 * event, membership and message events alike, and a cursor); the message
 * events (MessageAdded, MessageEdited, MessageDeleted, ReactionAdded,
 * ReactionRemoved, ReadReceipt, MessagePinned) for the HTTP mutations; no
 * ReadReceipt for users who hide them; and gap-free resume: roomEvents(after:
 * cursor) and messageAdded(after: String(message.seq)) replay exactly what was
 * missed, then go on live with no duplicate and no gap — also when the socket
 * is cut abruptly (again and again) while concurrent senders keep messages
 * flowing, on one node and across two server processes (subscribed on A,
 * resumed on B, then alternating). Local helpers: droppableClient (a ws
 * subclass that keeps its sockets, to terminate() them) and gate.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "graphql-ws";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  type GqlResponse,
  on,
  registerUser,
  registerUsers,
  type Subscription,
  subscribe,
  type TestUser,
  type UserOps,
  warmUp,
  wsClient,
} from "./helpers/client.js";
import { useNodes } from "./helpers/nodes.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const ROOM_EVENTS = `subscription($r: ID!, $after: String) { roomEvents(roomId: $r, after: $after) { __typename
  ... on SequencedEvent { seq cursor at }
  ... on MemberJoined { user { id } role }
  ... on MemberLeft { user { id } reason }
  ... on MemberRoleChanged { user { id } role }
  ... on RoomUpdated { room { id description } }
  ... on MessageAdded { message { id seq content sender { id } } }
  ... on MessageEdited { message { id content editedAt edits { content } } }
  ... on MessageDeleted { message { id content deletedAt } deletedBy { id } }
  ... on ReactionAdded { message { id } user { id } emoji }
  ... on ReactionRemoved { message { id } user { id } emoji }
  ... on ReadReceipt { user { id } message { id sender { id } } }
  ... on MessagePinned { message { id pinnedAt } pinned by { id } } } }`;
const MESSAGE_ADDED = `subscription($r: ID!, $after: String) { messageAdded(roomId: $r, after: $after) { id seq content } }`;

const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role } }`;
const REMOVE = `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`;
const SET_ROLE = `mutation($r: ID!, $u: ID!, $role: RoomRole!) { updateMemberRole(roomId: $r, userId: $u, role: $role) { role } }`;
const UPDATE = `mutation($r: ID!, $input: UpdateRoomInput!) { updateRoom(roomId: $r, input: $input) { id } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id seq content } }`;
const EDIT = `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id content } }`;
const DELETE_MESSAGE = `mutation($id: ID!) { deleteMessage(id: $id) { id deletedAt } }`;
const REACT = `mutation($m: ID!, $e: String!) { addReaction(messageId: $m, emoji: $e) { id } }`;
const UNREACT = `mutation($m: ID!, $e: String!) { removeReaction(messageId: $m, emoji: $e) { id } }`;
const MARK_READ = `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id } }`;
const PIN = `mutation($id: ID!) { pinMessage(id: $id) { id pinnedAt } }`;
const UNPIN = `mutation($id: ID!) { unpinMessage(id: $id) { id pinnedAt } }`;
const SETTINGS = `mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { showReadReceipts } }`;

const roomEvent = (e: GqlResponse) => e.data?.roomEvents;
const added = (e: GqlResponse) => e.data?.messageAdded;
const isType = (type: string) => (e: GqlResponse) => roomEvent(e)?.__typename === type;
const isAddedWith = (content: string) => (e: GqlResponse) => isType("MessageAdded")(e) && roomEvent(e).message.content === content;

/**
 * A short, comparable description of a roomEvents event (what it is about), or
 * undefined for a ReadReceipt of a message's own sender: sending moves the
 * sender's read marker, and the contract does not say whether that is a
 * ReadReceipt; the seq checks still count such events.
 */
function describeEvent(e: GqlResponse): string | undefined {
  const ev = roomEvent(e);
  switch (ev?.__typename) {
    // by id: a replayed event may show the message as it is now (e.g. edited since)
    case "MessageAdded":
    case "MessageEdited":
      return `${ev.__typename} ${ev.message.id}`;
    case "MessageDeleted":
      return `MessageDeleted ${ev.message.id}`;
    case "ReactionAdded":
    case "ReactionRemoved":
      return `${ev.__typename} ${ev.message.id} ${ev.user.id} ${ev.emoji}`;
    case "ReadReceipt":
      return ev.user.id === ev.message.sender.id ? undefined : `ReadReceipt ${ev.user.id} ${ev.message.id}`;
    case "MessagePinned":
      return `MessagePinned ${ev.message.id} ${ev.pinned}`;
    case "RoomUpdated":
      return `RoomUpdated ${ev.room.description}`;
    case "MemberJoined":
    case "MemberLeft":
    case "MemberRoleChanged":
      return `${ev.__typename} ${ev.user.id}`;
    default:
      return `unexpected ${JSON.stringify(e)}`;
  }
}
/** The events described, without sender ReadReceipts and without the warm-up RoomUpdated events. */
const described = (events: GqlResponse[]) =>
  events.map(describeEvent).filter((d): d is string => d !== undefined && !d.startsWith("RoomUpdated warm-up"));

/** Fails unless `seqs` are integers going up by exactly 1. */
function expectContiguous(seqs: number[], from?: number) {
  expect(seqs.length).toBeGreaterThan(0);
  const start = from ?? seqs[0]!;
  expect(seqs).toEqual(seqs.map((_, i) => start + i));
}

/** Every event has data (no errors) and a SequencedEvent's seq, cursor and at. */
function expectSequenced(events: GqlResponse[]) {
  for (const e of events) {
    expect(e.errors, JSON.stringify(e)).toBeUndefined();
    const ev = roomEvent(e);
    expect(Number.isInteger(ev.seq), JSON.stringify(e)).toBe(true);
    expect(typeof ev.cursor === "string" && ev.cursor.length > 0, JSON.stringify(e)).toBe(true);
    expect(Number.isNaN(Date.parse(ev.at)), JSON.stringify(e)).toBe(false);
  }
  expect(new Set(events.map((e) => roomEvent(e).cursor)).size).toBe(events.length);
}

/** Waits until the subscription ends with an error and returns its `extensions` (from a `next` with errors or the error sink). */
async function errorExtensions(sub: Subscription): Promise<Record<string, unknown> | undefined> {
  await sub.errorCode(5000); // throws if data arrives or nothing happens
  if (sub.events.length > 0) return sub.events[0]!.errors?.[0]?.extensions;
  const error = await sub.error;
  return Array.isArray(error) ? (error[0] as { extensions?: Record<string, unknown> }).extensions : { error: String(error) };
}

/**
 * A graphql-ws client whose socket the test can cut abruptly (`terminate()`:
 * no close handshake, as when a network drops). Local helper: ws subclass that
 * remembers the sockets it opens.
 */
function droppableClient(wsUrl: string, token: string): { client: Client; terminate(): void } {
  const sockets: WebSocket[] = [];
  class TrackedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      sockets.push(this);
    }
  }
  const client = wsClient(wsUrl, token, { webSocketImpl: TrackedWebSocket });
  return {
    client,
    terminate: () => {
      expect(sockets.length).toBeGreaterThan(0);
      sockets.at(-1)!.terminate();
    },
  };
}

/** Resolves when `open()` is called (a gate between a sender loop and the test). */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

interface DropScenario {
  /** the ws URLs the subscriber uses in turn: segment k (before the first drop, after it, …) is on wsUrls[k % length] */
  wsUrls: string[];
  /** through which node the sender sends */
  sender: UserOps;
  roomId: string;
  owner: TestUser;
  subscriber: TestUser;
  clients: Client[];
}

/** Messages sent, by how many concurrent senders. */
const N = 150;
const SENDERS = 4;
/** The socket is cut after every DROP_EVERY messages received, DROPS times. */
const DROP_EVERY = 10;
const DROPS = 13;
/** Senders get at most HOLD messages past a drop point before the re-subscription is sent (so each seam happens while messages flow). */
const HOLD = 4;

interface DropResult {
  /** what each subscription got, in order: before the first drop, between drops, after the last */
  segments: GqlResponse[][];
  /** every m-i content, in the order of the seq the server gave it */
  expected: string[];
  /** how many sends had completed at each drop */
  sentAtDrops: number[];
}

/**
 * SENDERS concurrent senders post m-1..m-N through `sender`; the subscriber's
 * socket is terminated (no close handshake) after every DROP_EVERY messages it
 * got, while messages keep flowing, and it re-subscribes at once with the last
 * cursor (roomEvents) / String(seq) (messageAdded) it got, on the next of
 * `wsUrls`. After the senders are done, one "end" message marks the end of the
 * stream. Returns what each subscription got.
 */
async function dropMidStream(kind: "roomEvents" | "messageAdded", s: DropScenario): Promise<DropResult> {
  const query = kind === "roomEvents" ? ROOM_EVENTS : MESSAGE_ADDED;
  const contentOf = (e: GqlResponse): string | undefined =>
    kind === "roomEvents" ? (isType("MessageAdded")(e) ? roomEvent(e).message.content : undefined) : added(e)?.content;
  const isM = (e: GqlResponse) => contentOf(e)?.startsWith("m-") === true;
  const cursorOf = (e: GqlResponse) => (kind === "roomEvents" ? roomEvent(e).cursor : String(added(e).seq));
  const subscribeOn = (k: number, after?: string) => {
    const c = droppableClient(s.wsUrls[k % s.wsUrls.length]!, s.subscriber.accessToken);
    s.clients.push(c.client);
    return { ...c, sub: subscribe(c.client, query, after === undefined ? { r: s.roomId } : { r: s.roomId, after }) };
  };

  let current = subscribeOn(0);
  await warmUp(current.sub, () =>
    kind === "roomEvents"
      ? s.sender.ok(s.owner, UPDATE, { r: s.roomId, input: { description: `warm-up ${randomUUID()}` } })
      : s.sender.ok(s.owner, SEND, { r: s.roomId, c: "warm-up" }),
  );

  const resubscribed = Array.from({ length: DROPS }, gate);
  const stored: { seq: number; content: string }[] = [];
  let nextIndex = 1;
  const worker = async () => {
    for (let i = nextIndex++; i <= N; i = nextIndex++) {
      for (let k = 0; k < DROPS; k++) if (i > DROP_EVERY * (k + 1) + HOLD) await resubscribed[k]!.wait;
      const m = (await s.sender.ok(s.owner, SEND, { r: s.roomId, c: `m-${i}` })).sendMessage;
      stored.push({ seq: m.seq, content: m.content });
    }
  };
  const sending = Promise.all(Array.from({ length: SENDERS }, worker));
  // rejects as soon as a send fails, so the waits below fail with the send's error rather than a timeout
  const sendFailed = sending.then(() => new Promise<never>(() => {}));
  sendFailed.catch(() => {});
  const orSendFailed = <T>(p: Promise<T>) => Promise.race([p, sendFailed]);

  const segments: GqlResponse[][] = [];
  const sentAtDrops: number[] = [];
  let received = 0;
  for (let k = 0; k < DROPS; k++) {
    for (; received < DROP_EVERY * (k + 1); received++) await orSendFailed(current.sub.nextWhere(isM, 15_000));
    current.terminate();
    await current.sub.error; // the socket is gone: nothing more reaches this subscription
    sentAtDrops.push(stored.length);
    segments.push(current.sub.events);
    const after = cursorOf(current.sub.events.at(-1)!);
    void current.client.dispose();
    current = subscribeOn(k + 1, after);
    resubscribed[k]!.open();
  }
  await sending;
  await s.sender.ok(s.owner, SEND, { r: s.roomId, c: "end" });
  await current.sub.nextWhere((e) => contentOf(e) === "end", 15_000);
  segments.push(current.sub.events);
  const expected = stored.sort((x, y) => x.seq - y.seq).map((m) => m.content);
  return { segments, expected, sentAtDrops };
}

/** What was received across the drops is every message exactly once, in seq order; seqs are contiguous across every seam. */
function expectGapFree(kind: "roomEvents" | "messageAdded", result: DropResult) {
  // every drop happened while messages were flowing
  expect(
    result.sentAtDrops.every((sent) => sent < N),
    JSON.stringify(result.sentAtDrops),
  ).toBe(true);
  expect(result.expected).toHaveLength(N);
  const all = result.segments.flat();
  for (const e of all) expect(e.errors, JSON.stringify(e)).toBeUndefined();
  if (kind === "roomEvents") {
    expectSequenced(all);
    expectContiguous(all.map((e) => roomEvent(e).seq));
    const contents = all.filter(isType("MessageAdded")).map((e) => roomEvent(e).message.content as string);
    expect(contents.filter((c) => c.startsWith("m-"))).toEqual(result.expected);
  } else {
    expectContiguous(all.map((e) => added(e).seq));
    expect(all.map((e) => added(e).content as string).filter((c) => c.startsWith("m-"))).toEqual(result.expected);
  }
}

describe("the room event stream (one node, Redis pub/sub)", () => {
  const {
    server,
    api,
    client,
    clients,
    users: [alice, bob, carol, dave],
  } = useTestServer(["alice", "bob", "carol", "dave"], {
    redis: true,
    env: { RATE_LIMIT_SEND_MESSAGE: "1000/60" }, // 150 messages in a few seconds; rate-limits.test.ts tests that limit
  });

  const send = async (r: string, c: string, sender: TestUser = alice) =>
    (await api.ok(sender, SEND, { r, c })).sendMessage as { id: string; seq: number; content: string };
  /** `viewer`'s live roomEvents (no `after`), warmed up with RoomUpdated events by alice. */
  async function watch(viewer: TestUser, r: string): Promise<Subscription> {
    const sub = subscribe(client(viewer), ROOM_EVENTS, { r });
    await warmUp(sub, () => api.ok(alice, UPDATE, { r, input: { description: `warm-up ${randomUUID()}` } }));
    return sub;
  }

  describe("SequencedEvent", () => {
    it("every roomEvents event has a seq (+1 per stored room event, membership and message events alike), a distinct cursor and at", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const sub = await watch(carol, r);
      await api.ok(alice, ADD, { r, u: dave.id });
      const m = await send(r, "hello", bob);
      await api.ok(alice, SET_ROLE, { r, u: dave.id, role: "ADMIN" });
      await api.ok(alice, UPDATE, { r, input: { description: "between" } });
      await api.ok(dave, REACT, { m: m.id, e: "👍" });
      await api.ok(alice, PIN, { id: m.id });
      await api.ok(alice, REMOVE, { r, u: dave.id });
      await sub.nextWhere(isType("MemberLeft"));
      expectSequenced(sub.events);
      // the warm-up event included: one contiguous run
      expectContiguous(sub.events.map((e) => roomEvent(e).seq));
      expect(described(sub.events)).toEqual([
        `MemberJoined ${dave.id}`,
        `MessageAdded ${m.id}`,
        `MemberRoleChanged ${dave.id}`,
        "RoomUpdated between",
        `ReactionAdded ${m.id} ${dave.id} 👍`,
        `MessagePinned ${m.id} true`,
        `MemberLeft ${dave.id}`,
      ]);
    });
  });

  describe("Room.eventCursor", () => {
    it("is the newest event's cursor, read with the history, so roomEvents(after: it) follows on with exactly the next events", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      await send(r, "before");
      const { room } = await api.ok(carol, `query($r: ID!) { room(id: $r) { eventCursor messages: lastMessage { content } } }`, { r });
      expect(room.messages.content).toBe("before");
      const m = await send(r, "after the snapshot");
      const sub = subscribe(client(carol), ROOM_EVENTS, { r, after: room.eventCursor });
      const first = roomEvent(await sub.nextWhere(() => true));
      expect(first).toMatchObject({ __typename: "MessageAdded", seq: Number(room.eventCursor) + 1, message: { id: m.id } });
      const outsider = await api.ok(dave, `query($r: ID!) { room(id: $r) { eventCursor } }`, { r });
      expect(outsider.room).toBeNull();
    });
  });

  describe("message events on roomEvents, for the HTTP mutations", () => {
    it("MessageAdded, MessageEdited (with the earlier version) and MessageDeleted (the tombstone)", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const sub = await watch(carol, r);
      const m = await send(r, "first draft", bob);
      const addedEvent = roomEvent(await sub.nextWhere(isType("MessageAdded")));
      expect(addedEvent).toMatchObject({ message: { id: m.id, seq: m.seq, content: "first draft", sender: { id: bob.id } } });

      await api.ok(bob, EDIT, { id: m.id, c: "second draft" });
      const edited = roomEvent(await sub.nextWhere(isType("MessageEdited")));
      expect(edited.message).toMatchObject({ id: m.id, content: "second draft", edits: [{ content: "first draft" }] });
      expect(Number.isNaN(Date.parse(edited.message.editedAt))).toBe(false);

      await api.ok(bob, DELETE_MESSAGE, { id: m.id });
      const deleted = roomEvent(await sub.nextWhere(isType("MessageDeleted")));
      expect(deleted).toMatchObject({ message: { id: m.id, content: "" }, deletedBy: { id: bob.id } });
      expect(Number.isNaN(Date.parse(deleted.message.deletedAt))).toBe(false);
      expectSequenced(sub.events);
      expectContiguous(sub.events.map((e) => roomEvent(e).seq));
    });

    it("ReactionAdded and ReactionRemoved with the message, the user and the emoji", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const sub = await watch(carol, r);
      const m = await send(r, "react to me");
      await api.ok(bob, REACT, { m: m.id, e: "🎉" });
      expect(roomEvent(await sub.nextWhere(isType("ReactionAdded")))).toMatchObject({
        message: { id: m.id },
        user: { id: bob.id },
        emoji: "🎉",
      });
      await api.ok(bob, UNREACT, { m: m.id, e: "🎉" });
      expect(roomEvent(await sub.nextWhere(isType("ReactionRemoved")))).toMatchObject({
        message: { id: m.id },
        user: { id: bob.id },
        emoji: "🎉",
      });
    });

    it("ReadReceipt when a member's read marker moves (markRead)", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const sub = await watch(carol, r);
      await send(r, "one");
      const two = await send(r, "two");
      await api.ok(bob, MARK_READ, { r, m: two.id });
      expect(roomEvent(await sub.nextWhere((e) => isType("ReadReceipt")(e) && roomEvent(e).user.id === bob.id))).toMatchObject({
        user: { id: bob.id },
        message: { id: two.id },
      });
    });

    it("MessagePinned with pinned true for pinMessage and false for unpinMessage, and who did it", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const sub = await watch(carol, r);
      const m = await send(r, "pin me", bob);
      await api.ok(alice, PIN, { id: m.id });
      const pinned = roomEvent(await sub.nextWhere(isType("MessagePinned")));
      expect(pinned).toMatchObject({ message: { id: m.id }, pinned: true, by: { id: alice.id } });
      expect(Number.isNaN(Date.parse(pinned.message.pinnedAt))).toBe(false);
      await api.ok(alice, UNPIN, { id: m.id });
      expect(roomEvent(await sub.nextWhere(isType("MessagePinned")))).toMatchObject({
        message: { id: m.id, pinnedAt: null },
        pinned: false,
        by: { id: alice.id },
      });
    });

    it("no ReadReceipt for a user whose settings have showReadReceipts false", async () => {
      const [hider] = await registerUsers(server.url, ["hider"]);
      expect((await api.ok(hider, SETTINGS, { input: { showReadReceipts: false } })).updateSettings.showReadReceipts).toBe(false);
      const r = await makeRoom(api, alice, { members: [bob, carol, hider] });
      const sub = await watch(carol, r);
      const m = await send(r, "read me");
      await api.ok(hider, MARK_READ, { r, m: m.id });
      // a later event on the same stream: a ReadReceipt for `hider` would have come before it
      await api.ok(bob, MARK_READ, { r, m: m.id });
      await sub.nextWhere((e) => isType("ReadReceipt")(e) && roomEvent(e).user.id === bob.id);
      expect(sub.events.filter((e) => isType("ReadReceipt")(e) && roomEvent(e).user.id === hider.id)).toEqual([]);
    });
  });

  describe("resume", () => {
    it("roomEvents(after: cursor) replays exactly the missed events in order, then goes on live with no duplicate or gap", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const first = client(bob);
      const sub = subscribe(first, ROOM_EVENTS, { r });
      await warmUp(sub, () => api.ok(alice, UPDATE, { r, input: { description: `warm-up ${randomUUID()}` } }));
      const a1 = await send(r, "a1");
      await send(r, "a2");
      await sub.nextWhere(isAddedWith("a2"));
      const last = roomEvent(sub.events.at(-1)!);
      await first.dispose();

      // missed while away
      const b1 = await send(r, "b1");
      await api.ok(alice, EDIT, { id: b1.id, c: "b1 edited" });
      await api.ok(carol, REACT, { m: b1.id, e: "👍" });
      await api.ok(carol, MARK_READ, { r, m: b1.id });
      await api.ok(alice, PIN, { id: b1.id });
      await api.ok(alice, UPDATE, { r, input: { description: "missed" } });
      const b2 = await send(r, "b2");
      await api.ok(alice, DELETE_MESSAGE, { id: a1.id });

      const resumed = subscribe(client(bob), ROOM_EVENTS, { r, after: last.cursor });
      await resumed.nextWhere(isType("MessageDeleted"));
      const replayed = resumed.events.length;
      // live from here
      const c1 = await send(r, "c1");
      await api.ok(carol, UNREACT, { m: b1.id, e: "👍" });
      await api.ok(alice, UNPIN, { id: b1.id });
      await resumed.nextWhere((e) => isType("MessagePinned")(e) && roomEvent(e).pinned === false);

      expectSequenced(resumed.events);
      expectContiguous(
        resumed.events.map((e) => roomEvent(e).seq),
        last.seq + 1,
      );
      expect(described(resumed.events.slice(0, replayed))).toEqual([
        `MessageAdded ${b1.id}`,
        `MessageEdited ${b1.id}`,
        `ReactionAdded ${b1.id} ${carol.id} 👍`,
        `ReadReceipt ${carol.id} ${b1.id}`,
        `MessagePinned ${b1.id} true`,
        "RoomUpdated missed",
        `MessageAdded ${b2.id}`,
        `MessageDeleted ${a1.id}`,
      ]);
      expect(described(resumed.events.slice(replayed))).toEqual([
        `MessageAdded ${c1.id}`,
        `ReactionRemoved ${b1.id} ${carol.id} 👍`,
        `MessagePinned ${b1.id} false`,
      ]);
    });

    it("messageAdded(after: String(seq)) replays exactly the missed messages in order, then goes on live with no duplicate or gap", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const first = client(bob);
      const sub = subscribe(first, MESSAGE_ADDED, { r });
      await warmUp(sub, () => send(r, "warm-up"));
      await send(r, "m1");
      await send(r, "m2", carol);
      const lastSeen = added(await sub.nextWhere((e) => added(e)?.content === "m2"));
      await first.dispose();

      for (const c of ["m3", "m4", "m5"]) await send(r, c);
      const resumed = subscribe(client(bob), MESSAGE_ADDED, { r, after: String(lastSeen.seq) });
      await resumed.nextWhere((e) => added(e)?.content === "m5");
      expect(resumed.events.map((e) => added(e).content)).toEqual(["m3", "m4", "m5"]);
      await send(r, "m6", carol);
      await send(r, "m7");
      await resumed.nextWhere((e) => added(e)?.content === "m7");
      expect(resumed.events.map((e) => added(e).content)).toEqual(["m3", "m4", "m5", "m6", "m7"]);
      expectContiguous(
        resumed.events.map((e) => added(e).seq),
        lastSeen.seq + 1,
      );
    });

    it("without `after`, roomEvents and messageAdded start live: nothing older is replayed", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const old = [await send(r, "old 1"), await send(r, "old 2")];
      await api.ok(alice, UPDATE, { r, input: { description: "old" } });
      const c = client(bob);
      const events = subscribe(c, ROOM_EVENTS, { r });
      const messages = subscribe(c, MESSAGE_ADDED, { r });
      await warmUp(events, () => api.ok(alice, UPDATE, { r, input: { description: `warm-up ${randomUUID()}` } }));
      await warmUp(messages, () => send(r, "warm-up"));
      // anything replayed would have come before the first live event
      expect(describeEvent(events.events[0]!)).toMatch(/^RoomUpdated warm-up /);
      expect(added(messages.events[0]!).content).toBe("warm-up");
      await send(r, "new");
      await events.nextWhere(isAddedWith("new"));
      await messages.nextWhere((e) => added(e)?.content === "new");
      expect(described(events.events).filter((d) => d === "RoomUpdated old" || old.some((m) => d.includes(m.id)))).toEqual([]);
      expect(messages.events.map((e) => added(e).content).filter((m) => m.startsWith("old"))).toEqual([]);
    });

    it('a malformed cursor ("garbage") is BAD_USER_INPUT with field "after"', async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const c = client(bob);
      expect(await errorExtensions(subscribe(c, ROOM_EVENTS, { r, after: "garbage" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "after",
      });
      expect(await errorExtensions(subscribe(c, MESSAGE_ADDED, { r, after: "garbage" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "after",
      });
    });

    it("a removed member cannot resume: roomEvents and messageAdded with `after` are NOT_FOUND", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const first = client(bob);
      const sub = subscribe(first, ROOM_EVENTS, { r });
      await warmUp(sub, () => api.ok(alice, UPDATE, { r, input: { description: `warm-up ${randomUUID()}` } }));
      const m = await send(r, "before removal");
      await sub.nextWhere(isAddedWith("before removal"));
      const cursor = roomEvent(sub.events.at(-1)!).cursor;
      await first.dispose();

      await api.ok(alice, REMOVE, { r, u: bob.id });
      await send(r, "after removal");
      const c = client(bob);
      expect(await errorExtensions(subscribe(c, ROOM_EVENTS, { r, after: cursor }))).toMatchObject({ code: "NOT_FOUND" });
      expect(await errorExtensions(subscribe(c, MESSAGE_ADDED, { r, after: String(m.seq) }))).toMatchObject({ code: "NOT_FOUND" });
    });
  });

  describe(`the socket is cut ${DROPS} times while ${N} messages keep flowing (${SENDERS} senders), and resumed each time with the last cursor`, () => {
    for (const [kind, also] of [
      ["messageAdded", ""],
      ["roomEvents", ", seqs contiguous across the seam"],
    ] as const) {
      it(`${kind}: every message exactly once, in order${also}`, async () => {
        const r = await makeRoom(api, alice, { members: [bob, carol] });
        const scenario = { wsUrls: [server.wsUrl], sender: api, roomId: r, owner: alice, subscriber: bob, clients };
        expectGapFree(kind, await dropMidStream(kind, scenario));
      }, 60_000);
    }
  });
});

describe("the socket is cut while messages keep flowing, across two nodes: subscribed on A, resumed on B (then alternating), sent through B", () => {
  const {
    nodes: [a, b],
  } = useNodes(2, { RATE_LIMIT_SEND_MESSAGE: "1000/60" }); // far more than a user's 60 a minute
  let alice: TestUser, bob: TestUser;
  const clients: Client[] = [];

  beforeAll(async () => {
    [alice, bob] = await Promise.all([registerUser(b.url, "alice"), registerUser(a.url, "bob")]);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });

  for (const kind of ["roomEvents", "messageAdded"] as const) {
    it(`${kind}: every message exactly once, in order`, async () => {
      const viaB = on(b.url);
      const r = await makeRoom(viaB, alice, { name: "Across", members: [bob] });
      const scenario = { wsUrls: [a.wsUrl, b.wsUrl], sender: viaB, roomId: r, owner: alice, subscriber: bob, clients };
      expectGapFree(kind, await dropMidStream(kind, scenario));
    }, 60_000);
  }
});
