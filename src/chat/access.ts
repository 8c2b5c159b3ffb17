import type { Db } from "../db/client.js";
import { forbidden, notFound } from "../errors.js";
import type { Prisma, RoomMember, RoomRole, RoomType } from "../generated/prisma/client.js";

/**
 * Membership check used by every room-scoped read, write and subscription;
 * `db` may be a transaction.
 * A non-member of a PUBLIC room gets FORBIDDEN (the room is discoverable); of a
 * GROUP or DIRECT room, NOT_FOUND, so private rooms' existence does not leak.
 * @throws FORBIDDEN / NOT_FOUND as above.
 */
export async function requireMember(db: Db, roomId: string, userId: string): Promise<RoomMember> {
  const membership = await db.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } });
  if (membership) return membership;
  const room = await db.room.findUnique({ where: { id: roomId }, select: { type: true } });
  throw notMember(room?.type);
}

/** The error for a non-member of a room of `type` (undefined: no such room): see {@link requireMember}. */
export function notMember(type: RoomType | undefined) {
  return type === "PUBLIC" ? forbidden("Only members of this room can do that; join it first") : notFound("Room");
}

/**
 * Like {@link requireMember}, and the member's role must be one of `roles`.
 * @throws FORBIDDEN naming the roles needed.
 */
export async function requireRole(db: Db, roomId: string, userId: string, roles: readonly RoomRole[]): Promise<RoomMember> {
  const membership = await requireMember(db, roomId, userId);
  if (!roles.includes(membership.role)) throw forbidden(`Only a room ${roles.join(" or ")} can do that`);
  return membership;
}

/**
 * Like {@link requireMember}, and not one of a DIRECT room's two members while
 * either has blocked the other (README, Contacts and blocking): a block
 * stops whatever reaches the other member, so reacting, editing and pinning too,
 * not only posting. Returns the membership and the room's type. One SQL statement:
 * the room's type, the membership (nulls for a non-member), and the block state
 * of a DIRECT room's other member (SQL function chat_dm_blocked, which the send
 * statement uses too; users/privacy.ts blockedEitherWay is the same rule in Prisma).
 * The membership's columns are named: Prisma's raw queries cannot read its xid8 columns (src/sync/).
 * @throws FORBIDDEN for a blocked pair; NOT_FOUND / FORBIDDEN for non-members.
 */
export async function unblockedMember(db: Db, roomId: string, userId: string): Promise<{ membership: RoomMember; type: RoomType }> {
  const [row] = await db.$queryRaw<(NullableFields<RoomMember> & { roomType: RoomType; blocked: boolean })[]>`
    SELECT r.type AS "roomType", m."roomId", m."userId", m.role, m."lastReadSeq", m."lastDeliveredSeq", m."joinedAt", m."archivedAt", m."mutedUntil",
      m."lastSentAt", m."hiddenAtSeq", chat_dm_blocked(r.id, ${userId}::uuid) AS blocked
    FROM "Room" r LEFT JOIN "RoomMember" m ON m."roomId" = r.id AND m."userId" = ${userId}::uuid
    WHERE r.id = ${roomId}::uuid`;
  if (!row?.userId) throw notMember(row?.roomType);
  const { roomType: type, blocked, ...membership } = row;
  if (blocked) throw blockedPair();
  return { membership: membership as RoomMember, type };
}

/** `T` with every field nullable: a LEFT JOINed row that may be absent. */
type NullableFields<T> = { [K in keyof T]: T[K] | null };

/**
 * The member may act on the room's messages (react, edit, pin): see
 * {@link unblockedMember}.
 * @throws FORBIDDEN for a blocked DIRECT pair; NOT_FOUND / FORBIDDEN for non-members.
 */
export async function requireUnblockedMember(db: Db, roomId: string, userId: string): Promise<RoomMember> {
  return (await unblockedMember(db, roomId, userId)).membership;
}

/**
 * Like {@link requireUnblockedMember}, and the member may post (send messages,
 * typing) in the room: in a BROADCAST room only OWNERs and ADMINs post.
 * @throws FORBIDDEN as above; NOT_FOUND / FORBIDDEN for non-members.
 */
export async function requirePoster(db: Db, roomId: string, userId: string): Promise<RoomMember> {
  const { membership, type } = await unblockedMember(db, roomId, userId);
  if (type === "BROADCAST" && membership.role === "MEMBER") throw broadcastMember();
  return membership;
}

/** The error for either member of a DIRECT room whose pair is blocked (a block either way stops direct messages). */
export const blockedPair = () => forbidden("You cannot message this user");

/** The error for a BROADCAST room's MEMBER who tries to post. */
export const broadcastMember = () => forbidden("Only the room's OWNER and ADMINs post in a BROADCAST room");

/**
 * A `where` on Notification: its message is in a room `userId` is a member of
 * now. A member who left or was removed keeps no window into the room through
 * the messages that mentioned them (their content, thread, reactions, members).
 */
export const inRoomsOf = (userId: string) =>
  ({ message: { room: { members: { some: { userId } } } } }) satisfies Prisma.NotificationWhereInput;
