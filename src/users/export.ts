import type { PrismaClient } from "../db/client.js";
import type { MessageEncryption } from "../security/message-encryption.js";

/**
 * The viewer's data as exportMyData returns it (GDPR art. 20, right to data
 * portability): JSON, dates as ISO-8601 strings (JSON.stringify of the rows).
 * - `profile`: the User row's personal fields (no password hash);
 * - `settings`: the user settings;
 * - `contacts`: contacts and pending requests either way, with the other user's id and username;
 * - `blocks`: the users the viewer blocked;
 * - `rooms`: the rooms the viewer is a member of: id, name, type, role, joinedAt;
 * - `messages`: every message the viewer sent, in any room, also rooms they have
 *   left (their own words), oldest first per room: content, type, time, edits
 *   (earlier versions), attachments (metadata; the bytes are downloaded as usual).
 *   Others' messages are never included.
 */
export interface AccountExport {
  exportedAt: string;
  profile: Record<string, unknown>;
  settings: Record<string, unknown>;
  contacts: {
    id: string;
    userId: string;
    username: string;
    status: string;
    direction: "SENT" | "RECEIVED";
    createdAt: Date;
    respondedAt: Date | null;
  }[];
  blocks: { userId: string; username: string; createdAt: Date }[];
  rooms: { id: string; name: string | null; type: string; role: string; joinedAt: Date }[];
  messages: Record<string, unknown>[];
}

/**
 * Reads {@link AccountExport} for `userId`: one query per table (user, contacts,
 * blocks, memberships, messages; relations joined in the same statement), so its
 * cost is linear in the rows and not in round trips. Contents and edits sealed at
 * rest are opened with `encryption` (the export carries the text). Unbounded: all own messages
 * are read and answered at once (docs/security.md, "Account deletion and export").
 */
export async function exportAccount(db: PrismaClient, encryption: MessageEncryption, userId: string): Promise<AccountExport> {
  const [user, contacts, blocks, memberships, messages] = await Promise.all([
    db.user.findUniqueOrThrow({ where: { id: userId } }),
    db.contact.findMany({
      where: { OR: [{ fromId: userId }, { toId: userId }] },
      orderBy: { createdAt: "asc" },
      include: { from: { select: { username: true } }, to: { select: { username: true } } },
    }),
    db.block.findMany({
      where: { blockerId: userId },
      orderBy: { createdAt: "asc" },
      include: { blocked: { select: { username: true } } },
    }),
    db.roomMember.findMany({ where: { userId }, orderBy: { joinedAt: "asc" }, include: { room: { select: { name: true, type: true } } } }),
    db.message.findMany({
      where: { senderId: userId },
      orderBy: [{ roomId: "asc" }, { seq: "asc" }],
      select: {
        id: true,
        roomId: true,
        seq: true,
        type: true,
        content: true,
        contentKeyId: true,
        replyToId: true,
        threadRootId: true,
        createdAt: true,
        editedAt: true,
        deletedAt: true,
        expiresAt: true,
        edits: { select: { content: true, contentKeyId: true, editedAt: true }, orderBy: { editedAt: "asc" } },
        attachments: { select: { id: true, filename: true, mimeType: true, size: true, createdAt: true } },
      },
    }),
  ]);
  const {
    passwordHash: _,
    notificationSound,
    emailNotifications,
    pushNotifications,
    showOnlineStatus,
    showReadReceipts,
    allowDirectMessages,
    autoJoinPublicRooms,
    notificationPreviews,
    ...profile
  } = user;
  return {
    exportedAt: new Date().toISOString(),
    profile,
    settings: {
      notificationSound,
      emailNotifications,
      pushNotifications,
      showOnlineStatus,
      showReadReceipts,
      allowDirectMessages,
      autoJoinPublicRooms,
      notificationPreviews,
    },
    contacts: contacts.map((c) => {
      const sent = c.fromId === userId;
      return {
        id: c.id,
        userId: sent ? c.toId : c.fromId,
        username: (sent ? c.to : c.from).username,
        status: c.status,
        direction: sent ? "SENT" : "RECEIVED",
        createdAt: c.createdAt,
        respondedAt: c.respondedAt,
      };
    }),
    blocks: blocks.map((b) => ({ userId: b.blockedId, username: b.blocked.username, createdAt: b.createdAt })),
    rooms: memberships.map((m) => ({ id: m.roomId, name: m.room.name, type: m.room.type, role: m.role, joinedAt: m.joinedAt })),
    messages: messages.map(({ contentKeyId, edits, ...message }) => ({
      ...message,
      content: encryption.open(message.id, { content: message.content, contentKeyId }),
      edits: edits.map((edit) => ({ content: encryption.open(message.id, edit), editedAt: edit.editedAt })),
    })),
  };
}
