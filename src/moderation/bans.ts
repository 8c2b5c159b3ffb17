import { requireRole } from "../chat/access.js";
import { isBanned, type Rooms } from "../chat/rooms.js";
import type { PrismaClient } from "../db/client.js";
import { badInput, notFound } from "../errors.js";
import { audit } from "./log.js";

/**
 * Bans and kicks. Both remove the member now through
 * Rooms.removeMember, so they follow its role rule (the OWNER acts on ADMINs and
 * MEMBERs, ADMINs on MEMBERs; nobody on the OWNER or on themselves), end the
 * user's subscriptions to the room (MemberLeft, reason KICKED or BANNED, with the
 * moderator's `note`) and send them RemovedFromRoom. A kicked user may come back
 * where the room allows it (joinRoom on a PUBLIC room, a new invite); a banned one
 * may not until unbanned: the RoomBan row is checked on every way in
 * (chat/rooms.ts addWithinCapacity, chat/invites.ts invite). Each action writes
 * an audit row (moderation/log.ts) in its transaction.
 */
export class Bans {
  constructor(
    private readonly db: PrismaClient,
    private readonly rooms: Rooms,
  ) {}

  /**
   * Bans `userId` from the room with `reason`: removes them if they are a member,
   * and keeps them out until {@link unban}. A user who is not a member (left
   * already) may be banned too. `reportId`: the report this ban resolves, for the
   * audit row.
   * @throws BAD_USER_INPUT on `userId` for oneself or a user banned already;
   * FORBIDDEN (actor's role, target's role); NOT_FOUND (room, user).
   */
  async ban(actorId: string, roomId: string, userId: string, reason: string, reportId: string | null = null): Promise<void> {
    await this.rooms.removeMember(actorId, roomId, userId, {
      reason: "BANNED",
      note: reason,
      nonMember: true,
      also: async (tx) => {
        if (!(await tx.user.findUnique({ where: { id: userId }, select: { id: true } }))) throw notFound("User");
        if (await isBanned(tx, roomId, userId)) throw badInput("userId", "User is already banned from this room");
        await tx.roomBan.create({ data: { roomId, userId, bannedById: actorId, reason } });
        await audit(tx, { roomId, actorId, targetId: userId, action: "BAN", reason, reportId });
      },
    });
  }

  /**
   * Lifts the ban of `userId`: they may join or be invited again (they are not
   * added back). OWNER or ADMIN.
   * @throws FORBIDDEN (role); NOT_FOUND (room, or no such ban).
   */
  async unban(actorId: string, roomId: string, userId: string): Promise<void> {
    await requireRole(this.db, roomId, actorId, ["OWNER", "ADMIN"]);
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.roomBan.deleteMany({ where: { roomId, userId } });
      if (count === 0) throw notFound("Ban");
      await audit(tx, { roomId, actorId, targetId: userId, action: "UNBAN", reason: null });
    });
  }

  /**
   * Removes the member now, with `reason`; they may come back where the room allows.
   * @throws BAD_USER_INPUT on `userId` for oneself; FORBIDDEN (actor's role,
   * target's role); NOT_FOUND (room, or the user is not a member).
   */
  async kick(actorId: string, roomId: string, userId: string, reason: string): Promise<void> {
    await this.rooms.removeMember(actorId, roomId, userId, {
      reason: "KICKED",
      note: reason,
      also: (tx) => audit(tx, { roomId, actorId, targetId: userId, action: "KICK", reason }),
    });
  }
}
