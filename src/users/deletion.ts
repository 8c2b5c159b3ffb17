import type { Attachments } from "../attachments/attachments.js";
import { verifyPassword } from "../auth/passwords.js";
import type { Sessions, Viewer } from "../auth/sessions.js";
import type { Db, PrismaClient } from "../db/client.js";
import { badInput, unauthenticated } from "../errors.js";
import type { RoomRole } from "../generated/prisma/client.js";
import type { EventLog, RecordEvent } from "../realtime/event-log.js";

/** The display name a deleted account shows, as the sender of the messages it left. */
const DELETED_USER_NAME = "Deleted user";

/**
 * The username and email a deleted account gets: `deleted-<id>`. Neither input
 * rule accepts it (usernames take only `[a-z0-9_.]`, at most 32 characters; an
 * email needs an `@`), so nobody can register it and no deletion can collide.
 */
const tombstoneName = (userId: string) => `deleted-${userId}`;

/** A stored password hash no password matches (not a PHC string: verifyPassword answers false). */
const UNUSABLE_PASSWORD = "!deleted";

/** Longest a deletion's transaction may run (ms): a user in many rooms writes an event per room. */
const TRANSACTION_TIMEOUT_MS = 30_000;

/** One of the deleting user's rooms, locked, with who takes it over. */
interface RoomOfUser {
  id: string;
  lastEventSeq: number;
  /** The deleting user's role in it. */
  role: RoomRole;
  /** Members besides the deleting user. */
  others: number;
  /** The next owner (the longest-standing ADMIN, else the longest-standing member) and their role now; null without others. */
  successorId: string | null;
  successorRole: RoomRole | null;
}

/**
 * Account deletion (deleteAccount, GDPR art. 17 right to erasure). The User row
 * stays as an anonymised tombstone, so the messages the user sent stay in their
 * rooms, shown as from "Deleted user" (the other members' conversation history
 * is theirs too); everything else personal goes. All in one transaction:
 * 1. every session of the user is deleted (tokens refused from the commit on);
 * 2. in each of the user's rooms (locked in id order, so two deletions cannot
 *    deadlock): a room with no other member is deleted with its messages; else,
 *    where the user is OWNER, ownership passes to the longest-standing ADMIN,
 *    else the longest-standing member (MemberRoleChanged), and the user leaves
 *    (MemberLeft, reason LEFT), DIRECT rooms included;
 * 3. contacts and requests, blocks both ways, invites sent and received,
 *    notifications, the user's event log (UserEventLog: the account row stays, as a
 *    tombstone, so its cascade does not apply), mailed tokens (reset, verification)
 *    and unsent uploads are deleted;
 * 4. the profile is anonymised: username and email `deleted-<id>` (the old
 *    username and email can be registered again), name "Deleted user", picture,
 *    phone, bio, last seen cleared, settings off, the password unusable, `deletedAt` set.
 * After the commit: the room events are published, every node closes the user's
 * sockets with 4403, and the unsent uploads' files are removed.
 * Kept, anonymised: messages (with their edits and attachments), reactions, pins.
 */
export class AccountDeletion {
  constructor(
    private readonly db: PrismaClient,
    private readonly events: EventLog,
    private readonly sessions: Sessions,
    private readonly attachments: Attachments,
  ) {}

  /**
   * Deletes the viewer's account, once `password` is theirs.
   * @throws BAD_USER_INPUT on `password` when it is wrong (nothing changes);
   * UNAUTHENTICATED when the account is already deleted (also by a concurrent call).
   */
  async delete(viewer: Viewer, password: string): Promise<void> {
    const userId = viewer.userId;
    const user = await this.db.user.findUnique({ where: { id: userId }, select: { passwordHash: true, deletedAt: true } });
    if (!user || user.deletedAt) throw unauthenticated();
    if (!(await verifyPassword(user.passwordHash, password))) throw badInput("password", "Incorrect password");
    const { sessionIds, deletedRooms, files } = await this.events.transaction(
      this.db,
      async (tx, record) => {
        const sessionIds = await this.sessions.deleteAllIn(tx, userId);
        const deletedRooms = await leaveRooms(tx, record, userId);
        const files = await erasePersonalData(tx, userId);
        return { sessionIds, deletedRooms, files };
      },
      { timeout: TRANSACTION_TIMEOUT_MS },
    );
    await this.sessions.announceEnded(sessionIds);
    await Promise.all(
      deletedRooms.map((room) => this.events.roomGone({ kind: "RoomDeleted", roomId: room.id, byId: userId }, room.lastEventSeq)),
    );
    await this.attachments.removeFiles(files);
  }
}

/** Step 2 of {@link AccountDeletion}: returns the rooms deleted (no other member). */
async function leaveRooms(tx: Db, record: RecordEvent, userId: string): Promise<RoomOfUser[]> {
  // lock first, in id order; then read who is left under the locks
  await tx.$queryRaw`SELECT r.id FROM "Room" r JOIN "RoomMember" m ON m."roomId" = r.id AND m."userId" = ${userId}::uuid ORDER BY r.id FOR UPDATE OF r`;
  const rooms = await tx.$queryRaw<RoomOfUser[]>`
    SELECT r.id, r."lastEventSeq", m.role,
      (SELECT count(*)::int FROM "RoomMember" o WHERE o."roomId" = r.id AND o."userId" <> m."userId") AS others,
      s."userId" AS "successorId", s.role AS "successorRole"
    FROM "RoomMember" m JOIN "Room" r ON r.id = m."roomId"
    LEFT JOIN LATERAL (
      SELECT o."userId", o.role FROM "RoomMember" o WHERE o."roomId" = r.id AND o."userId" <> m."userId"
      ORDER BY o.role = 'ADMIN' DESC, o."joinedAt", o."userId" LIMIT 1
    ) s ON true
    WHERE m."userId" = ${userId}::uuid
    ORDER BY r.id`;
  const deleted = rooms.filter((room) => room.others === 0);
  await tx.room.deleteMany({ where: { id: { in: deleted.map((room) => room.id) } } });
  for (const room of rooms) {
    if (room.others === 0) continue;
    if (room.role === "OWNER") {
      await tx.roomMember.update({ where: { roomId_userId: { roomId: room.id, userId: room.successorId! } }, data: { role: "OWNER" } });
      await record({
        kind: "MemberRoleChanged",
        roomId: room.id,
        userId: room.successorId!,
        role: "OWNER",
        previousRole: room.successorRole!,
        byId: userId,
      });
    }
    await record({ kind: "MemberLeft", roomId: room.id, userId, reason: "LEFT", byId: null });
  }
  // only the rooms read above (a room made meanwhile, unlocked, keeps the membership rather than lose its MemberLeft)
  await tx.roomMember.deleteMany({ where: { userId, roomId: { in: rooms.map((room) => room.id) } } });
  return deleted;
}

/** Steps 3 and 4 of {@link AccountDeletion}: returns the storage keys of the unsent uploads deleted. */
async function erasePersonalData(tx: Db, userId: string): Promise<string[]> {
  await tx.contact.deleteMany({ where: { OR: [{ fromId: userId }, { toId: userId }] } });
  await tx.block.deleteMany({ where: { OR: [{ blockerId: userId }, { blockedId: userId }] } });
  await tx.roomInvite.deleteMany({ where: { OR: [{ inviterId: userId }, { inviteeId: userId }] } });
  await tx.notification.deleteMany({ where: { userId } });
  await tx.userEventLog.deleteMany({ where: { userId } });
  // a reset or verification link mailed before the deletion must not bring the account back
  await tx.accountToken.deleteMany({ where: { userId } });
  const uploads = await tx.attachment.findMany({
    where: { uploaderId: userId, messageId: null },
    select: { storageKey: true, thumbnailKey: true },
  });
  await tx.attachment.deleteMany({ where: { uploaderId: userId, messageId: null } });
  const tombstone = tombstoneName(userId);
  // last, not first: the user's own send in a room locked here takes a key-share lock on this row
  const { count } = await tx.user.updateMany({
    where: { id: userId, deletedAt: null },
    data: {
      username: tombstone,
      email: tombstone,
      passwordHash: UNUSABLE_PASSWORD,
      firstName: "Deleted",
      lastName: "user",
      displayName: DELETED_USER_NAME,
      avatar: null,
      phoneNumber: null,
      bio: null,
      away: false,
      lastSeenAt: null,
      language: "en",
      timezone: "UTC",
      notificationSound: false,
      emailNotifications: false,
      pushNotifications: false,
      showOnlineStatus: false,
      showReadReceipts: false,
      allowDirectMessages: false,
      autoJoinPublicRooms: false,
      deletedAt: new Date(),
    },
  });
  if (count === 0) throw unauthenticated(); // a concurrent deleteAccount committed first: roll this one back
  return uploads.flatMap((u) => (u.thumbnailKey ? [u.storageKey, u.thumbnailKey] : [u.storageKey]));
}
