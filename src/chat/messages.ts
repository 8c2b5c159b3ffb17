import { randomUUID } from "node:crypto";
import { type Attachments, messageTypeOf } from "../attachments/attachments.js";
import { type Db, type PrismaClient, WritePool } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { badInput, forbidden, notFound, rateLimited, unauthenticated } from "../errors.js";
import type { Message, MessageType, Room } from "../generated/prisma/client.js";
import { type BusMessage, type EventLog, logUserEvents, type UserEventEntry } from "../realtime/event-log.js";
import { MESSAGE_DATES, type MessageJson, messageFromJson, type RoomEventData } from "../realtime/topics.js";
import type { MessageEncryption } from "../security/message-encryption.js";
import type { Tracing } from "../tracing.js";
import { showsReadReceipts } from "../users/privacy.js";
import {
  blockedPair,
  broadcastMember,
  notMember,
  requireMember,
  requirePoster,
  requireUnblockedMember,
  unblockedMember,
} from "./access.js";
import { mentionedUsernames, resolveMentions } from "./mentions.js";
import { blockedWordError, hasBlockedWord, wordsOf } from "./room-rules.js";
import { lockRoom } from "./rooms.js";

/** How many attachments one message may carry. */
export const MAX_ATTACHMENTS = 10;

/** How many messages a room may have pinned at once (Slack's limit is 100, Telegram shows one; 50 keeps the list readable). */
export const MAX_PINNED = 50;

export interface SendMessageInput {
  roomId: string;
  /** Up to 5,000 characters, already trimmed by input validation; may be absent with attachments. */
  content?: string | null;
  /** The sender's unsent uploads (uploadAttachment), at most {@link MAX_ATTACHMENTS}. */
  attachmentIds?: readonly string[] | null;
  /** The message type; by default TEXT, or what the first attachment is (IMAGE, VIDEO, AUDIO, FILE). VOICE marks an audio attachment as a voice note. */
  type?: MessageType | null;
  replyToId?: string | null;
  /** Reply in the thread of this top-level message. */
  threadRootId?: string | null;
  /** The sender's idempotency key for this message: sending again with it returns the message already sent. */
  clientMessageId?: string | null;
  /** Self-destruct timer in seconds, one of {@link SELF_DESTRUCT_TIMERS_S}. */
  expiresIn?: number | null;
}

/** The self-destruct timers a message may have, in seconds (5 s … 7 days). */
export const SELF_DESTRUCT_TIMERS_S = [5, 10, 30, 60, 300, 3600, 86400, 604800] as const;

/**
 * Sending, editing, deleting, reading, pinning and reacting. Every change is
 * committed with its room event (EventLog.transaction: stored in the room's log
 * with the next seq) and published after the commit, so a subscriber never sees
 * a change that a later read could miss.
 */
export class Messages {
  /**
   * `writes`: the pool reserved for the send statement (db/client.ts WritePool); `tracing`: the node's, null when off;
   * `encryption`: seals content and edits at rest (off without keys); `searchSealed`: whether sealed messages get
   * their MessageSearch lexemes (encryption on and MESSAGE_SEARCH=on); `sent`: told of each new message once it is
   * committed and published (push/notifier.ts messageSent: enqueues its push job and returns at once), null without push.
   */
  constructor(
    private readonly db: PrismaClient,
    private readonly writes: WritePool,
    private readonly events: EventLog,
    private readonly attachments: Attachments,
    private readonly tracing: Tracing | null,
    private readonly encryption: MessageEncryption,
    private readonly searchSealed: boolean,
    private readonly sent: ((messageId: string) => void) | null,
  ) {}

  /**
   * Stores a message and publishes it (messageAdded, and MessageAdded on roomEvents).
   * The write is one call of the SQL function chat_send_message
   * (its current definition: prisma/migrations/20261204140000_send_rules_encryption): it checks that the sender's session is live and that they may post (membership, a BROADCAST
   * room's roles, a DIRECT pair's blocks) and that the room's rules allow the
   * message (chat/room-rules.ts: slow mode, blocked words), then, under the room
   * row's lock (which orders concurrent sends), bumps the room's `lastSeq` and
   * `lastEventSeq`, moves the sender's read marker and `lastSentAt`, inserts the
   * message, counts it on its thread's root and stores its MessageAdded event. A plain send (no mentions,
   * no attachments) is that one statement on the write pool, atomic without a
   * transaction: one round trip to PostgreSQL. A send with mentions or
   * attachments runs it inside a transaction that also resolves the mentions
   * under the room lock, attaches the uploads and stores the notifications.
   * The event log then publishes the message, its event and the mentions in one round trip (EventLog.messageAdded).
   * With encryption at rest on, the content is sealed before the statement
   * (security/message-encryption.ts) and the message comes back, and goes to the
   * bus, sealed: the schema's Message.content opens it.
   * A retry with the same `clientMessageId` returns the stored message and
   * publishes nothing. Once committed, the send succeeds even when the publish
   * fails (Redis down: the event log logs it); subscribers get the message
   * from PostgreSQL with the next one that reaches them, or on resubscribing with `after`.
   * With tracing on, the send is a `sendMessage` span, its write a `commit` span in it,
   * and its publish the event log's `publish` span (tracing.ts).
   * Then its push notifications are enqueued (push/notifier.ts: one job, not awaited).
   * @throws UNAUTHENTICATED when `sender.sessionId` is no longer live; NOT_FOUND /
   * FORBIDDEN for non-members, and FORBIDDEN where the sender may not post
   * (BROADCAST MEMBER, blocked DIRECT pair: {@link requirePoster}); BAD_USER_INPUT on
   * `input.replyToId` when it is not a message of the same room, and on
   * `input.threadRootId` unless it is a live top-level message of the same room;
   * on `input.content` when there is neither content nor an attachment; on
   * `input.attachmentIds` for an upload that is unknown, someone else's or sent
   * already; on `input.type` when it does not fit the attachments; on
   * `input.content` when it has a word the room blocks. RATE_LIMITED with
   * `retryAfter` (seconds) when the room's slow mode holds back a MEMBER.
   */
  send(sender: Sender, input: SendMessageInput): Promise<Message> {
    if (!this.tracing) return this.store(sender, input);
    return this.tracing.inSpan("sendMessage", { attributes: { "chat.room.id": input.roomId } }, async (span) => {
      const message = await this.store(sender, input);
      span.setAttribute("chat.message.id", message.id);
      return message;
    });
  }

  /** {@link send}, without its span. */
  private async store(sender: Sender, input: SendMessageInput): Promise<Message> {
    const clientMessageId = input.clientMessageId ?? null;
    const attachmentIds = [...new Set(input.attachmentIds ?? [])];
    const content = input.content ?? "";
    const mentions = mentionedUsernames(content).length > 0;
    if (attachmentIds.length > 0) {
      // who may post is checked before anything is said about the uploads, and a retry
      // goes first: its attachments are attached to the message it returns already
      await requirePoster(this.db, input.roomId, sender.userId);
      const previous = clientMessageId && (await this.findRetry(sender.userId, clientMessageId));
      if (previous) return previous;
    }
    if (!content && attachmentIds.length === 0) throw badInput("input.content", "A message needs content or an attachment");
    const type = await this.typeOf(sender.userId, attachmentIds, input.type ?? null);
    const now = new Date();
    const event = { kind: "MessageAdded", roomId: input.roomId, messageId: randomUUID() } as const;
    const sealed = this.encryption.seal(event.messageId, content);
    const words = wordsOf(content);
    const call = (mentionedIds: string[]): SendCall => ({
      sessionId: sender.sessionId,
      senderId: sender.userId,
      type,
      ...sealed,
      searchText: this.searchSealed ? content : null,
      replyToId: input.replyToId ?? null,
      threadRootId: input.threadRootId ?? null,
      clientMessageId,
      mentionedIds,
      words,
      expiresAt: input.expiresIn ? new Date(now.getTime() + input.expiresIn * 1000) : null,
      now,
      event,
    });
    type Sent = { message: Message; eventSeq: number | null; notifications: BusMessage[] };
    const commit = async (): Promise<Sent> =>
      !mentions && attachmentIds.length === 0
        ? { ...(await sendStatement(this.writes, call([]))), notifications: [] }
        : this.db.$transaction(async (tx) => {
            let mentionedIds: string[] = [];
            if (mentions) {
              await lockRoom(tx, input.roomId); // mentioned members are read under the room lock, like the rest of the send
              mentionedIds = await resolveMentions(tx, input.roomId, sender.userId, content);
            }
            const stored = await sendStatement(tx, call(mentionedIds));
            if (stored.eventSeq === null) return { ...stored, notifications: [] }; // a retry
            if (attachmentIds.length > 0) {
              const attached = await tx.attachment.updateMany({
                where: { id: { in: attachmentIds }, uploaderId: sender.userId, messageId: null },
                data: { messageId: stored.message.id },
              });
              if (attached.count !== attachmentIds.length) throw unusableAttachments(); // sent by a concurrent message
            }
            return { ...stored, notifications: await logUserEvents(tx, await mentionEvents(tx, stored.message.id, mentionedIds)) };
          });
    let sent: Sent;
    try {
      sent = this.tracing ? await this.tracing.inSpan("commit", { attributes: COMMIT_ATTRIBUTES }, commit) : await commit();
    } catch (e) {
      // a concurrent retry with the same clientMessageId committed first
      if (clientMessageId && isUniqueViolation(e, "clientMessageId")) return (await this.findRetry(sender.userId, clientMessageId))!;
      throw e;
    }
    const { message, eventSeq, notifications } = sent;
    if (eventSeq === null) return message; // a retry: published when it was stored
    // never throws: the message is committed
    await this.events.messageAdded({ ...event, seq: eventSeq, at: now.toISOString() }, message, notifications);
    this.sent?.(message.id);
    return message;
  }

  /**
   * Replaces the content of the sender's own message, keeping the previous one in
   * its edit history; the same content again changes nothing. Users the new
   * content mentions for the first time are notified. Slow mode does not apply
   * to edits; the room's blocked words do (chat/room-rules.ts).
   * @throws NOT_FOUND (message, or a room the viewer cannot see); FORBIDDEN for
   * someone else's or a deleted message, and in a DIRECT room of a blocked pair;
   * BAD_USER_INPUT on `content` when it has a word the room blocks.
   */
  async edit(userId: string, messageId: string, content: string): Promise<Message> {
    const { message } = await this.visible(userId, messageId, requireUnblockedMember);
    if (message.senderId !== userId) throw forbidden("Only the sender can edit a message");
    return this.events.transaction(this.db, async (tx, record, notify) => {
      const current = await lockMessage(tx, messageId);
      if (current.deletedAt) throw forbidden("A deleted message cannot be edited");
      if (this.encryption.open(messageId, current) === content) return current;
      const { blockedWords } = await tx.room.findUniqueOrThrow({ where: { id: current.roomId }, select: { blockedWords: true } });
      if (hasBlockedWord(content, blockedWords)) throw blockedWordError("content");
      const editedAt = new Date();
      const mentionedIds = await resolveMentions(tx, current.roomId, userId, content);
      await tx.messageEdit.create({ data: { messageId, content: current.content, contentKeyId: current.contentKeyId, editedAt } });
      await record({ kind: "MessageEdited", roomId: current.roomId, messageId });
      const message = await tx.message.update({
        where: { id: messageId },
        data: { ...this.encryption.seal(messageId, content), editedAt, mentionedIds },
      });
      if (this.searchSealed) await indexForSearch(tx, messageId, content);
      await notify(await mentionEvents(tx, messageId, mentionedIds));
      return message;
    });
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
    if (message.senderId !== userId && membership.role === "MEMBER")
      throw forbidden("Only the sender or a room OWNER or ADMIN can delete a message");
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
   * hides read receipts (showReadReceipts off).
   * @throws NOT_FOUND / FORBIDDEN for non-members; BAD_USER_INPUT on `messageId`
   * when it is not a message of the room.
   */
  async markRead(userId: string, roomId: string, messageId: string): Promise<Room> {
    await requireMember(this.db, roomId, userId);
    const message = await this.db.message.findUnique({ where: { id: messageId }, select: { roomId: true, seq: true } });
    if (message?.roomId !== roomId) throw badInput("messageId", "messageId must be a message of this room");
    const showReadReceipts = await showsReadReceipts(this.db, userId);
    return this.events.transaction(this.db, async (tx, record) => {
      const { count } = await tx.roomMember.updateMany({
        where: { roomId, userId, lastReadSeq: { lt: message.seq } },
        data: { lastReadSeq: message.seq },
      });
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
    const {
      message,
      membership: { membership, type },
    } = await this.visible(userId, messageId, unblockedMember);
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
      return tx.message.update({
        where: { id: messageId },
        data: pinned ? { pinnedAt: new Date(), pinnedById: userId } : { pinnedAt: null, pinnedById: null },
      });
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
  private async visible<M>(
    userId: string,
    messageId: string,
    access: (db: Db, roomId: string, userId: string) => Promise<M>,
  ): Promise<{ message: Message; membership: M }> {
    const message = await this.db.message.findUnique({ where: { id: messageId } });
    if (!message) throw notFound("Message");
    return { message, membership: await access(this.db, message.roomId, userId) };
  }

  /** The type of a message with these attachments. @throws BAD_USER_INPUT on `input.attachmentIds` / `input.type`. */
  private async typeOf(senderId: string, attachmentIds: string[], requested: MessageType | null): Promise<MessageType> {
    const attachments =
      attachmentIds.length === 0
        ? []
        : await this.db.attachment.findMany({
            where: { id: { in: attachmentIds }, uploaderId: senderId, messageId: null },
            select: { id: true, mimeType: true },
          });
    if (attachments.length !== attachmentIds.length) throw unusableAttachments();
    const first = attachments.find((a) => a.id === attachmentIds[0]);
    const natural: MessageType = first ? messageTypeOf(first.mimeType) : "TEXT";
    const fits =
      requested === null ||
      requested === natural ||
      (requested === "VOICE" && natural === "AUDIO") ||
      (requested === "FILE" && natural !== "TEXT");
    if (requested === "SYSTEM") throw badInput("input.type", "SYSTEM messages come only from the server");
    if (!fits)
      throw badInput(
        "input.type",
        first ? `A ${requested} message cannot carry ${first.mimeType}` : `A ${requested} message needs an attachment of that kind`,
      );
    return requested ?? natural;
  }

  private findRetry(senderId: string, clientMessageId: string): Promise<Message | null> {
    return this.db.message.findUnique({ where: { senderId_clientMessageId: { senderId, clientMessageId } } });
  }
}

function unusableAttachments() {
  return badInput("input.attachmentIds", "Every attachment must be an upload of yours that has not been sent yet");
}

/** Who sends: the user, and the session whose token they sent (checked live in the send's statement), or null for the server's own sends (scripts/seed.ts). */
export interface Sender {
  userId: string;
  sessionId: string | null;
}

/** The attributes of a send's `commit` span: the database and the function the send calls. */
const COMMIT_ATTRIBUTES = { "db.system.name": "postgresql", "db.stored_procedure.name": "chat_send_message" };

/** The arguments of one chat_send_message call (see {@link sendStatement}). */
interface SendCall {
  sessionId: string | null;
  senderId: string;
  type: MessageType;
  /** As stored: sealed under `contentKeyId`, or as sent when that is null. */
  content: string;
  contentKeyId: string | null;
  /** The text whose lexemes go to MessageSearch, or null (not searched that way). */
  searchText: string | null;
  replyToId: string | null;
  threadRootId: string | null;
  clientMessageId: string | null;
  mentionedIds: string[];
  /** The content's words, normalized (room-rules.ts wordsOf), for the room's blocked words. */
  words: string[];
  expiresAt: Date | null;
  /** The message's createdAt, the room's lastActivityAt, the event's `at`. */
  now: Date;
  /** The MessageAdded event, stored with its seq; its messageId is the new message's id. */
  event: Extract<RoomEventData, { kind: "MessageAdded" }>;
}

/** chat_send_message's call (prisma/migrations/20261204140000_send_rules_encryption); times go in as ISO-8601 UTC. */
const SEND_SQL = `SELECT status, event_seq AS "eventSeq", message, retry_after AS "retryAfter" FROM chat_send_message($1::uuid, $2::uuid, $3::uuid, $4::uuid,
  $5::"MessageType", $6, $7::uuid, $8::uuid, $9, $10::uuid[], $11::timestamp(3), $12::timestamp(3), $13::jsonb, $14::text[], $15, $16)`;

/** The statuses of chat_send_message that refuse the send, and the error each becomes (access.ts notMember and requirePoster's messages; `retryAfter` in seconds for slow_mode). */
const SEND_REFUSALS: Record<string, (retryAfter: number) => Error> = {
  unauthenticated: () => unauthenticated("Session ended; log in again"),
  no_room: () => notMember(undefined),
  join_first: () => notMember("PUBLIC"),
  blocked: () => blockedPair(),
  broadcast_member: () => broadcastMember(),
  slow_mode: (retryAfter) => rateLimited(retryAfter, `Slow mode: you may send again in ${retryAfter} s`),
  blocked_word: () => blockedWordError("input.content"),
  bad_reply: () => badInput("input.replyToId", "replyToId must be a message of the same room"),
  bad_thread: () => badInput("input.threadRootId", "threadRootId must be a top-level, not deleted message of the same room"),
};

/**
 * Runs one chat_send_message call: on the write pool (`db` a {@link WritePool}:
 * one statement, atomic on its own, a prepared statement) or inside a Prisma
 * transaction. Resolves with the stored message and its MessageAdded event's seq,
 * or, for a retry of a `clientMessageId`, the stored message and `eventSeq` null.
 * @throws what {@link SEND_REFUSALS} maps each refusing status to; the unique
 * violation on `clientMessageId` when a concurrent retry stored it first.
 */
async function sendStatement(db: WritePool | Db, c: SendCall): Promise<{ message: Message; eventSeq: number | null }> {
  const values = [
    c.sessionId,
    c.senderId,
    c.event.roomId,
    c.event.messageId,
    c.type,
    c.content,
    c.replyToId,
    c.threadRootId,
    c.clientMessageId,
    c.mentionedIds,
    c.expiresAt?.toISOString() ?? null,
    c.now.toISOString(),
    JSON.stringify({ ...c.event, at: c.now.toISOString() }),
    c.words,
    c.contentKeyId,
    c.searchText,
  ];
  type Row = { status: string; eventSeq: number | null; message: Record<string, unknown> | null; retryAfter: number | null };
  const [row] =
    db instanceof WritePool
      ? await db.query<Row>("chat_send_message", SEND_SQL, values)
      : await db.$queryRawUnsafe<Row[]>(SEND_SQL, ...values);
  const refusal = SEND_REFUSALS[row!.status];
  if (refusal) throw refusal(row!.retryAfter ?? 1);
  return { message: messageFromSqlJson(row!.message!), eventSeq: row!.eventSeq };
}

/**
 * A Message row as PostgreSQL's to_jsonb writes it (timestamps in UTC without an
 * offset; `xid`, the sync stamp, which the Message model leaves out) → the row.
 */
function messageFromSqlJson({ xid: _xid, ...json }: Record<string, unknown>): Message {
  const utc = Object.fromEntries(MESSAGE_DATES.map((key) => [key, json[key] === null ? null : `${json[key]}Z`]));
  return messageFromJson({ ...json, ...utc } as MessageJson);
}

/**
 * Notifies `userIds` of their mention in `messageId`, once per user and message: stores
 * the new notifications (one statement, none without a mention) and returns a
 * MentionNotification for each, for the user event logs (realtime/event-log.ts
 * logUserEvents, which stores them in the same transaction; the event log publishes them
 * after the commit).
 */
async function mentionEvents(tx: Db, messageId: string, userIds: string[]): Promise<UserEventEntry[]> {
  if (userIds.length === 0) return [];
  const created = await tx.notification.createManyAndReturn({
    data: userIds.map((userId) => ({ userId, messageId })),
    skipDuplicates: true,
    select: { id: true, userId: true },
  });
  return created.map((n) => ({ userId: n.userId, event: { kind: "MentionNotification", notificationId: n.id } }));
}

/**
 * Stores the lexemes of message `messageId`'s text `text` in MessageSearch (replacing
 * any): search over sealed messages (MESSAGE_SEARCH=on with encryption at rest).
 */
export async function indexForSearch(tx: Db, messageId: string, text: string): Promise<void> {
  await tx.$executeRaw`INSERT INTO "MessageSearch" ("messageId", vector) VALUES (${messageId}::uuid, to_tsvector('simple', ${text}))
    ON CONFLICT ("messageId") DO UPDATE SET vector = EXCLUDED.vector`;
}

/**
 * Makes a message a tombstone: content "", `deletedAt` set, unpinned; its edit
 * history, reactions, mentions, notifications, search lexemes and attachments go. Used by
 * delete and expiry; returns the attachment files to remove once committed
 * ({@link Attachments.removeFiles}).
 */
export async function purge(tx: Db, messageId: string): Promise<{ message: Message; files: string[] }> {
  await tx.messageEdit.deleteMany({ where: { messageId } });
  await tx.reaction.deleteMany({ where: { messageId } });
  await tx.notification.deleteMany({ where: { messageId } });
  await tx.messageSearch.deleteMany({ where: { messageId } });
  const attachments = await tx.attachment.findMany({ where: { messageId }, select: { storageKey: true, thumbnailKey: true } });
  await tx.attachment.deleteMany({ where: { messageId } });
  const message = await tx.message.update({
    where: { id: messageId },
    data: { content: "", contentKeyId: null, deletedAt: new Date(), pinnedAt: null, pinnedById: null, mentionedIds: [] },
  });
  return { message, files: attachments.flatMap((a) => (a.thumbnailKey ? [a.storageKey, a.thumbnailKey] : [a.storageKey])) };
}

/** Reads the message and locks its row until the transaction ends (edits and deletes of one message go one at a time). */
async function lockMessage(tx: Db, messageId: string): Promise<Message> {
  await tx.$queryRaw`SELECT 1 FROM "Message" WHERE id = ${messageId}::uuid FOR UPDATE`;
  return tx.message.findUniqueOrThrow({ where: { id: messageId } });
}
