import { GraphQLError } from "graphql";
import type { Logger } from "pino";
import type { PrismaClient } from "../db/client.js";
import type { MessageType, RoomType } from "../generated/prisma/client.js";
import type { MessageEncryption } from "../security/message-encryption.js";
import { type PushPayload, previewOf, topicOf } from "./payload.js";
import { type JobQueue, PermanentFailure } from "./queue.js";
import type { PushRequest, PushSender } from "./web-push.js";

/** How long a push service keeps a notification for a device that is off, in seconds (24 h). */
export const PUSH_TTL_S = 24 * 3600;
/** The SQL comment that starts the fan-out's statement ({@link PushNotifier} step 1): it runs in the push worker after the send's answer, off its path (test/send-round-trips.test.ts). */
export const PUSH_SQL_MARK = "push: fan-out";
/** Runs of each job at most (the first and the retries). A send's last retry comes after retryBase × (1 + 2 + 4 + 8). */
const ATTEMPTS = { message: 3, notify: 3, send: 5 } as const;

/** What the notifier needs of presence: who has a live connection on any node (realtime/presence.ts). */
export interface OnlineCheck {
  online(userIds: readonly string[]): Promise<Set<string>>;
}

/** A job of the push queue, by name. */
type Jobs = {
  /** A message was sent: find who gets a push. */
  message: { messageId: string };
  /** A push for the user's newest unread message in the room (of that kind), once the coalescing window has passed. */
  notify: { userId: string; roomId: string; kind: PushPayload["type"] };
  /** One prepared request to one subscription. */
  send: { subscriptionId: string; request: PushRequest };
};

/**
 * Push notifications of new messages, off the send path. The steps, each a job of
 * the queue (BullMQ with Redis, else in-process: push/queue.ts), retried with backoff:
 * 1. `message` ({@link messageSent}, one per message, added after the send's commit):
 *    the room's members but the sender who have a push subscription and
 *    pushNotifications on, are not in a blocked pair with the sender (either
 *    way) and have not muted the room. A member the message mentions, and the other
 *    member of a DIRECT room, always get one; any other only without a live
 *    connection on any node (presence). One `notify` job each, coalesced.
 * 2. `notify` (user, room, kind), deduplicated for PUSH_COALESCE_MS and run that much
 *    later: at most one per window per user, room and kind, however many messages
 *    came in it. It reads the newest message of the room the user has not read,
 *    that is not theirs nor a blocked sender's (for a mention: that mentions them),
 *    so the push says the newest one, and nothing goes if they read it all meanwhile.
 *    It builds the {@link PushPayload} (previews by the user's notificationPreviews;
 *    sealed content opened), and prepares one request per subscription of a live session:
 *    encrypted, signed, TTL 24 h, Urgency high for a mention or a DIRECT room,
 *    Topic the room's (push/payload.ts topicOf).
 * 3. `send`: one request. 2xx: sent. 404/410: the subscription is gone and deleted.
 *    429, 5xx, a network error: retried (up to 5 runs, exponential backoff). Any other: dropped, logged.
 */
export class PushNotifier {
  constructor(
    private readonly db: PrismaClient,
    private readonly queue: JobQueue,
    private readonly sender: PushSender,
    private readonly presence: OnlineCheck,
    private readonly encryption: MessageEncryption,
    /** PUSH_COALESCE_MS. */
    private readonly coalesceMs: number,
    private readonly logger: Logger,
  ) {}

  /**
   * After a message's commit: adds its `message` job (one Redis command with
   * BullMQ) and returns at once; a failure to add it is logged, never thrown.
   */
  messageSent(messageId: string): void {
    this.add("message", { messageId }, { attempts: ATTEMPTS.message }).catch((err: unknown) =>
      this.logger.error({ err, messageId }, "push: could not enqueue a sent message"),
    );
  }

  /** Starts this node's worker, `concurrency` jobs at once (PUSH_CONCURRENCY). */
  start(concurrency: number): void {
    this.queue.work((name, data) => this.run(name as keyof Jobs, data as Jobs[keyof Jobs]), concurrency);
  }

  /** Stops the worker after its running jobs, and closes the queue. */
  close(): Promise<void> {
    return this.queue.close();
  }

  private add<N extends keyof Jobs>(name: N, data: Jobs[N], options: Parameters<JobQueue["add"]>[2]): Promise<void> {
    return this.queue.add(name, data, options);
  }

  private run(name: keyof Jobs, data: Jobs[keyof Jobs]): Promise<void> {
    if (name === "message") return this.fanOut(data as Jobs["message"]);
    if (name === "notify") return this.notify(data as Jobs["notify"]);
    return this.send(data as Jobs["send"]);
  }

  /** Step 1. */
  private async fanOut({ messageId }: Jobs["message"]): Promise<void> {
    const rows = await this.db.$queryRaw<{ userId: string; roomId: string; direct: boolean; mentioned: boolean }[]>`
      /* push: fan-out */ SELECT mb."userId", m."roomId", r.type = 'DIRECT' AS direct, mb."userId" = ANY (m."mentionedIds") AS mentioned
      FROM "Message" m JOIN "Room" r ON r.id = m."roomId" JOIN "RoomMember" mb ON mb."roomId" = m."roomId" JOIN "User" u ON u.id = mb."userId"
      WHERE m.id = ${messageId}::uuid AND m."deletedAt" IS NULL AND mb."userId" <> m."senderId"
        AND (mb."mutedUntil" IS NULL OR mb."mutedUntil" <= now()) AND u."pushNotifications" AND u."deletedAt" IS NULL
        AND EXISTS (SELECT 1 FROM "PushSubscription" p WHERE p."userId" = mb."userId")
        AND NOT EXISTS (SELECT 1 FROM "Block" b WHERE (b."blockerId" = mb."userId" AND b."blockedId" = m."senderId")
                                                   OR (b."blockerId" = m."senderId" AND b."blockedId" = mb."userId"))`;
    const always = rows.filter((r) => r.mentioned || r.direct);
    const others = rows.filter((r) => !r.mentioned && !r.direct);
    const online = await this.presence.online(others.map((r) => r.userId));
    const recipients = [...always, ...others.filter((r) => !online.has(r.userId))];
    await Promise.all(
      recipients.map(({ userId, roomId, mentioned }) => {
        const kind = mentioned ? "mention" : "message";
        return this.add(
          "notify",
          { userId, roomId, kind },
          {
            attempts: ATTEMPTS.notify,
            delayMs: this.coalesceMs,
            dedup: { id: `${kind}:${userId}:${roomId}`, ttlMs: this.coalesceMs },
          },
        );
      }),
    );
  }

  /** Step 2. */
  private async notify({ userId, roomId, kind }: Jobs["notify"]): Promise<void> {
    type Row = {
      roomName: string | null;
      roomType: RoomType;
      unread: number;
      previews: boolean;
      messageId: string;
      seq: number;
      type: MessageType;
      content: string;
      contentKeyId: string | null;
      senderId: string;
      senderName: string;
    };
    const [row] = await this.db.$queryRaw<Row[]>`
      SELECT r.name AS "roomName", r.type AS "roomType", r."lastSeq" - mb."lastReadSeq" AS unread, u."notificationPreviews" AS previews,
        m.id AS "messageId", m.seq, m.type, m.content, m."contentKeyId", m."senderId",
        coalesce(s."displayName", trim(s."firstName" || ' ' || s."lastName")) AS "senderName"
      FROM "RoomMember" mb JOIN "Room" r ON r.id = mb."roomId" JOIN "User" u ON u.id = mb."userId"
      JOIN LATERAL (
        SELECT * FROM "Message" m WHERE m."roomId" = mb."roomId" AND m.seq > mb."lastReadSeq" AND m."senderId" <> mb."userId" AND m."deletedAt" IS NULL
          AND (${kind} <> 'mention' OR mb."userId" = ANY (m."mentionedIds"))
          AND NOT EXISTS (SELECT 1 FROM "Block" b WHERE (b."blockerId" = mb."userId" AND b."blockedId" = m."senderId")
                                                     OR (b."blockerId" = m."senderId" AND b."blockedId" = mb."userId"))
        ORDER BY m.seq DESC LIMIT 1) m ON true
      JOIN "User" s ON s.id = m."senderId"
      WHERE mb."roomId" = ${roomId}::uuid AND mb."userId" = ${userId}::uuid
        AND (mb."mutedUntil" IS NULL OR mb."mutedUntil" <= now()) AND u."pushNotifications"`;
    if (!row) return; // read meanwhile, left, muted, or turned push off
    const payload: PushPayload = {
      type: kind,
      roomId,
      roomName: row.roomName ?? (row.previews ? row.senderName : null),
      roomType: row.roomType,
      messageId: row.messageId,
      seq: row.seq,
      ...(row.previews
        ? { sender: { id: row.senderId, displayName: row.senderName }, body: previewOf(row.type, this.encryption.open(row.messageId, row)) }
        : {}),
      unreadCount: row.unread,
    };
    const subscriptions = await this.db.pushSubscription.findMany({
      where: { userId, session: { revokedAt: null, expiresAt: { gt: new Date() } } },
      select: { id: true, endpoint: true, p256dh: true, auth: true },
    });
    const delivery = {
      ttlS: PUSH_TTL_S,
      urgency: kind === "mention" || row.roomType === "DIRECT" ? "high" : "normal",
      topic: topicOf(roomId),
    } as const;
    const json = JSON.stringify(payload);
    await Promise.all(
      subscriptions.map((s) =>
        this.add("send", { subscriptionId: s.id, request: this.sender.prepare(s, json, delivery) }, { attempts: ATTEMPTS.send }),
      ),
    );
  }

  /** Step 3. */
  private async send({ subscriptionId, request }: Jobs["send"]): Promise<void> {
    let status: number;
    try {
      status = await this.sender.send(request);
    } catch (err) {
      // the endpoint's host now resolves to a refused address (production): never sent
      if (err instanceof GraphQLError) throw new PermanentFailure(`push endpoint refused: ${err.message}`);
      throw err;
    }
    if (status >= 200 && status < 300) {
      await this.db.pushSubscription.updateMany({ where: { id: subscriptionId }, data: { lastSentAt: new Date() } });
    } else if (status === 404 || status === 410) {
      await this.db.pushSubscription.deleteMany({ where: { id: subscriptionId, endpoint: request.endpoint } });
    } else if (status === 429 || status >= 500) {
      throw new Error(`push service answered ${status}`);
    } else {
      this.logger.warn({ status, subscriptionId }, "push: the push service refused a notification; dropped");
    }
  }
}
