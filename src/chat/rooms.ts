import type { Db, PrismaClient } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { badInput, forbidden, notFound } from "../errors.js";
import type { Room, RoomMember, RoomRole } from "../generated/prisma/client.js";
import { requireMember, requireRole } from "./access.js";

/** Default and largest `maxMembers` of a GROUP or PUBLIC room (no seed states one; 000's examples use 50 and 100). */
export const DEFAULT_MAX_MEMBERS = 100;
export const MAX_MAX_MEMBERS = 10_000;

export interface CreateRoomInput {
  name: string;
  description?: string | null;
  type: "GROUP" | "PUBLIC";
  /** Users added as MEMBERs besides the creator (the OWNER). */
  memberIds?: readonly string[] | null;
  maxMembers?: number | null;
}

/**
 * Room lifecycle and membership rules. Capacity checks lock the room row
 * (`SELECT … FOR UPDATE`) so concurrent joins cannot pass `maxMembers`.
 */
export class Rooms {
  constructor(private readonly db: PrismaClient) {}

  /**
   * Creates a GROUP or PUBLIC room owned by `userId`, with `memberIds` as MEMBERs.
   * @throws BAD_USER_INPUT on `input.memberIds` (unknown user) or `input.maxMembers` (too small for the members).
   */
  async create(userId: string, input: CreateRoomInput): Promise<Room> {
    const others = [...new Set(input.memberIds ?? [])].filter((id) => id !== userId);
    const maxMembers = input.maxMembers ?? DEFAULT_MAX_MEMBERS;
    if (others.length + 1 > maxMembers) throw badInput("input.maxMembers", `maxMembers (${maxMembers}) is less than the ${others.length + 1} initial members`);
    const found = await this.db.user.count({ where: { id: { in: others } } });
    if (found !== others.length) throw badInput("input.memberIds", "Unknown user in memberIds");
    return this.db.room.create({
      data: {
        type: input.type,
        name: input.name,
        description: input.description ?? null,
        maxMembers,
        createdById: userId,
        members: { create: [{ userId, role: "OWNER" }, ...others.map((id) => ({ userId: id, role: "MEMBER" as const }))] },
      },
    });
  }

  /**
   * The one DIRECT room of the pair (viewer, `otherId`), created on first use.
   * Concurrent calls for the same pair return the same room: the pair's
   * `directKey` is unique, and the loser of the insert race reads the winner's room.
   * @throws BAD_USER_INPUT on `userId` for oneself; NOT_FOUND for an unknown user.
   */
  async direct(userId: string, otherId: string): Promise<Room> {
    if (otherId === userId) throw badInput("userId", "Cannot open a direct room with yourself");
    const directKey = [userId, otherId].sort().join(":");
    const existing = await this.db.room.findUnique({ where: { directKey } });
    if (existing) return existing;
    if (!(await this.db.user.findUnique({ where: { id: otherId }, select: { id: true } }))) throw notFound("User");
    try {
      return await this.db.room.create({
        data: { type: "DIRECT", maxMembers: 2, directKey, createdById: userId, members: { create: [{ userId }, { userId: otherId }] } },
      });
    } catch (e) {
      if (!isUniqueViolation(e, "directKey")) throw e;
      return this.db.room.findUniqueOrThrow({ where: { directKey } });
    }
  }

  /**
   * Joins a PUBLIC room; joining a room one is already in returns it.
   * @throws NOT_FOUND for a missing or non-public room; FORBIDDEN when it is full.
   */
  async join(userId: string, roomId: string): Promise<Room> {
    return this.db.$transaction(async (tx) => {
      const room = await lockRoom(tx, roomId);
      const member = await tx.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } });
      if (member) return room!;
      if (room?.type !== "PUBLIC") throw notFound("Room");
      await addWithinCapacity(tx, room, userId, "MEMBER");
      return room;
    });
  }

  /**
   * Leaves a room. The last OWNER cannot leave while others remain: they must
   * make someone else OWNER first (addRoomMember with role OWNER).
   * @throws NOT_FOUND / FORBIDDEN from the membership check; FORBIDDEN for the last owner.
   */
  async leave(userId: string, roomId: string): Promise<void> {
    await this.db.$transaction(async (tx) => {
      await lockRoom(tx, roomId); // two owners leaving at once cannot both pass the check
      const membership = await requireMember(tx, roomId, userId);
      if (membership.role === "OWNER") {
        const owners = await tx.roomMember.count({ where: { roomId, role: "OWNER" } });
        const members = await tx.roomMember.count({ where: { roomId } });
        if (owners === 1 && members > 1) throw forbidden("The last owner cannot leave; make another member OWNER first");
      }
      await tx.roomMember.delete({ where: { roomId_userId: { roomId, userId } } });
    });
  }

  /**
   * Adds `userId` to a GROUP or PUBLIC room with `role` (default MEMBER).
   * OWNERs may add any role; ADMINs may add MEMBERs only.
   * @throws FORBIDDEN (role, DIRECT room, room full); NOT_FOUND (room, user);
   * BAD_USER_INPUT on `userId` when already a member.
   */
  async addMember(actorId: string, roomId: string, userId: string, role: RoomRole = "MEMBER"): Promise<RoomMember> {
    const actor = await requireRole(this.db, roomId, actorId, ["OWNER", "ADMIN"]);
    if (actor.role !== "OWNER" && role !== "MEMBER") throw forbidden("Only a room OWNER can add ADMINs or OWNERs");
    if (!(await this.db.user.findUnique({ where: { id: userId }, select: { id: true } }))) throw notFound("User");
    return this.db.$transaction(async (tx) => {
      const room = (await lockRoom(tx, roomId))!;
      if (room.type === "DIRECT") throw forbidden("Direct rooms have exactly two members");
      if (await tx.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } } })) {
        throw badInput("userId", "User is already a member of this room");
      }
      return addWithinCapacity(tx, room, userId, role);
    });
  }
}

/** Reads the room and locks its row until the transaction ends. */
async function lockRoom(tx: Db, roomId: string): Promise<Room | null> {
  await tx.$queryRaw`SELECT 1 FROM "Room" WHERE id = ${roomId}::uuid FOR UPDATE`;
  return tx.room.findUnique({ where: { id: roomId } });
}

async function addWithinCapacity(tx: Db, room: Room, userId: string, role: RoomRole): Promise<RoomMember> {
  const count = await tx.roomMember.count({ where: { roomId: room.id } });
  if (count >= room.maxMembers) throw forbidden(`Room is full (maxMembers ${room.maxMembers})`);
  return tx.roomMember.create({ data: { roomId: room.id, userId, role, lastReadSeq: room.lastSeq } });
}
