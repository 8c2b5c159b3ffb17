/**
 * Self-destructing messages (issue 5 contract): sendMessage expiresIn (only the
 * seed 001 timers, else BAD_USER_INPUT on input.expiresIn) sets expiresAt; at
 * that time a sweep (every EXPIRY_SWEEP_MS, here 200 ms) purges the content —
 * a tombstone with content "" and deletedAt — and roomEvents gets one
 * MessageExpired. The schedule is in PostgreSQL: a node stopped (SIGTERM or
 * SIGKILL) before the time and a new node on the same database still purges
 * the message; and with two nodes sweeping, each message expires exactly once.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "graphql-ws";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ext,
  type GqlResponse,
  gqlOk,
  registerUser,
  type Subscription,
  subscribe,
  type TestUser,
  warmUp,
  wsClient,
} from "./helpers/client.js";
import { startNodes } from "./helpers/node-process.js";
import { useNodes } from "./helpers/nodes.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const ROOM_EVENTS = `subscription($r: ID!, $after: String) { roomEvents(roomId: $r, after: $after) { __typename
  ... on SequencedEvent { seq cursor at }
  ... on RoomUpdated { room { id } }
  ... on MessageAdded { message { id } }
  ... on MessageDeleted { message { id } }
  ... on MessageExpired { message { id content deletedAt expiresAt } } } }`;
const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const UPDATE = `mutation($r: ID!, $input: UpdateRoomInput!) { updateRoom(roomId: $r, input: $input) { id } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id seq content createdAt expiresAt deletedAt } }`;
const MESSAGES = `query($r: ID!) { messages(roomId: $r, first: 100) { edges { node { id content deletedAt expiresAt } } } }`;
const DELETE_MESSAGE = `mutation($id: ID!) { deleteMessage(id: $id) { id deletedAt } }`;

const SWEEP_MS = 200;
const roomEvent = (e: GqlResponse) => e.data?.roomEvents;
const isExpired = (messageId?: string) => (e: GqlResponse) =>
  roomEvent(e)?.__typename === "MessageExpired" && (messageId === undefined || roomEvent(e).message.id === messageId);

/** The message `id` of `roomId` as `user` sees it in `messages` at `url`. */
async function messageOf(url: string, user: TestUser, roomId: string, id: string): Promise<any> {
  const data = await gqlOk(url, MESSAGES, { r: roomId }, user.accessToken);
  return data.messages.edges.map((e: any) => e.node).find((m: any) => m.id === id);
}

/**
 * Polls `messages` until message `id` is a tombstone, at most until `deadline`
 * (epoch ms); resolves with it and when it was first seen purged. Connection
 * errors (a node starting) count as "not yet".
 */
async function untilPurged(
  url: () => string,
  user: TestUser,
  roomId: string,
  id: string,
  deadline: number,
): Promise<{ message: any; seenAt: number }> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      last = await messageOf(url(), user, roomId, id);
      if ((last as any)?.deletedAt) return { message: last, seenAt: Date.now() };
    } catch (e) {
      last = e;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`message ${id} not purged by ${new Date(deadline).toISOString()}; last seen: ${JSON.stringify(last)}`);
}

describe("self-destructing messages (one node)", () => {
  const {
    server,
    api,
    client,
    users: [alice, bob],
  } = useTestServer(["alice", "bob"], { redis: true, env: { EXPIRY_SWEEP_MS: String(SWEEP_MS) } });

  async function watchRoom(viewer: TestUser, roomId: string): Promise<Subscription> {
    const sub = subscribe(client(viewer), ROOM_EVENTS, { r: roomId });
    await warmUp(sub, () => api.ok(alice, UPDATE, { r: roomId, input: { description: `warm-up ${randomUUID()}` } }));
    return sub;
  }

  it("accepts exactly the timers 5, 10, 30, 60, 300, 3600, 86400, 604800 and sets expiresAt to send time + expiresIn", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    for (const expiresIn of [5, 10, 30, 60, 300, 3600, 86400, 604800]) {
      const before = Date.now();
      const m = (await api.ok(alice, SEND, { input: { roomId: r, content: `timer ${expiresIn}`, expiresIn } })).sendMessage;
      const after = Date.now();
      expect(m.deletedAt, `${expiresIn}`).toBeNull();
      expect(m.content).toBe(`timer ${expiresIn}`);
      const expiresAt = Date.parse(m.expiresAt);
      // within the request's time window (plus clock skew between test and database)
      expect(expiresAt, `${expiresIn}`).toBeGreaterThanOrEqual(before + expiresIn * 1000 - 2000);
      expect(expiresAt, `${expiresIn}`).toBeLessThanOrEqual(after + expiresIn * 1000 + 2000);
      expect(expiresAt - Date.parse(m.createdAt), `${expiresIn}`).toBeGreaterThanOrEqual(expiresIn * 1000 - 1000);
      expect(expiresAt - Date.parse(m.createdAt), `${expiresIn}`).toBeLessThanOrEqual(expiresIn * 1000 + 1000);
    }
    const plain = (await api.ok(alice, SEND, { input: { roomId: r, content: "forever" } })).sendMessage;
    expect(plain.expiresAt).toBeNull();
    const nulled = (await api.ok(alice, SEND, { input: { roomId: r, content: "forever too", expiresIn: null } })).sendMessage;
    expect(nulled.expiresAt).toBeNull();
  });

  it("refuses any other expiresIn with BAD_USER_INPUT on input.expiresIn, storing nothing", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    for (const expiresIn of [0, -5, 1, 4, 6, 15, 120, 604801, 2_000_000_000]) {
      const res = await api.run(alice, SEND, { input: { roomId: r, content: `bad ${expiresIn}`, expiresIn } });
      expect(res.data?.sendMessage ?? null, `${expiresIn}`).toBeNull();
      expect(ext(res), `${expiresIn}`).toMatchObject({ code: "BAD_USER_INPUT", field: "input.expiresIn" });
    }
    const stored = (await api.ok(alice, MESSAGES, { r })).messages.edges;
    expect(stored).toEqual([]);
  });

  it("purges the content at expiresAt (a tombstone), with a MessageExpired on roomEvents; other messages stay", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const sub = await watchRoom(bob, r);
    const keep = (await api.ok(alice, SEND, { input: { roomId: r, content: "I stay" } })).sendMessage;
    const m = (await api.ok(alice, SEND, { input: { roomId: r, content: "This will vanish", expiresIn: 5 } })).sendMessage;
    const expiresAt = Date.parse(m.expiresAt);
    // not before its time
    expect(await messageOf(server.url, bob, r, m.id)).toMatchObject({ content: "This will vanish", deletedAt: null });

    const event = roomEvent(await sub.nextWhere(isExpired(m.id), 5000 + 10_000));
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 1000);
    expect(event.message).toMatchObject({ id: m.id, content: "", expiresAt: m.expiresAt });
    expect(event.message.deletedAt).not.toBeNull();
    expect(Date.parse(event.at)).toBeGreaterThanOrEqual(expiresAt - 1000);
    expect(Date.parse(event.message.deletedAt)).toBeGreaterThanOrEqual(expiresAt - 1000);
    // about on time: within a few sweeps (generous for a loaded machine)
    expect(Date.parse(event.message.deletedAt)).toBeLessThanOrEqual(expiresAt + 5000);

    for (const viewer of [alice, bob]) {
      const purged = await messageOf(server.url, viewer, r, m.id);
      expect(purged).toMatchObject({ content: "", expiresAt: m.expiresAt });
      expect(purged.deletedAt).not.toBeNull();
      expect(await messageOf(server.url, viewer, r, keep.id)).toMatchObject({ content: "I stay", deletedAt: null });
    }
    // one MessageExpired only, and no MessageDeleted for it: a later event shows everything before it has arrived
    await api.ok(alice, UPDATE, { r, input: { description: "after expiry" } });
    await sub.nextWhere((e) => roomEvent(e)?.__typename === "RoomUpdated");
    expect(sub.events.filter(isExpired(m.id))).toHaveLength(1);
    expect(sub.events.filter((e) => roomEvent(e)?.__typename === "MessageDeleted")).toEqual([]);
    // seq goes on by one per event, no gap
    const seqs = sub.events.map((e) => roomEvent(e).seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
  });

  it("a message deleted before its time gets no MessageExpired", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const sub = await watchRoom(bob, r);
    const doomed = (await api.ok(alice, SEND, { input: { roomId: r, content: "deleted first", expiresIn: 5 } })).sendMessage;
    const control = (await api.ok(alice, SEND, { input: { roomId: r, content: "expires", expiresIn: 5 } })).sendMessage;
    await api.ok(alice, DELETE_MESSAGE, { id: doomed.id });
    // the control message expires at (about) the same time: by its MessageExpired the sweep has passed `doomed` too
    await sub.nextWhere(isExpired(control.id), 15_000);
    await api.ok(alice, UPDATE, { r, input: { description: "after" } });
    await sub.nextWhere((e) => roomEvent(e)?.__typename === "RoomUpdated");
    expect(sub.events.filter(isExpired(doomed.id))).toEqual([]);
    expect(sub.events.filter((e) => roomEvent(e)?.__typename === "MessageDeleted" && roomEvent(e).message.id === doomed.id)).toHaveLength(
      1,
    );
  });
});

describe("self-destructing messages survive a restart", () => {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    it(`a node stopped with ${signal} before the time: a new node on the same database purges the message`, async () => {
      const group = await startNodes(1, { EXPIRY_SWEEP_MS: String(SWEEP_MS) });
      try {
        const [first] = group.nodes;
        const [alice, bob] = await Promise.all([registerUser(first.url, "alice"), registerUser(first.url, "bob")]);
        const r = (await gqlOk(first.url, CREATE, { input: { name: "Restart", type: "GROUP", memberIds: [bob.id] } }, alice.accessToken))
          .createRoom.id;
        const keep = (await gqlOk(first.url, SEND, { input: { roomId: r, content: "I stay" } }, alice.accessToken)).sendMessage;
        // bob follows the room on the first node and keeps the cursor of the last event he saw
        const c1 = wsClient(first.wsUrl, bob.accessToken);
        const before = subscribe(c1, ROOM_EVENTS, { r });
        await warmUp(before, () => gqlOk(first.url, UPDATE, { r, input: { description: `warm-up ${randomUUID()}` } }, alice.accessToken));
        const m = (await gqlOk(first.url, SEND, { input: { roomId: r, content: "vanish after restart", expiresIn: 5 } }, alice.accessToken))
          .sendMessage;
        const expiresAt = Date.parse(m.expiresAt);
        const added = roomEvent(
          await before.nextWhere((e) => roomEvent(e)?.__typename === "MessageAdded" && roomEvent(e).message.id === m.id),
        );
        await c1.dispose();
        await first.stop(signal);
        // the test only means something when the node was gone before the message was due
        expect(Date.now()).toBeLessThan(expiresAt);

        const second = await group.startAnother();
        if (Date.now() < expiresAt - 500) {
          // up before the time: not purged early
          expect(await messageOf(second.url, bob, r, m.id)).toMatchObject({ content: "vanish after restart", deletedAt: null });
        }
        const { message, seenAt } = await untilPurged(() => second.url, bob, r, m.id, Math.max(expiresAt, Date.now()) + 15_000);
        expect(seenAt).toBeGreaterThanOrEqual(expiresAt - 1000);
        expect(message).toMatchObject({ id: m.id, content: "", expiresAt: m.expiresAt });
        expect(await messageOf(second.url, bob, r, keep.id)).toMatchObject({ content: "I stay", deletedAt: null });

        // bob resumes on the new node from his cursor: the one MessageExpired is in the room's log, right after what he had
        const c = wsClient(second.wsUrl, bob.accessToken);
        try {
          const sub = subscribe(c, ROOM_EVENTS, { r, after: added.cursor });
          const expired = roomEvent(await sub.nextWhere(isExpired(m.id), 5000));
          expect(expired.message).toMatchObject({ id: m.id, content: "" });
          expect(Date.parse(expired.at)).toBeGreaterThanOrEqual(expiresAt - 1000);
          await gqlOk(second.url, UPDATE, { r, input: { description: "after restart" } }, alice.accessToken);
          const updated = roomEvent(await sub.nextWhere((e) => roomEvent(e)?.__typename === "RoomUpdated"));
          expect(sub.events.filter(isExpired())).toHaveLength(1);
          const seqs = sub.events.map((e) => roomEvent(e).seq);
          expect(seqs).toEqual(seqs.map((_, i) => added.seq + 1 + i));
          expect(seqs[seqs.length - 1]).toBe(updated.seq);
        } finally {
          await c.dispose();
        }
      } finally {
        await group.stop();
      }
    }, 120_000);
  }
});

describe("self-destructing messages with two nodes sweeping", () => {
  const {
    nodes: [a, b],
  } = useNodes(2, { EXPIRY_SWEEP_MS: String(SWEEP_MS) });
  let alice: TestUser, bob: TestUser;
  const clients: Client[] = [];

  beforeAll(async () => {
    [alice, bob] = await Promise.all([registerUser(a.url, "alice"), registerUser(b.url, "bob")]);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });

  it("each expiring message gets exactly one MessageExpired, whichever node purges it", async () => {
    const r = (await gqlOk(a.url, CREATE, { input: { name: "Two sweepers", type: "GROUP", memberIds: [bob.id] } }, alice.accessToken))
      .createRoom.id;
    const ca = wsClient(a.wsUrl, alice.accessToken);
    clients.push(ca);
    const sub = subscribe(ca, ROOM_EVENTS, { r });
    await warmUp(sub, () => gqlOk(b.url, UPDATE, { r, input: { description: `warm-up ${randomUUID()}` } }, alice.accessToken));
    const start = roomEvent(sub.events[sub.events.length - 1]!);

    // many messages due at about the same time, sent through both nodes
    const COUNT = 12;
    const sent = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        gqlOk(
          i % 2 ? a.url : b.url,
          SEND,
          { input: { roomId: r, content: `burst ${i}`, expiresIn: 5 } },
          (i % 3 ? alice : bob).accessToken,
        ).then((d) => d.sendMessage),
      ),
    );
    const ids = sent.map((m: any) => m.id as string);
    const lastDue = Math.max(...sent.map((m: any) => Date.parse(m.expiresAt)));
    // COUNT MessageExpired events, in whatever order the messages fall due
    for (let i = 0; i < COUNT; i++) await sub.nextWhere(isExpired(), Math.max(lastDue - Date.now(), 0) + 15_000);

    // a later event: any duplicate MessageExpired was published before it
    await gqlOk(b.url, UPDATE, { r, input: { description: "after the burst" } }, alice.accessToken);
    await sub.nextWhere((e) => roomEvent(e)?.__typename === "RoomUpdated");
    const expired = sub.events.filter(isExpired()).map((e) => roomEvent(e).message.id);
    expect([...expired].sort()).toEqual([...ids].sort());
    const seqs = sub.events.map((e) => roomEvent(e).seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));

    // the stored log, replayed on the other node, says the same
    const cb = wsClient(b.wsUrl, bob.accessToken);
    clients.push(cb);
    const replay = subscribe(cb, ROOM_EVENTS, { r, after: start.cursor });
    const lastSeq = roomEvent(sub.events[sub.events.length - 1]!).seq;
    await replay.nextWhere((e) => roomEvent(e)?.seq === lastSeq, 10_000);
    expect(replay.events.map((e) => roomEvent(e).seq)).toEqual(seqs.filter((s) => s > start.seq));
    expect(
      replay.events
        .filter(isExpired())
        .map((e) => roomEvent(e).message.id)
        .sort(),
    ).toEqual([...ids].sort());

    // and every message is a tombstone
    for (const id of ids) {
      const m = await messageOf(b.url, bob, r, id);
      expect(m, id).toMatchObject({ content: "" });
      expect(m.deletedAt, id).not.toBeNull();
    }
  }, 90_000);
});
