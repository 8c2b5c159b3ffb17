import type { Db } from "../db/client.js";
import type { UserEventPayload } from "../realtime/topics.js";

/** A room of the viewer that changed since the cursor, as of the sync's snapshot. */
export interface ChangedRoom {
  roomId: string;
  /** The membership began since the cursor (always true on the initial sync). */
  joined: boolean;
  /** Room.lastSeq: the newest message's seq (messageAdded's `after`). */
  lastSeq: number;
  /** Room.lastEventSeq: the newest room event's seq (roomEvents' `after`). */
  lastEventSeq: number;
  /** The viewer's read marker (RoomMember.lastReadSeq). */
  lastReadSeq: number;
  /** Ids of the newest messages sent since the cursor, at most `limitPerRoom`, oldest first. */
  messageIds: string[];
  /** More than `limitPerRoom` messages were sent since the cursor. */
  limited: boolean;
}

/** A room the viewer was removed from (or left, or that was deleted or hidden) since the cursor: its RemovedFromRoom event. */
export type LeftRoom = Extract<UserEventPayload, { kind: "RemovedFromRoom" }>;

/** What changed for one user since a snapshot, read under one newer snapshot. */
export interface SyncChanges {
  /** The snapshot this was read under (`pg_current_snapshot()` as text): the next cursor's. */
  snapshot: string;
  rooms: ChangedRoom[];
  /** Latest RemovedFromRoom per room, oldest first; rooms the viewer is in again are left out. Empty on the initial sync. */
  left: LeftRoom[];
}

interface Row {
  snapshot: string;
  rooms: (Omit<ChangedRoom, "messageIds" | "limited"> & { messages: { id: string; isNew: boolean }[] })[];
  left: LeftRoom[];
}

/**
 * What changed for `userId` since the snapshot `since` (pg_snapshot text; null:
 * the initial sync, everything), in ONE SQL statement, so under one snapshot,
 * whose text it returns as the next cursor's:
 *
 * 1. the viewer's memberships, less the DIRECT rooms they hid (deleteRoom) while
 *    `Room.lastSeq <= hiddenAtSeq`, the rule of myRooms (chat/rooms.ts hiddenRoomIds);
 * 2. of those, the rooms whose Room row or whose membership row was written by a
 *    transaction not visible in `since` (`xid`, migration 20261205100000_sync_positions):
 *    a message (the send bumps Room.lastSeq), a room update, a read marker, mute or
 *    archive, a new membership; all of them on the initial sync;
 * 3. per such room, the newest `limitPerRoom + 1` messages by seq (index roomId, seq),
 *    of which those not visible in `since` are new: at most `limitPerRoom` of them are
 *    returned, `limited` when there were more;
 * 4. the viewer's RemovedFromRoom events logged (UserEventLog) by transactions not
 *    visible in `since`, the latest per room, except rooms of step 1.
 *
 * Exact whatever the commit order of concurrent writers: a row committed before
 * `since` was taken is visible in it, any other is not (docs/architecture.md, Catch-up sync).
 * `limitPerRoom`: 0 to 100 (checked by the caller).
 */
export async function readChanges(db: Db, userId: string, since: string | null, limitPerRoom: number): Promise<SyncChanges> {
  const [row] = await db.$queryRaw<Row[]>`
    WITH mine AS (
      SELECT m."roomId", m."lastReadSeq", m."joinedXid", m.xid AS "memberXid", r.xid AS "roomXid", r."lastSeq", r."lastEventSeq"
      FROM "RoomMember" m JOIN "Room" r ON r.id = m."roomId"
      WHERE m."userId" = ${userId}::uuid AND (m."hiddenAtSeq" IS NULL OR r."lastSeq" > m."hiddenAtSeq")
    ), changed AS (
      SELECT * FROM mine
      WHERE ${since}::pg_snapshot IS NULL
         OR NOT pg_visible_in_snapshot("roomXid", ${since}::pg_snapshot)
         OR NOT pg_visible_in_snapshot("memberXid", ${since}::pg_snapshot)
    )
    SELECT pg_current_snapshot()::text AS snapshot,
      (SELECT coalesce(json_agg(json_build_object(
          'roomId', c."roomId", 'lastSeq', c."lastSeq", 'lastEventSeq', c."lastEventSeq", 'lastReadSeq', c."lastReadSeq",
          'joined', ${since}::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(c."joinedXid", ${since}::pg_snapshot),
          'messages', (
            SELECT coalesce(json_agg(json_build_object('id', n.id, 'isNew', ${since}::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(n.xid, ${since}::pg_snapshot)) ORDER BY n.seq), '[]'::json)
            FROM (SELECT id, seq, xid FROM "Message" WHERE "roomId" = c."roomId" ORDER BY seq DESC LIMIT ${limitPerRoom + 1}::int) n
          ))), '[]'::json)
        FROM changed c) AS rooms,
      (SELECT coalesce(json_agg(l.payload ORDER BY l.id), '[]'::json) FROM (
          SELECT DISTINCT ON (e.payload->>'roomId') e.id, e.payload FROM "UserEventLog" e
          WHERE ${since}::pg_snapshot IS NOT NULL AND e."userId" = ${userId}::uuid
            AND e.xid >= pg_snapshot_xmin(${since}::pg_snapshot) AND NOT pg_visible_in_snapshot(e.xid, ${since}::pg_snapshot)
            AND e.payload->>'kind' = 'RemovedFromRoom'
            AND NOT EXISTS (SELECT 1 FROM mine WHERE mine."roomId"::text = e.payload->>'roomId')
          ORDER BY e.payload->>'roomId', e.id DESC
        ) l) AS "left"`;
  return {
    snapshot: row!.snapshot,
    left: row!.left,
    rooms: row!.rooms.map(({ messages, ...room }) => {
      const fresh = messages.filter((m) => m.isNew);
      return {
        ...room,
        messageIds: fresh.slice(Math.max(0, fresh.length - limitPerRoom)).map((m) => m.id),
        limited: fresh.length > limitPerRoom,
      };
    }),
  };
}
