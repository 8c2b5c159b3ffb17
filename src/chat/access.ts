import type { Db } from "../db/client.js";
import { forbidden, notFound } from "../errors.js";
import type { RoomMember, RoomRole } from "../generated/prisma/client.js";
import { blockedEitherWay } from "../users/privacy.js";

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
  if (room?.type === "PUBLIC") throw forbidden("Only members of this room can do that; join it first");
  throw notFound("Room");
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
 * Like {@link requireMember}, and the member may post (send messages, typing) in
 * the room: in a BROADCAST room only OWNERs and ADMINs post; in a DIRECT room,
 * not while either member has blocked the other (seed 001).
 * @throws FORBIDDEN as above; NOT_FOUND / FORBIDDEN for non-members.
 */
export async function requirePoster(db: Db, roomId: string, userId: string): Promise<RoomMember> {
  const membership = await requireMember(db, roomId, userId);
  const room = await db.room.findUniqueOrThrow({ where: { id: roomId }, select: { type: true, members: { where: { userId: { not: userId } }, select: { userId: true }, take: 1 } } });
  if (room.type === "BROADCAST" && membership.role === "MEMBER") throw forbidden("Only the room's OWNER and ADMINs post in a BROADCAST room");
  const other = room.members[0];
  if (room.type === "DIRECT" && other && (await blockedEitherWay(db, userId, other.userId))) {
    throw forbidden("You cannot message this user");
  }
  return membership;
}
