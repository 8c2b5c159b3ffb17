import type { PubSubEngine } from "graphql-subscriptions";
import type { PrismaClient } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { badInput, notFound } from "../errors.js";
import type { Message } from "../generated/prisma/client.js";
import { type MessageAddedPayload, topics } from "../realtime/topics.js";
import { requireMember, requirePoster } from "./access.js";

export interface SendMessageInput {
  roomId: string;
  /** 1–5,000 characters (seed 001), already trimmed by input validation. */
  content: string;
  replyToId?: string | null;
  /** The sender's idempotency key for this message (seed 001 `client_message_id`). */
  clientMessageId?: string | null;
}

/**
 * Sending and reacting. A message is committed to PostgreSQL before it is
 * published, so a subscriber never sees a message that a later read could miss.
 */
export class Messages {
  constructor(
    private readonly db: PrismaClient,
    private readonly pubsub: PubSubEngine,
  ) {}

  /**
   * Stores a message and publishes it on the room's messageAdded topic.
   * In one transaction: bump the room's `lastSeq` (the row lock orders
   * concurrent sends), insert the message with that seq, and move the sender's
   * read marker to it. A retry with the same `clientMessageId` returns the stored
   * message and publishes nothing.
   * @throws NOT_FOUND / FORBIDDEN for non-members, and FORBIDDEN where the sender may not post
   * (BROADCAST MEMBER, blocked DIRECT pair: {@link requirePoster}); BAD_USER_INPUT on
   * `input.replyToId` when it is not a message of the same room.
   */
  async send(senderId: string, input: SendMessageInput): Promise<Message> {
    await requirePoster(this.db, input.roomId, senderId);
    const clientMessageId = input.clientMessageId ?? null;
    if (clientMessageId) {
      const previous = await this.findRetry(senderId, clientMessageId);
      if (previous) return previous;
    }
    if (input.replyToId) {
      const target = await this.db.message.findUnique({ where: { id: input.replyToId }, select: { roomId: true } });
      if (target?.roomId !== input.roomId) throw badInput("input.replyToId", "replyToId must be a message of the same room");
    }
    let message: Message;
    try {
      message = await this.db.$transaction(async (tx) => {
        const { lastSeq: seq } = await tx.room.update({
          where: { id: input.roomId },
          data: { lastSeq: { increment: 1 }, lastActivityAt: new Date() },
          select: { lastSeq: true },
        });
        const created = await tx.message.create({
          data: { roomId: input.roomId, seq, senderId, content: input.content, replyToId: input.replyToId ?? null, clientMessageId },
        });
        // also re-checks membership inside the transaction: a sender removed meanwhile writes nothing
        const { count } = await tx.roomMember.updateMany({ where: { roomId: input.roomId, userId: senderId }, data: { lastReadSeq: seq } });
        if (count === 0) throw notFound("Room");
        return created;
      });
    } catch (e) {
      // a concurrent retry with the same clientMessageId committed first
      if (clientMessageId && isUniqueViolation(e, "clientMessageId")) return (await this.findRetry(senderId, clientMessageId))!;
      throw e;
    }
    const payload: MessageAddedPayload = { message: { ...message, createdAt: message.createdAt.toISOString() } };
    await this.pubsub.publish(topics.messageAdded(message.roomId), payload);
    return message;
  }

  /**
   * Adds (`add: true`) or removes the viewer's `emoji` reaction; both are idempotent.
   * @throws NOT_FOUND for an unknown message or one in a room the viewer cannot see.
   */
  async react(userId: string, messageId: string, emoji: string, add: boolean): Promise<Message> {
    const message = await this.db.message.findUnique({ where: { id: messageId } });
    if (!message) throw notFound("Message");
    await requireMember(this.db, message.roomId, userId);
    if (add) await this.db.reaction.createMany({ data: [{ messageId, userId, emoji }], skipDuplicates: true });
    else await this.db.reaction.deleteMany({ where: { messageId, userId, emoji } });
    return message;
  }

  private findRetry(senderId: string, clientMessageId: string): Promise<Message | null> {
    return this.db.message.findUnique({ where: { senderId_clientMessageId: { senderId, clientMessageId } } });
  }
}
