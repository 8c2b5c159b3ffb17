import type { Db, PrismaClient } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { badInput, forbidden, notFound } from "../errors.js";
import type { Room, RoomMember, RoomRole } from "../generated/prisma/client.js";
import type { EventLog } from "../realtime/event-log.js";
import type { LeftReason } from "../realtime/topics.js";
import { isContact } from "../users/contacts.js";
import { requireUser } from "../users/directory.js";
import { blockedEitherWay } from "../users/privacy.js";
import { requireMember, requireRole } from "./access.js";

/** Default and largest `maxMembers` of a GROUP, PUBLIC or BROADCAST room. */
export const DEFAULT_MAX_MEMBERS = 100;
export const MAX_MAX_MEMBERS = 10_000;
/** `mutedUntil` of a room muted until unmuted. */
export const MUTED_FOREVER = new Date("9999-12-31T23:59:59.999Z");

export interface CreateRoomInput {
  name: string;
  description?: string | null;
  avatar?: string | null;
  type: "GROUP" | "PUBLIC" | "BROADCAST";
  /** Users added as MEMBERs besides the creator (the OWNER). */
  memberIds?: readonly string[] | null;
  maxMembers?: number | null;
}

/** Fields of updateRoom; undefined = unchanged, null clears description / avatar. */
export interface UpdateRoomInput {
  name?: string | null;
  description?: string | null;
  avatar?: string | null;
  maxMembers?: number | null;
}

/**
 * Room lifecycle, membership and roles. A GROUP, PUBLIC or BROADCAST room has
 * exactly one OWNER (its creator until transferOwnership); DIRECT rooms have two
 * MEMBERs and no owner. Capacity checks lock the room row (`SELECT … FOR UPDATE`)
 * so concurrent joins cannot pass `maxMembers`. Every change is published
 * (roomEvents, myEvents) after its transaction commits.
 */
export class Rooms {
  constructor(
    private readonly db: PrismaClient,
    private readonly events: EventLog,
  ) {}

  /**
   * Creates a room owned by `userId`, with `memberIds` as MEMBERs. A PUBLIC room
   * also gets, while it has room, the users whose autoJoinPublicRooms setting is
   * on, oldest accounts first. Everyone added gets AddedToRoom.
   * @throws BAD_USER_INPUT on `input.memberIds` (unknown or deleted user) or `input.maxMembers` (too small for the members).
   */
  async create(userId: string, input: CreateRoomInput): Promise<Room> {
    const others = [...new Set(input.memberIds ?? [])].filter((id) => id !== userId);
    const maxMembers = input.maxMembers ?? DEFAULT_MAX_MEMBERS;
    if (others.length + 1 > maxMembers)
      throw badInput("input.maxMembers", `maxMembers (${maxMembers}) is less than the ${others.length + 1} initial members`);
    const found = await this.db.user.count({ where: { id: { in: others }, deletedAt: null } });
    if (found !== others.length) throw badInput("input.memberIds", "Unknown user in memberIds");
    const room = await this.events.transaction(this.db, async (tx, _record, notify) => {
      const room = await tx.room.create({
        data: {
          type: input.type,
          name: input.name,
          description: input.description ?? null,
          avatar: input.avatar ?? null,
          maxMembers,
          createdById: userId,
          members: { create: [{ userId, role: "OWNER" }, ...others.map((id) => ({ userId: id, role: "MEMBER" as const }))] },
        },
      });
      const autoJoined = input.type === "PUBLIC" ? await addAutoJoiners(tx, room, [userId, ...others]) : [];
      await notify(others, { kind: "AddedToRoom", roomId: room.id, byId: userId });
      await notify(autoJoined, { kind: "AddedToRoom", roomId: room.id, byId: null });
      return room;
    });
    await this.events.membership([userId], room.id, true);
    return room;
  }

  /**
   * The one DIRECT room of the pair (viewer, `otherId`), created on first use
   * (create-or-get). Concurrent calls for the same pair return the same
   * room: the pair's `directKey` is unique, and the loser of the insert race reads
   * the winner's room. The other user gets DirectRoomCreated when it is new.
   * @throws BAD_USER_INPUT on `userId` for oneself; NOT_FOUND for an unknown or deleted user;
   * FORBIDDEN when either blocked the other, or (new room only) when the other
   * allows direct messages from contacts only (allowDirectMessages off).
   */
  async direct(userId: string, otherId: string): Promise<Room> {
    if (otherId === userId) throw badInput("userId", "Cannot open a direct room with yourself");
    const other = await this.db.user.findUnique({ where: { id: otherId, deletedAt: null }, select: { allowDirectMessages: true } });
    if (!other) throw notFound("User");
    if (await blockedEitherWay(this.db, userId, otherId)) throw forbidden("You cannot message this user");
    const directKey = [userId, otherId].sort().join(":");
    const existing = await this.db.room.findUnique({ where: { directKey } });
    if (existing) return existing;
    if (!other.allowDirectMessages && !(await isContact(this.db, userId, otherId))) {
      throw forbidden("This user accepts direct messages from contacts only; send a contact request first");
    }
    let room: Room;
    try {
      room = await this.events.transaction(this.db, async (tx, _record, notify) => {
        const room = await tx.room.create({
          data: { type: "DIRECT", maxMembers: 2, directKey, createdById: userId, members: { create: [{ userId }, { userId: otherId }] } },
        });
        await notify([otherId], { kind: "DirectRoomCreated", roomId: room.id, byId: userId });
        return room;
      });
    } catch (e) {
      if (!isUniqueViolation(e, "directKey")) throw e;
      return this.db.room.findUniqueOrThrow({ where: { directKey } });
    }
    await this.events.membership([userId], room.id, true);
    return room;
  }

  /**
   * Joins a PUBLIC room; joining a room one is already in returns it.
   * @throws NOT_FOUND for a missing or non-public room; FORBIDDEN when the user is
   * banned from it or it is full.
   */
  async join(userId: string, roomId: string): Promise<Room> {
    return this.events.transaction(this.db, async (tx, record) => {
      const room = await lockRoom(tx, roomId);
      const member = await tx.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } });
      if (member) return room!;
      if (room?.type !== "PUBLIC") throw notFound("Room");
      await addWithinCapacity(tx, room, userId, "MEMBER");
      await record({ kind: "MemberJoined", roomId, userId, role: "MEMBER", byId: null, invitedById: null });
      return room;
    });
  }

  /**
   * Leaves a room. The OWNER cannot leave while others remain: they transfer
   * ownership first. The last member leaving deletes the room. The user's other
   * devices get RemovedFromRoom (LEFT) on myEvents, stored in their event log.
   * @throws NOT_FOUND / FORBIDDEN from the membership check; FORBIDDEN for the owner.
   */
  async leave(userId: string, roomId: string): Promise<void> {
    const deleted = await this.events.transaction(this.db, async (tx, record, notify) => {
      // the lock: a concurrent join cannot slip in between the count and the delete
      const room = (await lockRoom(tx, roomId))!;
      const membership = await requireMember(tx, roomId, userId);
      const members = await tx.roomMember.count({ where: { roomId } });
      if (members > 1 && membership.role === "OWNER") throw forbidden("The owner cannot leave; transfer ownership to another member first");
      await notify([userId], { kind: "RemovedFromRoom", roomId, roomName: room.name, reason: "LEFT", byId: userId });
      if (members === 1) {
        await tx.room.delete({ where: { id: roomId } });
        return room;
      }
      await tx.roomMember.delete({ where: { roomId_userId: { roomId, userId } } });
      await record({ kind: "MemberLeft", roomId, userId, reason: "LEFT", byId: null });
      return null;
    });
    if (deleted) await this.events.roomGone({ kind: "RoomDeleted", roomId, byId: userId }, deleted.lastEventSeq);
  }

  /**
   * Adds `userId` to a GROUP, PUBLIC or BROADCAST room as ADMIN or MEMBER.
   * The OWNER may add either; ADMINs add MEMBERs.
   * @throws BAD_USER_INPUT on `role` for OWNER (transferOwnership hands it over) and
   * on `userId` when already a member; FORBIDDEN (actor's role, DIRECT room, room
   * full); NOT_FOUND (room, user).
   */
  async addMember(actorId: string, roomId: string, userId: string, role: RoomRole = "MEMBER"): Promise<RoomMember> {
    if (role === "OWNER") throw badInput("role", "A room has one OWNER; use transferOwnership");
    const actor = await requireRole(this.db, roomId, actorId, ["OWNER", "ADMIN"]);
    if (actor.role !== "OWNER" && role !== "MEMBER") throw forbidden("Only the room OWNER can add ADMINs");
    await requireUser(this.db, userId);
    return this.events.transaction(this.db, async (tx, record, notify) => {
      const room = (await lockRoom(tx, roomId))!;
      if (await tx.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } })) {
        throw badInput("userId", "User is already a member of this room");
      }
      const member = await addWithinCapacity(tx, room, userId, role);
      await record({ kind: "MemberJoined", roomId, userId, role, byId: actorId, invitedById: null });
      await notify([userId], { kind: "AddedToRoom", roomId, byId: actorId });
      return member;
    });
  }

  /**
   * Removes `userId` from the room. The OWNER removes ADMINs and MEMBERs; ADMINs
   * remove MEMBERs. The removed user's subscriptions to the room end (their
   * MemberLeft, realtime/removal.ts); they get RemovedFromRoom. `removal` says why
   * (default REMOVED; kicks and bans: moderation/bans.ts), with the moderator's
   * `note`, and `also` runs in the same transaction, after the room row is locked
   * (the ban row, the audit row). With `nonMember: true` a user who is not a member
   * is no error: only `also` runs.
   * @throws BAD_USER_INPUT on `userId` for oneself (leaveRoom); FORBIDDEN (role);
   * NOT_FOUND (room, or the user is not a member unless `nonMember`); what `also` throws.
   */
  async removeMember(actorId: string, roomId: string, userId: string, removal: Removal = { reason: "REMOVED" }): Promise<void> {
    if (userId === actorId) throw badInput("userId", "Use leaveRoom to leave a room yourself");
    const actor = await requireRole(this.db, roomId, actorId, ["OWNER", "ADMIN"]);
    const target = await this.db.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } });
    if (!target && !removal.nonMember) throw notFound("Member");
    if (target && !outranks(actor.role, target.role))
      throw forbidden(`A room ${actor.role} cannot ${VERB[removal.reason]} a ${target.role}`);
    const note = removal.note ?? null;
    await this.events.transaction(this.db, async (tx, record, notify) => {
      const room = await lockRoom(tx, roomId);
      if (target) {
        const { count } = await tx.roomMember.deleteMany({ where: { roomId, userId, role: target.role } });
        if (count === 0) throw notFound("Member"); // left or changed role meanwhile
        await record({ kind: "MemberLeft", roomId, userId, reason: removal.reason, byId: actorId, ...(note === null ? {} : { note }) });
        await notify([userId], {
          kind: "RemovedFromRoom",
          roomId,
          roomName: room?.name ?? null,
          reason: removal.reason,
          byId: actorId,
          note,
        });
      }
      await removal.also?.(tx);
    });
  }

  /**
   * Makes a member ADMIN or MEMBER; the OWNER only.
   * @throws BAD_USER_INPUT on `role` for OWNER (transferOwnership) and on `userId`
   * for the owner themself; FORBIDDEN for non-owners; NOT_FOUND when not a member.
   */
  async updateMemberRole(actorId: string, roomId: string, userId: string, role: RoomRole): Promise<RoomMember> {
    if (role === "OWNER") throw badInput("role", "A room has one OWNER; use transferOwnership");
    await requireRole(this.db, roomId, actorId, ["OWNER"]);
    if (userId === actorId) throw badInput("userId", "The owner's role changes only through transferOwnership");
    const target = await this.db.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } });
    if (!target) throw notFound("Member");
    if (target.role === role) return target;
    return this.events.transaction(this.db, async (tx, record) => {
      const updated = await tx.roomMember.update({ where: { roomId_userId: { roomId, userId } }, data: { role } });
      await record({ kind: "MemberRoleChanged", roomId, userId, role, previousRole: target.role, byId: actorId });
      return updated;
    });
  }

  /**
   * Hands the room's ownership to another member; the previous owner becomes ADMIN.
   * @throws BAD_USER_INPUT on `userId` for oneself; FORBIDDEN for non-owners;
   * NOT_FOUND when `userId` is not a member.
   */
  async transferOwnership(actorId: string, roomId: string, userId: string): Promise<Room> {
    if (userId === actorId) throw badInput("userId", "You already own this room");
    return this.events.transaction(this.db, async (tx, record) => {
      const room = (await lockRoom(tx, roomId))!;
      await requireRole(tx, roomId, actorId, ["OWNER"]);
      const target = await tx.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } });
      if (!target) throw notFound("Member");
      await tx.roomMember.update({ where: { roomId_userId: { roomId, userId: actorId } }, data: { role: "ADMIN" } });
      await tx.roomMember.update({ where: { roomId_userId: { roomId, userId } }, data: { role: "OWNER" } });
      await record({ kind: "MemberRoleChanged", roomId, userId, role: "OWNER", previousRole: target.role, byId: actorId });
      await record({ kind: "MemberRoleChanged", roomId, userId: actorId, role: "ADMIN", previousRole: "OWNER", byId: actorId });
      return room;
    });
  }

  /**
   * Changes a room's name, description, avatar or maxMembers; OWNER or ADMIN.
   * @throws FORBIDDEN (role; DIRECT rooms have no admins); BAD_USER_INPUT on
   * `input.maxMembers` below the current member count.
   */
  async update(actorId: string, roomId: string, input: UpdateRoomInput): Promise<Room> {
    await requireRole(this.db, roomId, actorId, ["OWNER", "ADMIN"]);
    return this.events.transaction(this.db, async (tx, record) => {
      await lockRoom(tx, roomId);
      if (input.maxMembers != null) {
        const members = await tx.roomMember.count({ where: { roomId } });
        if (input.maxMembers < members) throw badInput("input.maxMembers", `maxMembers cannot be below the ${members} current members`);
      }
      await record({ kind: "RoomUpdated", roomId, byId: actorId });
      return tx.room.update({
        where: { id: roomId },
        data: {
          name: input.name ?? undefined,
          description: input.description,
          avatar: input.avatar,
          maxMembers: input.maxMembers ?? undefined,
        },
      });
    });
  }

  /**
   * Deletes the room with its messages; the OWNER only. Subscribers get
   * RoomDeleted, every member RemovedFromRoom (ROOM_DELETED; the OWNER too, for
   * their other devices), stored in their event logs with the deletion.
   * A DIRECT room has no owner: either member may call it, and it only hides
   * the room from that member's myRooms until a newer message ({@link hide}).
   * @throws FORBIDDEN for non-owners; NOT_FOUND / FORBIDDEN for non-members.
   */
  async delete(actorId: string, roomId: string): Promise<void> {
    const kind = await this.db.room.findUnique({ where: { id: roomId }, select: { type: true } });
    if (kind?.type === "DIRECT") return this.hide(actorId, roomId);
    await requireRole(this.db, roomId, actorId, ["OWNER"]);
    const room = await this.events.transaction(this.db, async (tx, _record, notify) => {
      const room = await tx.room.delete({ where: { id: roomId }, include: { members: { select: { userId: true } } } });
      await notify(
        room.members.map((m) => m.userId),
        { kind: "RemovedFromRoom", roomId, roomName: room.name, reason: "ROOM_DELETED", byId: actorId },
      );
      return room;
    });
    await this.events.roomGone({ kind: "RoomDeleted", roomId, byId: actorId }, room.lastEventSeq);
  }

  /**
   * Hides a DIRECT room from `userId`'s myRooms until a message newer than its
   * newest one now arrives (the Matrix and Stream model of deleting a
   * conversation): RoomMember.hiddenAtSeq = Room.lastSeq, compared with the room's
   * lastSeq when the list is read ({@link hiddenRoomIds}), so the send path writes
   * nothing for it. The history, the read marker and the other member's view stay
   * as they were; the user's own other devices get RemovedFromRoom (HIDDEN) on
   * myEvents, stored in their event log. A blocked pair may hide too: it is the
   * member's own setting, like archiving.
   * @throws NOT_FOUND / FORBIDDEN for non-members.
   */
  async hide(userId: string, roomId: string): Promise<void> {
    await requireMember(this.db, roomId, userId);
    await this.events.transaction(this.db, async (tx, _record, notify) => {
      const hidden = await tx.$executeRaw`
        UPDATE "RoomMember" m SET "hiddenAtSeq" = r."lastSeq" FROM "Room" r
        WHERE r.id = m."roomId" AND m."roomId" = ${roomId}::uuid AND m."userId" = ${userId}::uuid`;
      if (hidden > 0) await notify([userId], { kind: "RemovedFromRoom", roomId, roomName: null, reason: "HIDDEN", byId: userId });
    });
  }

  /**
   * Archives (or unarchives) the room for the viewer only: it leaves (or comes back to) their myRooms default list.
   * @throws NOT_FOUND / FORBIDDEN for non-members.
   */
  async archive(userId: string, roomId: string, archived: boolean): Promise<void> {
    await requireMember(this.db, roomId, userId);
    await this.db.roomMember.update({ where: { roomId_userId: { roomId, userId } }, data: { archivedAt: archived ? new Date() : null } });
  }

  /**
   * Mutes the room's notifications for the viewer until `until`, or until
   * unmuted when `until` is null.
   * @throws BAD_USER_INPUT on `until` in the past; NOT_FOUND / FORBIDDEN for non-members.
   */
  async mute(userId: string, roomId: string, until: Date | null): Promise<void> {
    if (until && until.getTime() <= Date.now()) throw badInput("until", "until must be in the future");
    await this.setMutedUntil(userId, roomId, until ?? MUTED_FOREVER);
  }

  /** Unmutes the room for the viewer. @throws NOT_FOUND / FORBIDDEN for non-members. */
  unmute(userId: string, roomId: string): Promise<void> {
    return this.setMutedUntil(userId, roomId, null);
  }

  private async setMutedUntil(userId: string, roomId: string, mutedUntil: Date | null): Promise<void> {
    await requireMember(this.db, roomId, userId);
    await this.db.roomMember.update({ where: { roomId_userId: { roomId, userId } }, data: { mutedUntil } });
  }
}

/** How and why {@link Rooms.removeMember} removes a member. */
export interface Removal {
  reason: Extract<LeftReason, "REMOVED" | "KICKED" | "BANNED">;
  /** The moderator's reason, carried on MemberLeft and RemovedFromRoom. */
  note?: string | null;
  /** Work in the removal's transaction (room row locked), whether or not the user was a member. */
  also?: (tx: Db) => Promise<void>;
  /** A user who is not a member is no error (a ban of someone who already left). */
  nonMember?: boolean;
}

const VERB: Record<Removal["reason"], string> = { REMOVED: "remove", KICKED: "kick", BANNED: "ban" };

const RANK: Record<RoomRole, number> = { OWNER: 3, ADMIN: 2, MEMBER: 1 };
const outranks = (a: RoomRole, b: RoomRole) => RANK[a] > RANK[b];

/** Reads the room and locks its row until the transaction ends. */
export async function lockRoom(tx: Db, roomId: string): Promise<Room | null> {
  await tx.$queryRaw`SELECT 1 FROM "Room" WHERE id = ${roomId}::uuid FOR UPDATE`;
  return tx.room.findUnique({ where: { id: roomId } });
}

/**
 * Adds a member to a room locked by {@link lockRoom}, reading from its newest
 * message, and drops their pending invite to it. Every way in (joinRoom,
 * acceptInvite, addRoomMember) comes through here, so a ban holds for all of them.
 * @throws FORBIDDEN when the user is banned from the room, or it is full.
 */
export async function addWithinCapacity(tx: Db, room: Room, userId: string, role: RoomRole): Promise<RoomMember> {
  if (await isBanned(tx, room.id, userId)) throw banned();
  const count = await tx.roomMember.count({ where: { roomId: room.id } });
  if (count >= room.maxMembers) throw forbidden(`Room is full (maxMembers ${room.maxMembers})`);
  await tx.roomInvite.deleteMany({ where: { roomId: room.id, inviteeId: userId } });
  return tx.roomMember.create({ data: { roomId: room.id, userId, role, lastReadSeq: room.lastSeq } });
}

/** Whether `userId` is banned from the room (moderation/bans.ts). */
export async function isBanned(db: Db, roomId: string, userId: string): Promise<boolean> {
  return (await db.roomBan.count({ where: { roomId, userId } })) > 0;
}

/** The error for a banned user's way back into a room (or someone else's attempt to bring them in). */
export const banned = () => forbidden("Banned from this room until a room OWNER or ADMIN unbans the user");

/** Adds the users with autoJoinPublicRooms on to a new PUBLIC room, up to its capacity; returns their ids. */
async function addAutoJoiners(tx: Db, room: Room, already: string[]): Promise<string[]> {
  const rows = await tx.$queryRaw<{ userId: string }[]>`
    INSERT INTO "RoomMember" ("roomId", "userId", "role", "lastReadSeq")
    SELECT ${room.id}::uuid, u.id, 'MEMBER', 0 FROM "User" u
    WHERE u."autoJoinPublicRooms" AND u.id <> ALL(${already}::uuid[])
    ORDER BY u."createdAt", u.id
    LIMIT ${room.maxMembers - already.length}
    RETURNING "userId"`;
  return rows.map((r) => r.userId);
}

/**
 * The rooms `userId` has hidden ({@link Rooms.hide}) and that have had no newer
 * message since: one statement, over the member's rows with a hide set.
 */
export async function hiddenRoomIds(db: Db, userId: string): Promise<string[]> {
  const rows = await db.$queryRaw<{ roomId: string }[]>`
    SELECT m."roomId" FROM "RoomMember" m JOIN "Room" r ON r.id = m."roomId"
    WHERE m."userId" = ${userId}::uuid AND m."hiddenAtSeq" IS NOT NULL AND r."lastSeq" <= m."hiddenAtSeq"`;
  return rows.map((r) => r.roomId);
}

/**
 * A member's unread count: the room's messages after their read marker,
 * `Room.lastSeq − RoomMember.lastReadSeq` (seqs are 1, 2, 3, … with no gap;
 * markRead and the member's own sends move the marker). Room.unreadCount and
 * SyncRoom.unreadCount both answer this.
 */
export const unreadCount = (lastSeq: number, lastReadSeq: number): number => lastSeq - lastReadSeq;
