import { randomUUID } from "node:crypto";
import type { Db, PrismaClient } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { badInput, forbidden, notFound } from "../errors.js";
import { type Attachments, messageTypeOf } from "../attachments/attachments.js";
import { type Message, type MessageType, Prisma, type Room, type RoomMember } from "../generated/prisma/client.js";
import { type Events, eventSql, type StoredAs } from "../realtime/events.js";
import { type MessageAddedPayload, messageToJson, type RoomEventData, topics } from "../realtime/topics.js";
import { requireMember, requirePoster, requireUnblockedMember, unblockedMember } from "./access.js";
import { mentionedUsernames, resolveMentions } from "./mentions.js";
import { lockRoom } from "./rooms.js";

/** How many attachments one message may carry. */
export const MAX_ATTACHMENTS = 10;

/** How many messages a room may have pinned at once (Slack's limit is 100, Telegram shows one; 50 keeps the list readable). */
export const MAX_PINNED = 50;

export interface SendMessageInput {
  roomId: string;
  /** Up to 5,000 characters (seed 001), already trimmed by input validation; may be absent with attachments. */
  content?: string | null;
  /** The sender's unsent uploads (uploadAttachment), at most {@link MAX_ATTACHMENTS}. */
  attachmentIds?: readonly string[] | null;
  /** The message type; by default TEXT, or what the first attachment is (IMAGE, VIDEO, AUDIO, FILE). VOICE marks an audio attachment as a voice note. */
  type?: MessageType | null;
  replyToId?: string | null;
  /** Reply in the thread of this top-level message. */
  threadRootId?: string | null;
  /** The sender's idempotency key for this message (seed 001 `client_message_id`). */
  clientMessageId?: string | null;
  /** Self-destruct timer in seconds, one of {@link SELF_DESTRUCT_TIMERS_S}. */
  expiresIn?: number | null;
}

/** The self-destruct timers a message may have, in seconds (seed 001 `self_destruct_timer`: 5 s … 7 days). */
export const SELF_DESTRUCT_TIMERS_S = [5, 10, 30, 60, 300, 3600, 86400, 604800] as const;

/** A mention notification made by a send or an edit, to publish after the commit. */
type Mention = { id: string; userId: string };

/**
 * Sending, editing, deleting, reading, pinning and reacting. Every change is
 * committed with its room event (events.transaction: stored in the room's log
 * with the next seq) and published after the commit, so a subscriber never sees
 * a change that a later read could miss.
 */
export class Messages {
  constructor(
    private readonly db: PrismaClient,
    private readonly events: Events,
    private readonly attachments: Attachments,
  ) {}

  /**
   * Stores a message and publishes it (messageAdded, and MessageAdded on roomEvents).
   * In one transaction: bump the room's `lastSeq` (the row lock orders
   * concurrent sends), insert the message with that seq, move the sender's read
   * marker to it, and count it on its thread's root. A retry with the same
   * `clientMessageId` returns the stored message and publishes nothing. Once
   * committed, the send succeeds even when the publish fails (Redis down:
   * Events.afterCommit logs it); subscribers get the message from PostgreSQL
   * with the next one that reaches them, or on resubscribing with `after`.
   * @throws NOT_FOUND / FORBIDDEN for non-members, and FORBIDDEN where the sender may not post
   * (BROADCAST MEMBER, blocked DIRECT pair: {@link requirePoster}); BAD_USER_INPUT on
   * `input.replyToId` when it is not a message of the same room, and on
   * `input.threadRootId` unless it is a live top-level message of the same room;
   * on `input.content` when there is neither content nor an attachment; on
   * `input.attachmentIds` for an upload that is unknown, someone else's or sent
   * already; on `input.type` when it does not fit the attachments.
   */
  async send(senderId: string, input: SendMessageInput): Promise<Message> {
    await requirePoster(this.db, input.roomId, senderId);
    // a retry first: its attachments are already attached to the message it returns
    const clientMessageId = input.clientMessageId ?? null;
    if (clientMessageId) {
      const previous = await this.findRetry(senderId, clientMessageId);
      if (previous) return previous;
    }
    const content = input.content ?? "";
    const attachmentIds = [...new Set(input.attachmentIds ?? [])];
    if (!content && attachmentIds.length === 0) throw badInput("input.content", "A message needs content or an attachment");
    const type = await this.typeOf(senderId, attachmentIds, input.type ?? null);
    if (input.replyToId) {
      const target = await this.db.message.findUnique({ where: { id: input.replyToId }, select: { roomId: true } });
      if (target?.roomId !== input.roomId) throw badInput("input.replyToId", "replyToId must be a message of the same room");
    }
    const threadRootId = input.threadRootId ?? null;
    if (threadRootId) {
      const root = await this.db.message.findUnique({ where: { id: threadRootId }, select: { roomId: true, threadRootId: true, deletedAt: true } });
      if (root?.roomId !== input.roomId || root.threadRootId || root.deletedAt) {
        throw badInput("input.threadRootId", "threadRootId must be a top-level, not deleted message of the same room");
      }
    }
    let message: Message;
    let mentions: Mention[];
    try {
      ({ message, mentions } = await this.events.transaction(this.db, async (tx, record) => {
        let mentionedIds: string[] = [];
        if (mentionedUsernames(content).length > 0) {
          await lockRoom(tx, input.roomId); // mentioned members are read under the room lock, like the rest of the send
          mentionedIds = await resolveMentions(tx, input.roomId, senderId, content);
        }
        const inserted = await insertMessage(tx, {
          roomId: input.roomId,
          senderId,
          type,
          content,
          replyToId: input.replyToId ?? null,
          threadRootId,
          clientMessageId,
          mentionedIds,
          expiresAt: input.expiresIn ? new Date(Date.now() + input.expiresIn * 1000) : null,
        });
        if (!inserted) throw notFound("Room"); // the sender was removed meanwhile: nothing is written
        const created = inserted.message;
        if (threadRootId) {
          await tx.message.update({ where: { id: threadRootId }, data: { threadReplyCount: { increment: 1 }, threadLastReplyAt: created.createdAt } });
        }
        if (attachmentIds.length > 0) {
          const attached = await tx.attachment.updateMany({ where: { id: { in: attachmentIds }, uploaderId: senderId, messageId: null }, data: { messageId: created.id } });
          if (attached.count !== attachmentIds.length) throw unusableAttachments(); // sent by a concurrent message
        }
        await record(inserted.event, inserted.stored);
        return { message: created, mentions: await notify(tx, created.id, mentionedIds) };
      }));
    } catch (e) {
      // a concurrent retry with the same clientMessageId committed first
      if (clientMessageId && isUniqueViolation(e, "clientMessageId")) return (await this.findRetry(senderId, clientMessageId))!;
      throw e;
    }
    const payload: MessageAddedPayload = { message: messageToJson(message) };
    await this.events.afterCommit(topics.messageAdded(message.roomId), payload); // never throws: the message is committed
    await this.publishMentions(mentions);
    return message;
  }

  /**
   * Replaces the content of the sender's own message, keeping the previous one in
   * its edit history; the same content again changes nothing. Users the new
   * content mentions for the first time are notified.
   * @throws NOT_FOUND (message, or a room the viewer cannot see); FORBIDDEN for
   * someone else's or a deleted message, and in a DIRECT room of a blocked pair.
   */
  async edit(userId: string, messageId: string, content: string): Promise<Message> {
    const { message } = await this.visible(userId, messageId, requireUnblockedMember);
    if (message.senderId !== userId) throw forbidden("Only the sender can edit a message");
    const edited = await this.events.transaction(this.db, async (tx, record) => {
      const current = await lockMessage(tx, messageId);
      if (current.deletedAt) throw forbidden("A deleted message cannot be edited");
      if (current.content === content) return { message: current, mentions: [] };
      const editedAt = new Date();
      const mentionedIds = await resolveMentions(tx, current.roomId, userId, content);
      await tx.messageEdit.create({ data: { messageId, content: current.content, editedAt } });
      await record({ kind: "MessageEdited", roomId: current.roomId, messageId });
      const message = await tx.message.update({ where: { id: messageId }, data: { content, editedAt, mentionedIds } });
      return { message, mentions: await notify(tx, messageId, mentionedIds) };
    });
    await this.publishMentions(edited.mentions);
    return edited.message;
  }

  /**
   * Deletes a message, leaving a tombstone in history: same id and seq, content
   * "", `deletedAt` set; its edit history, reactions and attachments (their files
   * too) go, and it is unpinned.
   * The sender may delete their messages, a room's OWNER and ADMINs any. Idempotent.
   * @throws NOT_FOUND (message, or a room the viewer cannot see); FORBIDDEN otherwise.
   */
  async delete(userId: string, messageId: string): Promise<Message> {
    const { message, membership } = await this.visible(userId, messageId, requireMember);
    if (message.senderId !== userId && membership.role === "MEMBER") throw forbidden("Only the sender or a room OWNER or ADMIN can delete a message");
    const { message: tombstone, files } = await this.events.transaction(this.db, async (tx, record) => {
      const current = await lockMessage(tx, messageId);
      if (current.deletedAt) return { message: current, files: [] };
      await record({ kind: "MessageDeleted", roomId: current.roomId, messageId, byId: userId });
      return purge(tx, messageId);
    });
    await this.attachments.removeFiles(files);
    return tombstone;
  }

  /**
   * Moves the viewer's read marker in the room to `messageId`; never backwards
   * (an older message changes nothing). Sends a ReadReceipt unless the viewer
   * hides read receipts (seed 000 `show_read_receipts`).
   * @throws NOT_FOUND / FORBIDDEN for non-members; BAD_USER_INPUT on `messageId`
   * when it is not a message of the room.
   */
  async markRead(userId: string, roomId: string, messageId: string): Promise<Room> {
    await requireMember(this.db, roomId, userId);
    const message = await this.db.message.findUnique({ where: { id: messageId }, select: { roomId: true, seq: true } });
    if (message?.roomId !== roomId) throw badInput("messageId", "messageId must be a message of this room");
    const { showReadReceipts } = await this.db.user.findUniqueOrThrow({ where: { id: userId }, select: { showReadReceipts: true } });
    return this.events.transaction(this.db, async (tx, record) => {
      const { count } = await tx.roomMember.updateMany({ where: { roomId, userId, lastReadSeq: { lt: message.seq } }, data: { lastReadSeq: message.seq } });
      if (count > 0 && showReadReceipts) await record({ kind: "ReadReceipt", roomId, messageId, userId });
      return tx.room.findUniqueOrThrow({ where: { id: roomId } });
    });
  }

  /**
   * Pins (or unpins) a message; idempotent. In a DIRECT room either member may,
   * elsewhere the OWNER and ADMINs. At most {@link MAX_PINNED} per room.
   * @throws NOT_FOUND (message, or a room the viewer cannot see); FORBIDDEN
   * (role, deleted message, the room has MAX_PINNED pinned already, a DIRECT room of a blocked pair).
   */
  async pin(userId: string, messageId: string, pinned: boolean): Promise<Message> {
    const { message, membership: { membership, type } } = await this.visible(userId, messageId, unblockedMember);
    if (type !== "DIRECT" && membership.role === "MEMBER") throw forbidden("Only a room OWNER or ADMIN can pin messages");
    return this.events.transaction(this.db, async (tx, record) => {
      await lockRoom(tx, message.roomId); // counts and pins one at a time per room
      const current = await tx.message.findUniqueOrThrow({ where: { id: messageId } });
      if (current.deletedAt) throw forbidden("A deleted message cannot be pinned");
      if ((current.pinnedAt !== null) === pinned) return current;
      if (pinned && (await tx.message.count({ where: { roomId: current.roomId, pinnedAt: { not: null } } })) >= MAX_PINNED) {
        throw forbidden(`A room can have at most ${MAX_PINNED} pinned messages; unpin one first`);
      }
      await record({ kind: "MessagePinned", roomId: current.roomId, messageId, pinned, byId: userId });
      return tx.message.update({ where: { id: messageId }, data: pinned ? { pinnedAt: new Date(), pinnedById: userId } : { pinnedAt: null, pinnedById: null } });
    });
  }

  /**
   * Adds (`add: true`) or removes the viewer's `emoji` reaction; both are
   * idempotent, and only a change makes a ReactionAdded / ReactionRemoved event.
   * @throws NOT_FOUND for an unknown message or one in a room the viewer cannot
   * see; FORBIDDEN for a deleted message, and in a DIRECT room of a blocked pair.
   */
  async react(userId: string, messageId: string, emoji: string, add: boolean): Promise<Message> {
    const { message } = await this.visible(userId, messageId, requireUnblockedMember);
    if (message.deletedAt) throw forbidden("A deleted message cannot get reactions");
    const roomId = message.roomId;
    await this.events.transaction(this.db, async (tx, record) => {
      const { count } = add
        ? await tx.reaction.createMany({ data: [{ messageId, userId, emoji }], skipDuplicates: true })
        : await tx.reaction.deleteMany({ where: { messageId, userId, emoji } });
      if (count > 0) await record({ kind: add ? "ReactionAdded" : "ReactionRemoved", roomId, messageId, userId, emoji });
    });
    return message;
  }

  /**
   * The message and the viewer's membership of its room, checked by `access`.
   * @throws NOT_FOUND, or FORBIDDEN for a PUBLIC room they have not joined; what `access` throws.
   */
  private async visible<M>(userId: string, messageId: string, access: (db: Db, roomId: string, userId: string) => Promise<M>): Promise<{ message: Message; membership: M }> {
    const message = await this.db.message.findUnique({ where: { id: messageId } });
    if (!message) throw notFound("Message");
    return { message, membership: await access(this.db, message.roomId, userId) };
  }

  /** The type of a message with these attachments. @throws BAD_USER_INPUT on `input.attachmentIds` / `input.type`. */
  private async typeOf(senderId: string, attachmentIds: string[], requested: MessageType | null): Promise<MessageType> {
    const attachments =
      attachmentIds.length === 0
        ? []
        : await this.db.attachment.findMany({ where: { id: { in: attachmentIds }, uploaderId: senderId, messageId: null }, select: { id: true, mimeType: true } });
    if (attachments.length !== attachmentIds.length) throw unusableAttachments();
    const first = attachments.find((a) => a.id === attachmentIds[0]);
    const natural: MessageType = first ? messageTypeOf(first.mimeType) : "TEXT";
    const fits =
      requested === null ||
      requested === natural ||
      (requested === "VOICE" && natural === "AUDIO") ||
      (requested === "FILE" && natural !== "TEXT");
    if (requested === "SYSTEM") throw badInput("input.type", "SYSTEM messages come only from the server");
    if (!fits) throw badInput("input.type", first ? `A ${requested} message cannot carry ${first.mimeType}` : `A ${requested} message needs an attachment of that kind`);
    return requested ?? natural;
  }

  /** Tells each mentioned user (myEvents MentionNotification). */
  private async publishMentions(mentions: Mention[]): Promise<void> {
    for (const mention of mentions) await this.events.users([mention.userId], { kind: "MentionNotification", notificationId: mention.id });
  }

  private findRetry(senderId: string, clientMessageId: string): Promise<Message | null> {
    return this.db.message.findUnique({ where: { senderId_clientMessageId: { senderId, clientMessageId } } });
  }
}

function unusableAttachments() {
  return badInput("input.attachmentIds", "Every attachment must be an upload of yours that has not been sent yet");
}

/** What {@link insertMessage} writes: a Message's own fields, without id, seq and createdAt. */
type NewMessage = Pick<Message, "roomId" | "senderId" | "type" | "content" | "replyToId" | "threadRootId" | "clientMessageId" | "mentionedIds" | "expiresAt">;

/**
 * One statement for the writes of every send (Prisma plans each call in its
 * query compiler, ~2 ms of CPU; docs/performance.md): bumps the room's `lastSeq`
 * and `lastEventSeq` (the row lock orders concurrent sends and the room's event
 * log), moves the sender's read marker to the new seq, which re-checks
 * membership under that lock, inserts the message with that seq and stores its
 * MessageAdded event (events.ts eventSql). Returns the message, and the event
 * with the seq and time it was stored with, for `record` to publish after the
 * commit. Resolves null when the sender is not a member (removed meanwhile):
 * nothing is inserted, but the room's bumps are, so the caller must throw to roll
 * them back. Ids are made here: the schema's `@default(uuid())` is Prisma's, not
 * PostgreSQL's. Rejects with the unique violation on `clientMessageId` when that
 * key was used already.
 */
async function insertMessage(tx: Db, m: NewMessage): Promise<{ message: Message; event: RoomEventData; stored: StoredAs } | null> {
  const now = new Date();
  const at = now.toISOString();
  const event: RoomEventData = { kind: "MessageAdded", roomId: m.roomId, messageId: randomUUID() };
  const [row] = await tx.$queryRaw<(Message & { eventSeq: number })[]>`
    WITH room AS (
      UPDATE "Room" SET "lastSeq" = "lastSeq" + 1, ${eventSql.bump}, "lastActivityAt" = ${now}, "updatedAt" = ${now}
      WHERE id = ${m.roomId}::uuid RETURNING "lastSeq", "lastEventSeq"
    ), marker AS (
      UPDATE "RoomMember" SET "lastReadSeq" = room."lastSeq" FROM room WHERE "roomId" = ${m.roomId}::uuid AND "userId" = ${m.senderId}::uuid RETURNING "lastReadSeq"
    ), message AS (
      INSERT INTO "Message" (id, "roomId", seq, "senderId", type, content, "replyToId", "threadRootId", "clientMessageId", "mentionedIds", "expiresAt", "createdAt")
      SELECT ${event.messageId}::uuid, ${m.roomId}::uuid, "lastReadSeq", ${m.senderId}::uuid, ${m.type}::"MessageType", ${m.content}, ${m.replyToId}::uuid,
        ${m.threadRootId}::uuid, ${m.clientMessageId}, ${m.mentionedIds}::uuid[], ${m.expiresAt}, ${now}
      FROM marker
      RETURNING *
    ), event AS (
      ${eventSql.insert(event, at, Prisma.sql`room, marker`)}
      RETURNING seq
    )
    SELECT message.*, event.seq AS "eventSeq" FROM message, event`;
  if (!row) return null;
  const { eventSeq, ...message } = row;
  return { message, event, stored: { seq: eventSeq, at } };
}

/** Notifies `userIds` of their mention in `messageId`, once per user and message; returns the new notifications. */
async function notify(tx: Db, messageId: string, userIds: string[]): Promise<Mention[]> {
  if (userIds.length === 0) return [];
  return tx.notification.createManyAndReturn({ data: userIds.map((userId) => ({ userId, messageId })), skipDuplicates: true, select: { id: true, userId: true } });
}

/**
 * Makes a message a tombstone: content "", `deletedAt` set, unpinned; its edit
 * history, reactions, mentions, notifications and attachments go. Used by
 * delete and expiry; returns the attachment files to remove once committed
 * ({@link Attachments.removeFiles}).
 */
export async function purge(tx: Db, messageId: string): Promise<{ message: Message; files: string[] }> {
  await tx.messageEdit.deleteMany({ where: { messageId } });
  await tx.reaction.deleteMany({ where: { messageId } });
  await tx.notification.deleteMany({ where: { messageId } });
  const attachments = await tx.attachment.findMany({ where: { messageId }, select: { storageKey: true, thumbnailKey: true } });
  await tx.attachment.deleteMany({ where: { messageId } });
  const message = await tx.message.update({
    where: { id: messageId },
    data: { content: "", deletedAt: new Date(), pinnedAt: null, pinnedById: null, mentionedIds: [] },
  });
  return { message, files: attachments.flatMap((a) => (a.thumbnailKey ? [a.storageKey, a.thumbnailKey] : [a.storageKey])) };
}

/** Reads the message and locks its row until the transaction ends (edits and deletes of one message go one at a time). */
async function lockMessage(tx: Db, messageId: string): Promise<Message> {
  await tx.$queryRaw`SELECT 1 FROM "Message" WHERE id = ${messageId}::uuid FOR UPDATE`;
  return tx.message.findUniqueOrThrow({ where: { id: messageId } });
}
