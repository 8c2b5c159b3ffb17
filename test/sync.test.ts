/**
 * Query.sync, the catch-up sync (issue 17, section 2; docs/architecture.md,
 * "Catch-up sync"): the initial sync, incremental syncs that return only what
 * changed, the `limited` flag and paging back with previousCursor, memberships
 * begun and ended, invites, the hand-over to messageAdded and roomEvents with
 * messages sent during the sync, the bounded number of SQL statements, and the
 * cursor's errors. Real server over HTTP (and graphql-ws for the hand-over),
 * real PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodeSyncCursor } from "../src/sync/cursor.js";
import { errorCode, ext, gql, registerUsers, type Subscription, subscribe, type TestUser } from "./helpers/client.js";
import { sendMessage } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";
import { useStatementCounter } from "./helpers/statements.js";

// the background sweeps (expired messages, presence) run their own statements: slowed out of the counting
// window; rate limits off: the set-up sends more than a user may in a minute
const { server, api, users, client } = useTestServer(["alice", "bob", "carol"], {
  env: { EXPIRY_SWEEP_MS: "60000", PRESENCE_TTL_MS: "60000", RATE_LIMITS: "off" },
});
const [alice, bob, carol] = users;

const SYNC = `query($since: String, $limit: Int) { sync(since: $since, limitPerRoom: $limit) {
  nextCursor initial
  rooms { room { id name type eventCursor } joined messages { id seq content sender { id } } limited previousCursor unreadCount lastSeq messageCursor eventCursor }
  leftRooms { roomId roomName reason at }
  invites { id room { id name } inviter { id } }
} }`;

interface SyncRoom {
  room: { id: string; name: string | null; type: string; eventCursor: string };
  joined: boolean;
  messages: { id: string; seq: number; content: string; sender: { id: string } }[];
  limited: boolean;
  previousCursor: string | null;
  unreadCount: number;
  lastSeq: number;
  messageCursor: string;
  eventCursor: string;
}
interface Sync {
  nextCursor: string;
  initial: boolean;
  rooms: SyncRoom[];
  leftRooms: { roomId: string; roomName: string | null; reason: string; at: string }[];
  invites: { id: string; room: { id: string; name: string } }[];
}

const sync = async (user: TestUser, since: string | null = null, limit?: number): Promise<Sync> =>
  (await api.ok(user, SYNC, { since, limit })).sync;
const roomOf = (s: Sync, roomId: string) => s.rooms.find((r) => r.room.id === roomId);

async function createRoom(owner: TestUser, name: string, members: TestUser[], type = "GROUP"): Promise<string> {
  const data = await api.ok(owner, `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`, {
    input: { name, type, memberIds: members.map((m) => m.id) },
  });
  return data.createRoom.id;
}

const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id seq } }`;

describe("sync", () => {
  it("the initial sync returns every room of the viewer with its newest messages, counts and cursors", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const quiet = await createRoom(ann, "quiet", [ben]);
    const busy = await createRoom(ben, "busy", [ann]);
    for (let i = 1; i <= 25; i++) await sendMessage(api, ben, busy, `busy ${i}`);

    const s = await sync(ann, null, 10);
    expect(s.initial).toBe(true);
    expect(s.leftRooms).toEqual([]);
    expect(s.rooms.map((r) => r.room.id).sort()).toEqual([quiet, busy].sort());
    expect(roomOf(s, quiet)).toMatchObject({
      joined: true,
      messages: [],
      limited: false,
      previousCursor: null,
      unreadCount: 0,
      lastSeq: 0,
      messageCursor: "0",
    });
    const b = roomOf(s, busy)!;
    expect(b).toMatchObject({
      room: { name: "busy", type: "GROUP" },
      joined: true,
      limited: true,
      unreadCount: 25,
      lastSeq: 25,
      messageCursor: "25",
    });
    expect(b.messages.map((m) => m.content)).toEqual(Array.from({ length: 10 }, (_, k) => `busy ${16 + k}`));
    expect(b.messages.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, k) => 16 + k));
    expect(b.messages.every((m) => m.sender.id === ben.id)).toBe(true);
    expect(b.eventCursor).toBe(b.room.eventCursor);
    expect(s.nextCursor).toMatch(/^s1\./);
  });

  it("an incremental sync returns only the rooms that changed, with the new messages, and nothing when nothing changed", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const a = await createRoom(ann, "a", [ben]);
    const b = await createRoom(ann, "b", [ben]);
    await sendMessage(api, ben, a, "before");
    const first = await sync(ann);

    const nothing = await sync(ann, first.nextCursor);
    expect(nothing).toMatchObject({ initial: false, rooms: [], leftRooms: [], invites: [] });

    const sent = [await sendMessage(api, ben, b, "one"), await sendMessage(api, ben, b, "two"), await sendMessage(api, ben, b, "three")];
    const next = await sync(ann, nothing.nextCursor);
    expect(next.rooms.map((r) => r.room.id)).toEqual([b]);
    expect(next.rooms[0]).toMatchObject({
      joined: false,
      limited: false,
      previousCursor: null,
      unreadCount: 3,
      lastSeq: 3,
      messageCursor: "3",
    });
    expect(next.rooms[0]!.messages.map((m) => m.id)).toEqual(sent.map((m) => m.id));
    // the viewer's own message moves their read marker: the room changes, nothing is unread
    await sendMessage(api, ann, a, "mine");
    const own = await sync(ann, next.nextCursor);
    expect(own.rooms.map((r) => [r.room.id, r.unreadCount, r.messages.map((m) => m.content)])).toEqual([[a, 0, ["mine"]]]);
  });

  it("limited: previousCursor pages back through messages(roomId:) with no gap to what the sync returned", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const r = await createRoom(ann, "long", [ben]);
    await sendMessage(api, ben, r, "seen");
    const first = await sync(ann);
    const sent = [];
    for (let i = 1; i <= 30; i++) sent.push(await sendMessage(api, ben, r, `new ${i}`));

    const s = await sync(ann, first.nextCursor, 8);
    const room = roomOf(s, r)!;
    expect(room).toMatchObject({ limited: true, unreadCount: 31, lastSeq: 31 });
    expect(room.messages.map((m) => m.id)).toEqual(sent.slice(-8).map((m) => m.id));
    const page = (
      await api.ok(
        ann,
        `query($r: ID!, $after: String) { messages(roomId: $r, first: 100, after: $after) { edges { node { id seq } } } }`,
        { r, after: room.previousCursor },
      )
    ).messages.edges.map((e: { node: { id: string; seq: number } }) => e.node);
    // newest first, starting right below the oldest message returned, down to the first
    expect(page.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 23 }, (_, k) => 23 - k));
    expect(
      [...page]
        .reverse()
        .concat(room.messages)
        .map((m: { id: string }) => m.id)
        .slice(1),
    ).toEqual(sent.map((m) => m.id));

    // exactly limitPerRoom new messages is not limited; limitPerRoom 0 gives positions and counts only
    for (let i = 1; i <= 8; i++) await sendMessage(api, ben, r, `more ${i}`);
    expect(roomOf(await sync(ann, s.nextCursor, 8), r)).toMatchObject({ limited: false, previousCursor: null, lastSeq: 39 });
    expect(roomOf(await sync(ann, s.nextCursor, 0), r)).toMatchObject({
      messages: [],
      limited: true,
      previousCursor: null,
      unreadCount: 39,
      lastSeq: 39,
    });
  });

  it("a read marker moved elsewhere, a mute or an archive changes the room (no new message)", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const r = await createRoom(ann, "read", [ben]);
    const other = await createRoom(ann, "other", [ben]);
    const m = await sendMessage(api, ben, r, "read me");
    const s1 = await sync(ann);
    expect(roomOf(s1, r)!.unreadCount).toBe(1);

    await api.ok(ann, `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id } }`, { r, m: m.id });
    const s2 = await sync(ann, s1.nextCursor);
    expect(s2.rooms.map((x) => [x.room.id, x.unreadCount, x.messages.length])).toEqual([[r, 0, 0]]);

    await api.ok(ann, `mutation($r: ID!) { muteRoom(roomId: $r) { id } }`, { r: other });
    const s3 = await sync(ann, s2.nextCursor);
    expect(s3.rooms.map((x) => x.room.id)).toEqual([other]);
    await api.ok(ann, `mutation($r: ID!) { archiveRoom(roomId: $r) { id } }`, { r });
    expect((await sync(ann, s3.nextCursor)).rooms.map((x) => x.room.id)).toEqual([r]);
  });

  it("a room joined since the cursor comes with joined: true; pending invites are all listed", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const s1 = await sync(ann);
    const added = await createRoom(ben, "added", [ann]);
    await sendMessage(api, ben, added, "welcome");
    const open = await createRoom(ben, "open", [], "PUBLIC");
    await api.ok(ann, `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`, { r: open });
    const invitedTo = await createRoom(ben, "invited", []);
    const invite = (
      await api.ok(ben, `mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }`, { r: invitedTo, u: ann.id })
    ).inviteToRoom.id;

    const s2 = await sync(ann, s1.nextCursor);
    expect(s2.rooms.map((r) => [r.room.id, r.joined]).sort()).toEqual(
      [
        [added, true],
        [open, true],
      ].sort(),
    );
    expect(roomOf(s2, added)!.messages.map((m) => m.content)).toEqual(["welcome"]);
    expect(s2.invites).toEqual([{ id: invite, room: { id: invitedTo, name: "invited" }, inviter: { id: ben.id } }]);

    // once known, the room is no longer "joined"; invites stay listed until answered
    await sendMessage(api, ben, added, "again");
    const s3 = await sync(ann, s2.nextCursor);
    expect(s3.rooms.map((r) => [r.room.id, r.joined])).toEqual([[added, false]]);
    expect(s3.invites.map((i) => i.id)).toEqual([invite]);
    await api.ok(ann, `mutation($id: ID!) { acceptInvite(id: $id) { id } }`, { id: invite });
    const s4 = await sync(ann, s3.nextCursor);
    expect(s4.invites).toEqual([]);
    expect(s4.rooms.map((r) => [r.room.id, r.joined])).toEqual([[invitedTo, true]]);
  });

  it("leftRooms: rooms left, removed from, deleted or hidden since the cursor, unless the viewer is in them again", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const left = await createRoom(ben, "left", [ann]);
    const removed = await createRoom(ben, "removed", [ann]);
    const deleted = await createRoom(ben, "deleted", [ann]);
    const back = await createRoom(ben, "back", [ann], "PUBLIC");
    const direct = (await api.ok(ann, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: ben.id })).directRoom.id;
    const s1 = await sync(ann);
    expect(s1.leftRooms).toEqual([]);

    const before = Date.now();
    await api.ok(ann, `mutation($r: ID!) { leaveRoom(roomId: $r) }`, { r: left });
    await api.ok(ben, `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`, { r: removed, u: ann.id });
    await api.ok(ben, `mutation($r: ID!) { deleteRoom(roomId: $r) }`, { r: deleted });
    await api.ok(ann, `mutation($r: ID!) { deleteRoom(roomId: $r) }`, { r: direct });
    await api.ok(ann, `mutation($r: ID!) { leaveRoom(roomId: $r) }`, { r: back });
    await api.ok(ann, `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`, { r: back });

    const s2 = await sync(ann, s1.nextCursor);
    const byRoom = Object.fromEntries(s2.leftRooms.map((l) => [l.roomId, [l.roomName, l.reason]]));
    expect(byRoom).toEqual({
      [left]: ["left", "LEFT"],
      [removed]: ["removed", "REMOVED"],
      [deleted]: ["deleted", "ROOM_DELETED"],
      [direct]: [null, "HIDDEN"],
    });
    for (const l of s2.leftRooms) expect(Date.parse(l.at)).toBeGreaterThanOrEqual(before - 1000);
    // the room joined again is a room of the viewer's, joined since the cursor
    expect(s2.rooms.map((r) => [r.room.id, r.joined])).toEqual([[back, true]]);
    // reported once
    expect((await sync(ann, s2.nextCursor)).leftRooms).toEqual([]);
    // the hidden DIRECT room comes back with a newer message: a room again, no longer left
    await sendMessage(api, ben, direct, "back?");
    const s3 = await sync(ann, s1.nextCursor);
    expect(s3.leftRooms.map((l) => l.roomId).sort()).toEqual([left, removed, deleted].sort());
    expect(s3.rooms.map((r) => r.room.id).sort()).toEqual([back, direct].sort());
  });

  it("a DIRECT room the viewer hid (deleteRoom) is left out until a newer message, as in myRooms", async () => {
    const [ann, ben] = await registerUsers(server.url, ["ann", "ben"]);
    const r = (await api.ok(ann, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: ben.id })).directRoom.id;
    await sendMessage(api, ben, r, "hi");
    await api.ok(ann, `mutation($r: ID!) { deleteRoom(roomId: $r) }`, { r });
    const s1 = await sync(ann);
    expect(s1.rooms).toEqual([]);
    await sendMessage(api, ben, r, "hello?");
    const s2 = await sync(ann, s1.nextCursor);
    expect(s2.rooms.map((x) => [x.room.id, x.room.type, x.unreadCount, x.messages.map((m) => m.content)])).toEqual([
      [r, "DIRECT", 2, ["hello?"]],
    ]);
  });

  it("two consecutive syncs with messages sent between return each message once", async () => {
    const [ann, ben, cat] = await registerUsers(server.url, ["ann", "ben", "cat"]);
    const rooms = [await createRoom(ann, "x", [ben, cat]), await createRoom(ann, "y", [ben, cat])];
    let cursor = (await sync(ann)).nextCursor;
    const seen: string[] = [];
    const sent: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const [i, r] of rooms.entries()) sent.push((await sendMessage(api, i ? cat : ben, r, `round ${round}`)).id);
      const s = await sync(ann, cursor);
      for (const room of s.rooms) seen.push(...room.messages.map((m) => m.id));
      cursor = s.nextCursor;
    }
    expect(seen.sort()).toEqual(sent.sort());
  });

  it("messages committed while syncs run appear in exactly one of the syncs, and messageAdded(after: messageCursor) hands over with no gap and no duplicate", async () => {
    const [ann, ben, cat] = await registerUsers(server.url, ["ann", "ben", "cat"]);
    const rooms = [
      await createRoom(ann, "c1", [ben, cat]),
      await createRoom(ann, "c2", [ben, cat]),
      await createRoom(ben, "c3", [ann, cat]),
    ];
    let cursor = (await sync(ann)).nextCursor;
    const PER_ROOM = 40;
    const seen = new Map<string, number>();
    const senders = rooms.map(async (r, i) => {
      // two senders per room, in parallel: commits interleave with the syncs
      await Promise.all(
        [ben, cat].map(async (u) => {
          for (let k = 0; k < PER_ROOM / 2; k++) {
            await sendMessage(api, u, r, `${i}-${u.username}-${k}`);
          }
        }),
      );
    });
    const done = Promise.all(senders);
    let finished = false;
    void done.then(() => (finished = true));
    let syncs = 0;
    // the first sync taken while the first room's messages were still being sent: follow that room live from it at once
    let handOver: { cursor: string; syncIds: Set<string>; sub: Subscription<{ messageAdded: { id: string; seq: number } }> } | null = null;
    while (!finished || syncs === 0) {
      const s = await sync(ann, cursor, 100);
      syncs++;
      for (const room of s.rooms) {
        expect(room.limited).toBe(false);
        for (const m of room.messages) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
      }
      const first = roomOf(s, rooms[0]!);
      if (!handOver && first && Number(first.messageCursor) < PER_ROOM) {
        const sub = subscribe(client(ann), `subscription($r: ID!, $after: String) { messageAdded(roomId: $r, after: $after) { id seq } }`, {
          r: rooms[0],
          after: first.messageCursor,
        });
        handOver = { cursor: first.messageCursor, syncIds: new Set(first.messages.map((m) => m.id)), sub };
      }
      cursor = s.nextCursor;
    }
    await done;
    const last = await sync(ann, cursor, 100);
    for (const room of last.rooms) for (const m of room.messages) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);

    const all = await server.app.db.message.findMany({ where: { roomId: { in: rooms } }, select: { id: true } });
    expect(all).toHaveLength(rooms.length * PER_ROOM);
    expect(syncs).toBeGreaterThan(2);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect([...seen.keys()].sort()).toEqual(all.map((m) => m.id).sort());

    // the hand-over: messageAdded(after: messageCursor), opened while sends went on, gave exactly what came after the sync's snapshot
    expect(handOver).not.toBeNull();
    const live: { id: string; seq: number }[] = [];
    for (let seq = Number(handOver!.cursor) + 1; seq <= PER_ROOM; seq++) live.push((await handOver!.sub.next()).data!.messageAdded);
    handOver!.sub.stop();
    expect(live.map((m) => m.seq)).toEqual(
      Array.from({ length: PER_ROOM - Number(handOver!.cursor) }, (_, k) => Number(handOver!.cursor) + 1 + k),
    );
    expect(live.some((m) => handOver!.syncIds.has(m.id))).toBe(false);
  });

  it("roomEvents(after: eventCursor) continues right after the sync", async () => {
    const [ann, ben, cat] = await registerUsers(server.url, ["ann", "ben", "cat"]);
    const r = await createRoom(ann, "events", [ben]);
    const s = await sync(ann);
    await api.ok(ann, `mutation($r: ID!, $u: ID!) { addRoomMember(roomId: $r, userId: $u) { role } }`, { r, u: cat.id });
    const sub = subscribe(
      client(ann),
      `subscription($r: ID!, $after: String) { roomEvents(roomId: $r, after: $after) { __typename ... on SequencedEvent { seq } } }`,
      {
        r,
        after: roomOf(s, r)!.eventCursor,
      },
    );
    const first = (await sub.next()).data!.roomEvents;
    sub.stop();
    expect(first).toEqual({ __typename: "MemberJoined", seq: Number(roomOf(s, r)!.eventCursor) + 1 });
  });

  it("cursor errors: not a cursor → BAD_USER_INPUT on since; older than SYNC_RETENTION_DAYS → SYNC_CURSOR_EXPIRED; limitPerRoom out of range", async () => {
    // not a cursor; a cursor whose snapshot PostgreSQL would refuse (xmin > xmax, an in-progress id outside [xmin, xmax))
    for (const since of [
      "nonsense",
      encodeSyncCursor({ snapshot: "5:3:", at: Date.now() }),
      encodeSyncCursor({ snapshot: "3:5:6", at: Date.now() }),
    ]) {
      const bad = await api.run(alice, SYNC, { since });
      expect(errorCode(bad)).toBe("BAD_USER_INPUT");
      expect(ext(bad)?.field).toBe("since");
    }

    const { nextCursor } = await sync(alice);
    const snapshot = JSON.parse(Buffer.from(nextCursor.slice(3), "base64url").toString()).s as string;
    const old = encodeSyncCursor({ snapshot, at: Date.now() - (server.app.config.SYNC_RETENTION_DAYS * 86_400_000 + 60_000) });
    const expired = await api.run(alice, SYNC, { since: old });
    expect(errorCode(expired)).toBe("BAD_USER_INPUT");
    expect(ext(expired)).toMatchObject({ field: "since", reason: "SYNC_CURSOR_EXPIRED" });
    // just inside the window it is fine
    const recent = encodeSyncCursor({ snapshot, at: Date.now() - (server.app.config.SYNC_RETENTION_DAYS * 86_400_000 - 60_000) });
    expect((await api.run(alice, SYNC, { since: recent })).errors).toBeUndefined();

    for (const limit of [-1, 101]) {
      const out = await api.run(alice, SYNC, { limit });
      expect(errorCode(out)).toBe("BAD_USER_INPUT");
      expect(ext(out)?.field).toBe("limitPerRoom");
    }
  });

  it("refuses an unauthenticated caller", async () => {
    expect(errorCode(await gql(server.url, SYNC, {}))).toBe("UNAUTHENTICATED");
    expect(errorCode(await gql(server.url, SYNC, {}, "not-a-token"))).toBe("UNAUTHENTICATED");
  });
});

describe("sync's cost", () => {
  const countStatements = useStatementCounter(server);

  const COUNTED = `query($since: String) { sync(since: $since) {
    rooms { room { id name type } messages { id content sender { id displayName } } limited previousCursor unreadCount lastSeq messageCursor }
    leftRooms { roomId reason }
    invites { id room { name } }
    nextCursor
  } }`;

  it("reads in the same small number of SQL statements whatever the number of rooms (1 or 30 changed)", async () => {
    const counts: Record<string, number> = {};
    const reports: Record<string, string[]> = {};
    for (const n of [1, 30]) {
      const [viewer] = await registerUsers(server.url, [`cost${n}`]);
      const rooms: string[] = [];
      for (let i = 0; i < n; i++) rooms.push(await createRoom(bob, `cost ${n} ${i}`, [viewer!, carol]));
      const invitingRoom = await createRoom(bob, `inviting ${n}`, []);
      await api.ok(bob, `mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }`, { r: invitingRoom, u: viewer!.id });
      for (const r of rooms) await sendMessage(api, bob, r, "before");
      await api.ok(viewer!, COUNTED, {}); // once unmeasured, so nothing one-off is counted
      const first = await countStatements(() => api.ok(viewer!, COUNTED, {}));
      expect(first.result.sync.rooms.every((r: { messages: unknown[] }) => r.messages.length === 1)).toBe(true);
      for (const [i, r] of rooms.entries()) for (let k = 0; k < 3; k++) await sendMessage(api, i % 2 ? bob : carol, r, `m ${k}`);
      const next = await countStatements(() => api.ok(viewer!, COUNTED, { since: first.result.sync.nextCursor }));
      expect(next.result.sync.rooms).toHaveLength(n);
      expect(
        next.result.sync.rooms.every(
          (r: { messages: { sender: { displayName: string } }[] }) => r.messages.length === 3 && r.messages[0]!.sender.displayName,
        ),
      ).toBe(true);
      counts[`initial ${n}`] = first.statements.length;
      counts[`incremental ${n}`] = next.statements.length;
      reports[`incremental ${n}`] = next.statements;
    }
    const report = JSON.stringify({ counts, reports }, null, 1);
    if (process.env.STATEMENTS_REPORT) console.log(report);
    expect(counts["initial 30"], report).toBe(counts["initial 1"]);
    expect(counts["incremental 30"], report).toBe(counts["incremental 1"]);
    expect(counts["incremental 30"], report).toBeLessThanOrEqual(6);
  }, 60_000);
});

describe("sync with encryption at rest", () => {
  const encrypted = useTestServer(["ann", "ben"], {
    env: { MESSAGE_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`, MESSAGE_SEARCH: "off" },
  });

  it("returns messages opened, as every other read does", async () => {
    const [ann, ben] = encrypted.users;
    const r = (
      await encrypted.api.ok(ann, `mutation($u: ID!) { createRoom(input: { name: "sealed", type: GROUP, memberIds: [$u] }) { id } }`, {
        u: ben.id,
      })
    ).createRoom.id;
    const first = (await encrypted.api.ok(ann, SYNC, {})).sync as Sync;
    await encrypted.api.ok(ben, SEND, { r, c: "the plaintext" });
    const stored = await encrypted.server.app.db.message.findFirstOrThrow({ where: { roomId: r } });
    expect(stored.contentKeyId).toBe("k1");
    expect(stored.content).not.toContain("plaintext");
    const next = (await encrypted.api.ok(ann, SYNC, { since: first.nextCursor })).sync as Sync;
    expect(roomOf(next, r)!.messages.map((m) => m.content)).toEqual(["the plaintext"]);
  });
});
