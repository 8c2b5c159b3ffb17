import type { Db } from "../db/client.js";
import { forbidden, notFound } from "../errors.js";
import type { RoomMember, RoomRole } from "../generated/prisma/client.js";

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
