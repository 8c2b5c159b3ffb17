import type { Db } from "../db/client.js";
import type { ActivityRecipient, ActivityReplay, ActivityStore, RoomActivityPayload } from "../realtime/room-activity.js";
import { messageToJson, type UserEventPayload } from "../realtime/topics.js";

/**
 * The storage side of room activity (realtime/room-activity.ts), one statement
 * each. Who gets a message's RoomActivity: members of the room now (a removed
 * member gets nothing, whatever the node still has registered), except those who
 * blocked its sender (README Contacts and blocking, as for mentions:
 * chat/mentions.ts). A muted room's event carries no message (the hub's rule; the
 * mute is read here). `replay` is myEvents(after:)'s read ({@link replay}).
 */
export function activityStore(db: Db): ActivityStore {
  return {
    roomIdsOf: async (userId) => (await db.roomMember.findMany({ where: { userId }, select: { roomId: true } })).map((m) => m.roomId),
    recipients: async (roomId, senderId, seq, viewerIds) => {
      const [row] = await db.$queryRaw<{ memberCount: number; recipients: ActivityRecipient[] }[]>`
        SELECT (SELECT count(*)::int FROM "RoomMember" WHERE "roomId" = ${roomId}::uuid) AS "memberCount",
          coalesce((
            SELECT json_agg(json_build_object(
              'userId', m."userId",
              'unreadCount', greatest(0, ${seq}::int - m."lastReadSeq"),
              'muted', coalesce(m."mutedUntil" > now(), false)))
            FROM "RoomMember" m
            WHERE m."roomId" = ${roomId}::uuid AND m."userId" = ANY(${viewerIds}::uuid[])
              AND NOT EXISTS (SELECT 1 FROM "Block" b WHERE b."blockerId" = m."userId" AND b."blockedId" = ${senderId}::uuid)
          ), '[]'::json) AS recipients`;
      return row!;
    },
    replay: (userId, snapshot) => replay(db, userId, snapshot),
  };
}

/** A room of {@link replay}'s read: its head, and what its RoomActivity needs if it changed. */
interface ReplayRoom {
  roomId: string;
  lastSeq: number;
  /** The newest message written after the cursor that the user may see; null: no such message. */
  messageId: string | null;
  unreadCount: number;
  muted: boolean;
}

/**
 * myEvents(after:)'s replay for `userId` since `snapshot` (a sync cursor's
 * pg_snapshot): ONE statement, so one snapshot S2, reads
 * - the user's event log rows not visible in `snapshot` (written after it; the
 *   index (userId, xid) from the snapshot's xmin on), oldest first, each payload with its `logId`; an event whose subject is gone since (an
 *   invite answered, a mention's notification deleted with its message, a room
 *   deleted) is left out: its later state is what the client reads;
 * - every room the user is a member of, with its `lastSeq` (the hub's covered seq),
 *   and, for a room whose row changed after `snapshot` (a send bumps Room.lastSeq,
 *   and its trigger stamps Room.xid), its newest message not visible in `snapshot`
 *   from a sender the user has not blocked (the live rule); the unread count and the
 *   mute as of now. Messages of a room commit in seq order (the room row lock), so
 *   the index scan from the newest stops at the first message the cursor saw.
 * Then the changed rooms' messages are read (a second statement, by id: the
 * message as it is now, as RoomActivity's `lastMessage` always is).
 */
async function replay(db: Db, userId: string, snapshot: string): Promise<ActivityReplay> {
  const [row] = await db.$queryRaw<{ events: UserEventPayload[]; rooms: ReplayRoom[] }[]>`
    WITH c AS (SELECT ${snapshot}::pg_snapshot AS s)
    SELECT
      coalesce((
        SELECT json_agg(l.payload || jsonb_build_object('logId', l.id::text) ORDER BY l.id)
        FROM "UserEventLog" l, c
        WHERE l."userId" = ${userId}::uuid AND l.xid >= pg_snapshot_xmin(c.s) AND NOT pg_visible_in_snapshot(l.xid, c.s)
          AND CASE l.payload->>'kind'
            WHEN 'InviteReceived' THEN EXISTS (SELECT 1 FROM "RoomInvite" i WHERE i.id = (l.payload->>'inviteId')::uuid)
            WHEN 'MentionNotification' THEN EXISTS (SELECT 1 FROM "Notification" n WHERE n.id = (l.payload->>'notificationId')::uuid)
            WHEN 'AddedToRoom' THEN EXISTS (SELECT 1 FROM "Room" r WHERE r.id = (l.payload->>'roomId')::uuid)
            WHEN 'DirectRoomCreated' THEN EXISTS (SELECT 1 FROM "Room" r WHERE r.id = (l.payload->>'roomId')::uuid)
            ELSE true END
      ), '[]'::json) AS events,
      coalesce((
        SELECT json_agg(json_build_object(
          'roomId', r.id, 'lastSeq', r."lastSeq", 'messageId', x.id,
          'unreadCount', greatest(0, r."lastSeq" - m."lastReadSeq"), 'muted', coalesce(m."mutedUntil" > now(), false)))
        FROM c CROSS JOIN "RoomMember" m JOIN "Room" r ON r.id = m."roomId"
        LEFT JOIN LATERAL (
          SELECT x.id, x.xid FROM "Message" x
          WHERE x."roomId" = r.id AND NOT pg_visible_in_snapshot(r.xid, c.s)
            AND (pg_visible_in_snapshot(x.xid, c.s) OR NOT EXISTS (SELECT 1 FROM "Block" b WHERE b."blockerId" = m."userId" AND b."blockedId" = x."senderId"))
          ORDER BY x.seq DESC LIMIT 1
        ) x ON NOT pg_visible_in_snapshot(x.xid, c.s)
        WHERE m."userId" = ${userId}::uuid
      ), '[]'::json) AS rooms`;
  const { events, rooms } = row!;
  const changed = rooms.filter((r) => r.messageId !== null);
  const messages = new Map((await db.message.findMany({ where: { id: { in: changed.map((r) => r.messageId!) } } })).map((m) => [m.id, m]));
  const activity = changed.flatMap((r): RoomActivityPayload[] => {
    const message = messages.get(r.messageId!);
    if (!message) return []; // its room was deleted between the two reads
    return [
      {
        kind: "RoomActivity",
        roomId: r.roomId,
        message: r.muted ? null : messageToJson(message),
        seq: r.lastSeq,
        unreadCount: r.unreadCount,
        at: message.createdAt.toISOString(),
      },
    ];
  });
  return { events, activity, heads: Object.fromEntries(rooms.map((r) => [r.roomId, r.lastSeq])) };
}
