/**
 * The user event log and myEvents(after:) (realtime/event-log.ts logUserEvents,
 * realtime/room-activity.ts step 6): a row per recipient per event, written in the
 * change's transaction; RemovedFromRoom LEFT and HIDDEN on the user's other sockets;
 * myEvents(after: <sync cursor>) replays what came after the cursor (events, then a
 * RoomActivity per changed room) and not what came before, then continues live;
 * what is sent while it is being set up arrives exactly once; after a sync during
 * which messages and mentions are sent, myEvents(after: nextCursor) and
 * messageAdded(after: messageCursor) see each exactly once; the same across two
 * nodes; cursor errors; the sweep; erased with the account.
 * Real server over HTTP and graphql-ws, real PostgreSQL and Redis.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { encodeSyncCursor } from "../src/sync/cursor.js";
import {
  type GqlResponse,
  gqlOk,
  registerUser,
  registerUsers,
  type Subscription,
  subscribe,
  TEST_PASSWORD,
  type TestUser,
  wsClient,
} from "./helpers/client.js";
import { useNodes } from "./helpers/nodes.js";
import { sendMessage } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const { server, api, users, client } = useTestServer(["alice", "bob", "carol"], { redis: true, env: { RATE_LIMITS: "off" } });
const [alice, bob, carol] = users;

const MY_EVENTS = `subscription($after: String) { myEvents(after: $after) {
  __typename
  ... on RoomActivity { roomId unreadCount lastMessage { id seq content } }
  ... on MentionNotification { id message { id } }
  ... on RemovedFromRoom { roomId reason by { id } }
  ... on AddedToRoom { room { id } }
  ... on ContactRequest { id status }
  ... on InviteReceived { invite { id } }
} }`;
const SYNC = `query($since: String) { sync(since: $since, limitPerRoom: 100) { nextCursor rooms { room { id } messages { id seq } lastSeq messageCursor } } }`;
const CREATE = `mutation($n: String!, $m: [ID!]) { createRoom(input: { name: $n, type: GROUP, memberIds: $m }) { id } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id seq } }`;

type Event = NonNullable<GqlResponse["data"]>["myEvents"];
const event = (e: GqlResponse): Event => e.data?.myEvents;
/** A short label per event: what it is about. */
function label(e: Event): string {
  switch (e.__typename) {
    case "RoomActivity":
      return `activity ${e.roomId} #${e.lastMessage?.seq}`;
    case "MentionNotification":
      return `mention ${e.message.id}`;
    case "RemovedFromRoom":
      return `removed ${e.roomId} ${e.reason}`;
    case "AddedToRoom":
      return `added ${e.room.id}`;
    case "ContactRequest":
      return `contact ${e.id} ${e.status}`;
    case "InviteReceived":
      return `invite ${e.invite.id}`;
    default:
      return e.__typename;
  }
}

const createRoom = async (owner: TestUser, name: string, members: TestUser[]): Promise<string> =>
  (await api.ok(owner, CREATE, { n: name, m: members.map((m) => m.id) })).createRoom.id;
type Sync = {
  nextCursor: string;
  rooms: { room: { id: string }; messages: { id: string; seq: number }[]; lastSeq: number; messageCursor: string }[];
};
const sync = async (user: TestUser, since: string | null = null): Promise<Sync> => (await api.ok(user, SYNC, { since })).sync;
const snapshotOf = (cursor: string) => (JSON.parse(Buffer.from(cursor.slice(3), "base64url").toString()) as { s: string }).s;

/** A myEvents(after:) subscription on a new socket of `user`. */
const myEvents = (user: TestUser, after: string | null = null) => subscribe(client(user), MY_EVENTS, { after });

/**
 * Everything `sub` has until the RoomActivity of a sentinel message that `actor`
 * sends to `roomId` once `sub` has had its first event, so is set up: the sentinel
 * comes live (the last event taken, not returned).
 */
async function until(sub: Subscription, actor: TestUser, roomId: string): Promise<Event[]> {
  const got: Event[] = [event(await sub.next(10_000))];
  const sentinel = await sendMessage(api, actor, roomId, "sentinel");
  for (;;) {
    const e = event(await sub.next(10_000));
    if (e.__typename === "RoomActivity" && e.lastMessage?.id === sentinel.id) return got;
    got.push(e);
  }
}

/** The user's event log rows (payload kinds), oldest first. */
const logOf = async (userId: string) =>
  (await server.app.db.userEventLog.findMany({ where: { userId }, orderBy: { id: "asc" }, select: { id: true, payload: true } })).map(
    (r) => ({
      id: String(r.id),
      ...(r.payload as { kind: string; reason?: string; roomId?: string }),
    }),
  );

describe("the user event log", () => {
  it("gets one row per recipient for each user event, with the id the live copy carries", async () => {
    const [ann, ben, cat] = await registerUsers(server.url, ["ann", "ben", "cat"]);
    // with a cursor taken first, what happens while the subscription is being set up comes too
    const sub = myEvents(ben, (await sync(ben)).nextCursor);
    const room = await createRoom(ann, "logged", [ben, cat]);
    const added = event(await sub.nextWhere((e) => event(e).__typename === "AddedToRoom"));
    expect(added.room.id).toBe(room);
    for (const user of [ben, cat])
      expect((await logOf(user.id)).filter((r) => r.kind === "AddedToRoom" && r.roomId === room)).toHaveLength(1);
    expect(await logOf(ann.id)).toEqual([]); // the creator is told nothing
    // a contact request, a mention: one row each, for the addressee
    await api.ok(ann, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: ben.id });
    await sendMessage(api, ann, room, `hi @${ben.username}`);
    expect((await logOf(ben.id)).map((r) => r.kind)).toEqual(["AddedToRoom", "ContactRequest", "MentionNotification"]);
    // the live payload carries the row's id (the bus is Redis here: read it off the channel)
    const received: { logId?: string }[] = [];
    const id = await server.app.pubsub.subscribe(`user:{${ben.id}}:events`, (p: { logId?: string }) => received.push(p), {});
    try {
      await api.ok(cat, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: ben.id });
      await sub.nextWhere((e) => event(e).__typename === "ContactRequest" && event(e).status === "PENDING");
      await expect.poll(() => received.length).toBe(1);
      expect(received[0]!.logId).toBe((await logOf(ben.id)).at(-1)!.id);
    } finally {
      server.app.pubsub.unsubscribe(id);
    }
  });

  it("is written in the change's transaction: when the log cannot be written, the change is rolled back", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const room = await createRoom(ann, "atomic", []);
    const db = server.app.db;
    await db.$executeRawUnsafe(
      `CREATE FUNCTION test_refuse_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'log refused'; END $$`,
    );
    await db.$executeRawUnsafe(
      `CREATE TRIGGER test_refuse_log BEFORE INSERT ON "UserEventLog" FOR EACH ROW WHEN (NEW."userId" = '${ben.id}') EXECUTE FUNCTION test_refuse_log()`,
    );
    try {
      const add = await api.run(ann, `mutation($r: ID!, $u: ID!) { addRoomMember(roomId: $r, userId: $u) { role } }`, {
        r: room,
        u: ben.id,
      });
      expect(add.errors?.[0]?.extensions?.code).toBe("INTERNAL_SERVER_ERROR");
      const invite = await api.run(ann, `mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }`, {
        r: room,
        u: ben.id,
      });
      expect(invite.errors).toBeDefined();
      expect(await db.roomMember.count({ where: { roomId: room, userId: ben.id } })).toBe(0);
      expect(await db.roomInvite.count({ where: { roomId: room, inviteeId: ben.id } })).toBe(0);
    } finally {
      await db.$executeRawUnsafe(`DROP TRIGGER test_refuse_log ON "UserEventLog"`);
      await db.$executeRawUnsafe(`DROP FUNCTION test_refuse_log()`);
    }
    // and a change that fails writes no row
    await api.ok(ann, `mutation($r: ID!, $u: ID!) { addRoomMember(roomId: $r, userId: $u) { role } }`, { r: room, u: ben.id });
    const again = await api.run(ann, `mutation($r: ID!, $u: ID!) { addRoomMember(roomId: $r, userId: $u) { role } }`, {
      r: room,
      u: ben.id,
    });
    expect(again.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect((await logOf(ben.id)).map((r) => r.kind)).toEqual(["AddedToRoom"]);
  });

  it("is erased with the account (deleteAccount keeps the row as a tombstone: no cascade)", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    await api.ok(ann, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: ben.id });
    expect(await logOf(ben.id)).toHaveLength(1);
    await api.ok(ben, `mutation($p: String!) { deleteAccount(password: $p) }`, { p: TEST_PASSWORD });
    expect(await logOf(ben.id)).toEqual([]);
  });

  it("LEFT and HIDDEN reach the user's other sockets; a hidden DIRECT room's next message still comes as RoomActivity", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const phone = myEvents(ben, (await sync(ben)).nextCursor);
    const group = await createRoom(ann, "to leave", [ben]);
    await phone.nextWhere((e) => event(e).__typename === "AddedToRoom");
    await api.ok(ben, `mutation($r: ID!) { leaveRoom(roomId: $r) }`, { r: group });
    expect(label(event(await phone.next()))).toBe(`removed ${group} LEFT`);

    const direct = (await api.ok(ann, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: ben.id })).directRoom.id;
    await phone.nextWhere((e) => event(e).__typename === "DirectRoomCreated");
    await api.ok(ben, `mutation($r: ID!) { deleteRoom(roomId: $r) }`, { r: direct });
    expect(event(await phone.next())).toMatchObject({
      __typename: "RemovedFromRoom",
      roomId: direct,
      reason: "HIDDEN",
      by: { id: ben.id },
    });
    const m = await sendMessage(api, ann, direct, "back again");
    expect(event(await phone.next())).toMatchObject({ __typename: "RoomActivity", roomId: direct, lastMessage: { id: m.id } });
    expect((await logOf(ben.id)).map((r) => `${r.kind} ${r.reason ?? ""}`.trim())).toEqual([
      "AddedToRoom",
      "RemovedFromRoom LEFT",
      "DirectRoomCreated",
      "RemovedFromRoom HIDDEN",
    ]);

    // the OWNER who deletes a room: their other devices hear it too
    const doomed = await createRoom(ben, "doomed", [ann]);
    await api.ok(ben, `mutation($r: ID!) { deleteRoom(roomId: $r) }`, { r: doomed });
    expect(label(event(await phone.nextWhere((e) => event(e).__typename === "RemovedFromRoom")))).toBe(`removed ${doomed} ROOM_DELETED`);
  });
});

describe("myEvents(after:)", () => {
  it("replays the events and room activity after the cursor, not those before, then continues live", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const quiet = await createRoom(ann, "quiet", [ben]);
    const busy = await createRoom(ann, "busy", [ben]);
    await sendMessage(api, ann, quiet, "before the cursor");
    await sendMessage(api, ann, busy, "before the cursor");
    await api.ok(ann, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: ben.id });
    const { nextCursor } = await sync(ben);

    const later = await createRoom(ann, "later", [ben]);
    await sendMessage(api, ann, busy, "after 1");
    const newest = await sendMessage(api, ann, busy, `after 2 @${ben.username}`);
    await api.ok(ben, `mutation($r: ID!) { leaveRoom(roomId: $r) }`, { r: quiet });
    await sendMessage(api, ann, later, "in later");
    const laterMessage = (await api.ok(ann, `query($r: ID!) { room(id: $r) { lastMessage { id seq } } }`, { r: later })).room.lastMessage;

    const sub = myEvents(ben, nextCursor);
    const replayed = await until(sub, ann, busy);
    // his events in the order they happened, then one RoomActivity per changed room (its newest message), not for the room he left
    expect(replayed.slice(0, 3).map(label)).toEqual([`added ${later}`, `mention ${newest.id}`, `removed ${quiet} LEFT`]);
    expect(replayed.slice(3).map(label).sort()).toEqual(
      [`activity ${busy} #${newest.seq}`, `activity ${later} #${laterMessage.seq}`].sort(),
    );
    expect(replayed.find((e) => e.__typename === "RoomActivity" && e.roomId === busy)).toMatchObject({ unreadCount: 3 });
    // nothing from before the cursor (the contact request, the first messages)
    expect(replayed.some((e) => e.__typename === "ContactRequest" || e.lastMessage?.content === "before the cursor")).toBe(false);
    // live: a new message comes once
    const live = await sendMessage(api, ann, later, "live");
    expect(label(event(await sub.next()))).toBe(`activity ${later} #${live.seq}`);
    await expect(sub.next(300)).rejects.toThrow();
  });

  it("what is sent while it is being set up arrives exactly once (20 rounds)", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const room = await createRoom(ann, "race", [ben]);
    for (let round = 0; round < 20; round++) {
      const { nextCursor } = await sync(ben);
      const c = client(ben);
      const sending = (async () => {
        const sent: { id: string; seq: number }[] = [];
        for (let i = 0; i < 4; i++) sent.push(await sendMessage(api, ann, room, `round ${round} #${i} @${ben.username}`));
        return sent;
      })();
      const sub = subscribe(c, MY_EVENTS, { after: nextCursor });
      const sent = await sending;
      const got = await until(sub, ann, room);
      sub.stop();
      // every mention once, in order
      const mentions = got.filter((e) => e.__typename === "MentionNotification").map((e) => e.message.id);
      expect(mentions, `round ${round}`).toEqual(sent.map((m) => m.id));
      // room activity: seqs rising (no duplicate), up to the newest message
      const seqs = got.filter((e) => e.__typename === "RoomActivity").map((e) => e.lastMessage.seq as number);
      expect(seqs.length, `round ${round}`).toBeGreaterThan(0);
      expect(
        [...seqs].sort((a, b) => a - b),
        `round ${round}`,
      ).toEqual([...new Set(seqs)]);
      expect(seqs.at(-1), `round ${round}`).toBe(sent.at(-1)!.seq);
      await c.dispose();
    }
  }, 120_000);

  it("after a sync during which messages and mentions are sent: myEvents(after: nextCursor) and messageAdded(after: messageCursor) see each exactly once", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const rooms = [await createRoom(ann, "one", [ben]), await createRoom(ann, "two", [ben])];
    const first = await sync(ben);
    const since = Object.fromEntries(first.rooms.map((r) => [r.room.id, r.lastSeq]));
    const PER_ROOM = 30;
    const sending = (async () => {
      for (let i = 1; i <= PER_ROOM; i++) {
        await Promise.all(rooms.map((r) => sendMessage(api, ann, r, i % 3 === 0 ? `${i} @${ben.username}` : `${i}`)));
      }
    })();
    // a sync while the messages are being sent
    await new Promise((resolve) => setTimeout(resolve, 50));
    const during = await sync(ben, first.nextCursor);
    const seen = new Map<string, number[]>(rooms.map((r) => [r, []]));
    for (const r of during.rooms) seen.get(r.room.id)?.push(...r.messages.map((m) => m.seq));
    const mine = myEvents(ben, during.nextCursor);
    const follows = rooms.map((r) => {
      const synced = during.rooms.find((s) => s.room.id === r);
      return subscribe(client(ben), `subscription($r: ID!, $after: String) { messageAdded(roomId: $r, after: $after) { seq } }`, {
        r,
        after: synced?.messageCursor ?? String(since[r]),
      });
    });
    await sending;
    const total = (r: string) => since[r]! + PER_ROOM;
    for (const [i, r] of rooms.entries()) {
      const sub = follows[i]!;
      while ((seen.get(r)!.at(-1) ?? 0) < total(r)) seen.get(r)!.push((await sub.next()).data!.messageAdded.seq);
      await expect(sub.next(300)).rejects.toThrow();
      sub.stop();
      expect(seen.get(r)).toEqual(Array.from({ length: PER_ROOM }, (_, k) => since[r]! + 1 + k));
    }
    // the mentions: those written after the sync's snapshot, each once; none of those before it
    const got = await until(mine, ann, rooms[0]!);
    const mentions = got.filter((e) => e.__typename === "MentionNotification").map((e) => e.id as string);
    const after = await server.app.db.$queryRaw<{ id: string }[]>`
      SELECT payload->>'notificationId' AS id FROM "UserEventLog"
      WHERE "userId" = ${ben.id}::uuid AND payload->>'kind' = 'MentionNotification' AND NOT pg_visible_in_snapshot(xid, ${snapshotOf(during.nextCursor)}::pg_snapshot)`;
    expect(new Set(mentions).size).toBe(mentions.length);
    expect([...mentions].sort()).toEqual(after.map((r) => r.id).sort());
    const all = await server.app.db.notification.count({ where: { userId: ben.id } });
    expect(all).toBe((PER_ROOM / 3) * rooms.length);
    // room activity per room: rising seqs, ending at the newest message
    for (const r of rooms) {
      const seqs = got.filter((e) => e.__typename === "RoomActivity" && e.roomId === r).map((e) => e.lastMessage.seq as number);
      expect([...new Set(seqs)].sort((a, b) => a - b)).toEqual(seqs);
      expect(seqs.at(-1)).toBe(total(r));
    }
  }, 60_000);

  it("refuses a malformed cursor (BAD_USER_INPUT on after) and an expired one (SYNC_CURSOR_EXPIRED)", async () => {
    // the refusal comes as the subscription's one result (graphql-ws `next` with errors), then it completes
    const refusal = async (sub: Subscription) => (await sub.next()).errors?.[0]?.extensions;
    expect(await refusal(myEvents(alice, "nonsense"))).toMatchObject({ code: "BAD_USER_INPUT", field: "after" });
    const { nextCursor } = await sync(bob);
    const old = encodeSyncCursor({
      snapshot: snapshotOf(nextCursor),
      at: Date.now() - (server.app.config.SYNC_RETENTION_DAYS * 86_400_000 + 60_000),
    });
    expect(await refusal(myEvents(carol, old))).toMatchObject({ code: "BAD_USER_INPUT", field: "after", reason: "SYNC_CURSOR_EXPIRED" });
  });
});

describe("the event log's sweep", () => {
  // the first sweep (after EXPIRY_SWEEP_MS) trims the log; later ones once a minute
  const swept = useTestServer(["dora"], { env: { EXPIRY_SWEEP_MS: "4000" } });
  const [dora] = swept.users;

  it("deletes the rows older than SYNC_RETENTION_DAYS, keeps the others", async () => {
    const db = swept.server.app.db;
    const days = swept.server.app.config.SYNC_RETENTION_DAYS;
    await db.$executeRaw`INSERT INTO "UserEventLog" ("userId", payload, "createdAt") VALUES
      (${dora.id}::uuid, '{"kind":"InviteReceived","inviteId":"old"}', now() - make_interval(days => ${days + 1}::int)),
      (${dora.id}::uuid, '{"kind":"InviteReceived","inviteId":"recent"}', now() - make_interval(days => ${days - 1}::int))`;
    const inviteIds = async () =>
      (await db.userEventLog.findMany({ where: { userId: dora.id } })).map((r) => (r.payload as { inviteId: string }).inviteId);
    await expect.poll(inviteIds, { timeout: 10_000, interval: 200 }).toEqual(["recent"]);
  });
});

describe("myEvents(after:) across two nodes sharing PostgreSQL and Redis", () => {
  const {
    nodes: [a, b],
  } = useNodes(2, { RATE_LIMITS: "off" });
  let ann: TestUser, ben: TestUser;
  beforeAll(async () => {
    [ann, ben] = await Promise.all([registerUser(a.url, "ann"), registerUser(b.url, "ben")]);
  });

  it("subscribed on one node while the other takes the sends and mentions: each once (10 rounds)", async () => {
    const ok = (url: string, user: TestUser, query: string, variables: Record<string, unknown>) =>
      gqlOk(url, query, variables, user.accessToken);
    const room = (await ok(b.url, ann, CREATE, { n: "across", m: [ben.id] })).createRoom.id as string;
    const sendB = async (content: string) =>
      (await ok(b.url, ann, SEND, { r: room, c: content })).sendMessage as { id: string; seq: number };
    for (let round = 0; round < 10; round++) {
      const { nextCursor } = (await ok(a.url, ben, SYNC, { since: null })).sync as Sync;
      const c = wsClient(a.wsUrl, ben.accessToken);
      try {
        const sending = (async () => {
          const sent: { id: string; seq: number }[] = [];
          for (let i = 0; i < 3; i++) sent.push(await sendB(`round ${round} #${i} @${ben.username}`));
          return sent;
        })();
        const sub = subscribe(c, MY_EVENTS, { after: nextCursor });
        const sent = await sending;
        const got: Event[] = [event(await sub.next(10_000))];
        const sentinel = await sendB("sentinel");
        for (;;) {
          const e = event(await sub.next(10_000));
          if (e.__typename === "RoomActivity" && e.lastMessage?.id === sentinel.id) break;
          got.push(e);
        }
        expect(
          got.filter((e) => e.__typename === "MentionNotification").map((e) => e.message.id),
          `round ${round}`,
        ).toEqual(sent.map((m) => m.id));
        const seqs = got.filter((e) => e.__typename === "RoomActivity").map((e) => e.lastMessage.seq as number);
        expect(
          [...new Set(seqs)].sort((x, y) => x - y),
          `round ${round}`,
        ).toEqual(seqs);
        expect(seqs.at(-1), `round ${round}`).toBe(sent.at(-1)!.seq);
      } finally {
        await c.dispose();
      }
    }
  }, 120_000);
});
