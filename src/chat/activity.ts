import type { Db } from "../db/client.js";
import type { ActivityRecipient, ActivityStore } from "../realtime/room-activity.js";

/**
 * The storage side of room activity (realtime/room-activity.ts), one statement
 * each. Who gets a message's RoomActivity: members of the room now (a removed
 * member gets nothing, whatever the node still has registered), except those who
 * blocked its sender (README Contacts and blocking, as for mentions:
 * chat/mentions.ts). A muted room's event carries no message (the hub's rule; the
 * mute is read here).
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
  };
}
