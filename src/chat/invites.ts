import type { PrismaClient } from "../db/client.js";
import { badInput, forbidden, notFound } from "../errors.js";
import type { Room, RoomInvite } from "../generated/prisma/client.js";
import type { EventLog } from "../realtime/event-log.js";
import { requireUser } from "../users/directory.js";
import { requireMember } from "./access.js";
import { addWithinCapacity, banned, isBanned, lockRoom } from "./rooms.js";

/**
 * Room invitations: a member invites, the invitee
 * accepts (joins, within capacity) or declines. One pending invite per user
 * and room; it is deleted when answered or when the user joins otherwise.
 */
export class Invites {
  constructor(
    private readonly db: PrismaClient,
    private readonly events: EventLog,
  ) {}

  /**
   * Invites `userId` to the room; inviting again returns the pending invite.
   * Who may invite: in a PUBLIC room any member; in a GROUP or BROADCAST room the
   * OWNER and ADMINs; nobody in a DIRECT room. The invitee gets InviteReceived.
   * @throws FORBIDDEN (role, DIRECT room, the invitee is banned from the room or
   * blocked the inviter);
   * BAD_USER_INPUT on `userId` for a member; NOT_FOUND (room, user).
   */
  async invite(inviterId: string, roomId: string, userId: string): Promise<RoomInvite> {
    const membership = await requireMember(this.db, roomId, inviterId);
    const room = await this.db.room.findUniqueOrThrow({ where: { id: roomId }, select: { type: true } });
    if (room.type === "DIRECT") throw forbidden("Direct rooms have exactly two members");
    if (room.type !== "PUBLIC" && membership.role === "MEMBER") throw forbidden("Only the room OWNER or an ADMIN can invite");
    await requireUser(this.db, userId);
    if (await this.db.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } })) {
      throw badInput("userId", "User is already a member of this room");
    }
    if (await isBanned(this.db, roomId, userId)) throw banned();
    if (await this.db.block.findUnique({ where: { blockerId_blockedId: { blockerId: userId, blockedId: inviterId } } })) {
      throw forbidden("You cannot invite this user");
    }
    return this.events.transaction(this.db, async (tx, _record, notify) => {
      const { count } = await tx.roomInvite.createMany({ data: [{ roomId, inviterId, inviteeId: userId }], skipDuplicates: true });
      const invite = await tx.roomInvite.findUniqueOrThrow({ where: { roomId_inviteeId: { roomId, inviteeId: userId } } });
      if (count === 1) await notify([userId], { kind: "InviteReceived", inviteId: invite.id });
      return invite;
    });
  }

  /**
   * Accepts an invite of the viewer's: joins the room (MEMBER) and drops the invite.
   * @throws NOT_FOUND for an unknown invite or someone else's; FORBIDDEN when the
   * viewer is banned from the room or it is full (the invite stays, to accept later).
   */
  async accept(userId: string, inviteId: string): Promise<Room> {
    return this.events.transaction(this.db, async (tx, record) => {
      const invite = await tx.roomInvite.findFirst({ where: { id: inviteId, inviteeId: userId } });
      if (!invite) throw notFound("Invite");
      const room = (await lockRoom(tx, invite.roomId))!;
      await addWithinCapacity(tx, room, userId, "MEMBER");
      await record({ kind: "MemberJoined", roomId: room.id, userId, role: "MEMBER", byId: null, invitedById: invite.inviterId });
      return room;
    });
  }

  /** Declines an invite of the viewer's. @throws NOT_FOUND for an unknown invite or someone else's. */
  async decline(userId: string, inviteId: string): Promise<void> {
    const { count } = await this.db.roomInvite.deleteMany({ where: { id: inviteId, inviteeId: userId } });
    if (count === 0) throw notFound("Invite");
  }
}
