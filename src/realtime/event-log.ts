import { SpanKind } from "@opentelemetry/api";
import type { PubSubEngine } from "graphql-subscriptions";
import type { Db, PrismaClient } from "../db/client.js";
import type { Message } from "../generated/prisma/client.js";
import type { Tracing } from "../tracing.js";
import {
  type MembershipPayload,
  type MessageAddedPayload,
  messageToJson,
  type RoomEventData,
  type RoomEventPayload,
  type SessionRevokedPayload,
  topics,
  type UserEventPayload,
} from "./topics.js";

/** Distributes `Omit<T, "at">` over a union, so event literals can be written without `at`. */
type WithoutAt<T> = T extends unknown ? Omit<T, "at"> : never;

/** Records a room event inside the caller's transaction; resolves once it is in the log. */
export type RecordEvent = (event: RoomEventData) => Promise<void>;

/**
 * Stores user events in their users' event logs inside the caller's transaction
 * ({@link logUserEvents}); they are published to them after the commit.
 */
export interface NotifyUsers {
  /** The same `event` to each of `userIds`. */
  (userIds: readonly string[], event: WithoutAt<UserEventPayload>): Promise<void>;
  /** Each entry's event to its user (each user at most once): events of their own, e.g. each user's mention notification. */
  (entries: readonly UserEventEntry[]): Promise<void>;
}

/**
 * Room, user and session events, and the only publisher of what a change announces
 * once it is committed. Room events go through the room's log: each is
 * given the next per-room `seq` (Room.lastEventSeq, bumped under the room row
 * lock) and stored in the transaction that makes the change, then published
 * after the commit. Because the lock orders the commits, once event N is
 * published every event before N is committed: a subscriber that sees a gap can
 * fill it from the log (realtime/stream.ts).
 *
 * Publishing after a commit never fails the request: when the bus is down
 * (Redis restarting: the publish fails after at most 1 s, realtime/pubsub.ts
 * COMMAND_TIMEOUT_MS) the failure goes to `onPublishError`
 * and the caller carries on, because its change is committed and reporting it
 * as failed would make clients retry what succeeded. What a lost publish costs:
 * subscribers of the room's sequenced streams (roomEvents, messageAdded) get the
 * missed items from PostgreSQL with the next item that reaches them (gap-fill)
 * or when they resubscribe with `after`; a lost user event (myEvents) is in the
 * user's event log (UserEventLog, {@link logUserEvents}): sync and
 * myEvents(after:) replay it.
 */
export class EventLog {
  /** `tracing`: the node's (null when off), for {@link afterCommit}'s publish span. */
  constructor(
    private readonly pubsub: PubSubEngine,
    private readonly onPublishError: (err: unknown) => void,
    private readonly tracing: Tracing | null,
  ) {}

  /**
   * Runs `work` in a transaction; the room events it records are stored with
   * their seq and, after the commit, published in order; the user events it
   * notifies are stored in each recipient's event log (UserEventLog) and published
   * after the room events. `options`: Prisma's
   * `maxWait` and `timeout` (defaults 2 s and 5 s). Prisma waits for a connection
   * however long it takes, and only then, if that took longer than `maxWait`,
   * gives it back and throws P2028 (Prisma 6.19's transaction manager).
   */
  async transaction<T>(
    db: PrismaClient,
    work: (tx: Db, record: RecordEvent, notify: NotifyUsers) => Promise<T>,
    options?: { maxWait?: number; timeout?: number },
  ): Promise<T> {
    const recorded: RoomEventPayload[] = [];
    const notified: BusMessage[] = [];
    const result = await db.$transaction(
      async (tx) =>
        work(
          tx,
          async (event) => void recorded.push(await append(tx, event)),
          async (to: readonly string[] | readonly UserEventEntry[], event?: WithoutAt<UserEventPayload>) => {
            const entries = event
              ? [...new Set(to as readonly string[])].map((userId) => ({ userId, event }))
              : (to as readonly UserEventEntry[]);
            notified.push(...(await logUserEvents(tx, entries)));
          },
        ),
      options,
    );
    await this.publish(recorded, notified);
    return result;
  }

  /**
   * Publishes a new message once its send has committed (chat/messages.ts send: the
   * send statement stored the message and its MessageAdded `event`, numbered
   * `event.seq`): the event on the room's events, the message on messageAdded, then
   * `notified`, the user events stored with it ({@link logUserEvents}: its mentions),
   * in one write (see {@link afterCommit}); never throws.
   */
  messageAdded(
    event: Extract<RoomEventPayload, { kind: "MessageAdded" }>,
    message: Message,
    notified: readonly BusMessage[],
  ): Promise<void> {
    const payload: MessageAddedPayload = { message: messageToJson(message) };
    return this.publish([event], [[topics.messageAdded(event.roomId), payload], ...notified]);
  }

  /** Publishes an event of a room that no longer exists (RoomDeleted): numbered after its last stored event, not stored. */
  async roomGone(event: Extract<RoomEventData, { kind: "RoomDeleted" }>, lastEventSeq: number): Promise<void> {
    await this.publish([{ ...event, seq: lastEventSeq + 1, at: new Date().toISOString() }]);
  }

  /**
   * Publishes each `[topic, payload]` once the change they announce is
   * committed, in order, all issued at once: with Redis they leave in one write
   * and cost one round trip (the publisher pipelines them, realtime/pubsub.ts).
   * A failure goes to `onPublishError`, never to the caller (see the class).
   * With tracing on, in one `publish` span (a PRODUCER span, child of the active one,
   * e.g. sendMessage's) whose context every payload carries (tracing.ts TraceCarrier),
   * so each node's delivery continues the trace (realtime/fanout.ts); a failed
   * publish is recorded on it.
   */
  private afterCommit(messages: readonly BusMessage[]): Promise<void> {
    const tracing = this.tracing;
    if (!tracing) return this.publishAll(messages, this.onPublishError);
    const attributes = {
      "messaging.operation.type": "send",
      "messaging.batch.message_count": messages.length,
      "chat.topics": messages.map(([topic]) => topic),
    };
    return tracing.inSpan("publish", { kind: SpanKind.PRODUCER, attributes }, (span) =>
      this.publishAll(
        messages.map(([topic, payload]) => [topic, tracing.carrying(payload)]),
        (err) => {
          tracing.failed(span, err);
          this.onPublishError(err);
        },
      ),
    );
  }

  private async publishAll(messages: readonly BusMessage[], onError: (err: unknown) => void): Promise<void> {
    await Promise.all(messages.map(([topic, payload]) => this.pubsub.publish(topic, payload).catch(onError)));
  }

  /**
   * To every node: close the session's sockets. The session is already ended in
   * PostgreSQL (its tokens are refused from now on), so a failed publish is only
   * logged (afterCommit): sockets it did not reach stay open until they reconnect.
   */
  sessionRevoked(sessionId: string): Promise<void> {
    const payload: SessionRevokedPayload = { sessionId };
    return this.afterCommit([[topics.sessionRevoked, payload]]);
  }

  /**
   * Tells `userIds`' nodes that they joined (`joined`) or left the room, for the
   * room activity of their `myEvents` (realtime/room-activity.ts); never throws.
   * Joins and leaves recorded as room events (MemberJoined, MemberLeft) are told
   * by themselves; this is for the rest (a room's creator, a new DIRECT room's).
   */
  membership(userIds: readonly string[], roomId: string, joined: boolean): Promise<void> {
    return this.afterCommit(membershipMessages(userIds, roomId, joined));
  }

  /** After the commit: each room event on the room's events (with the Membership messages of MemberJoined and MemberLeft), then `users`. */
  private publish(events: RoomEventPayload[], users: readonly BusMessage[] = []): Promise<void> {
    return this.afterCommit([
      ...events.flatMap((event): BusMessage[] => [
        [topics.roomEvents(event.roomId), event],
        ...(event.kind === "MemberJoined" || event.kind === "MemberLeft"
          ? membershipMessages([event.userId], event.roomId, event.kind === "MemberJoined")
          : []),
      ]),
      ...users,
    ]);
  }
}

/** A topic and the payload to publish on it (a JSON object: realtime/topics.ts). */
export type BusMessage = readonly [topic: string, payload: object];

/** One user event for one user, as {@link logUserEvents} takes it. */
export interface UserEventEntry {
  userId: string;
  event: WithoutAt<UserEventPayload>;
}

/**
 * Stores each entry's event, stamped with the time (`at`), in its user's event log
 * (UserEventLog, migration 20261205100000_sync_positions), in ONE statement inside
 * the caller's transaction, so the log has a row exactly when the change it
 * announces is committed; sync and myEvents(after:) replay it. Returns what to
 * publish after the commit (EventLog.afterCommit): each user's payload as stored plus
 * `logId`, the row's id, by which myEvents(after:) tells a replayed event from its
 * live copy. `entries` name each user at most once (the rows are matched to them by
 * user). Nothing is written for no entries.
 */
export async function logUserEvents(tx: Db, entries: readonly UserEventEntry[]): Promise<BusMessage[]> {
  if (entries.length === 0) return [];
  const at = new Date().toISOString();
  const payloads = entries.map(({ event }) => ({ ...event, at }) as UserEventPayload);
  const rows = await tx.$queryRaw<{ id: bigint; userId: string }[]>`
    INSERT INTO "UserEventLog" ("userId", payload)
    SELECT * FROM unnest(${entries.map((e) => e.userId)}::uuid[], ${payloads.map((p) => JSON.stringify(p))}::jsonb[])
    RETURNING id, "userId"`;
  const ids = new Map(rows.map((r) => [r.userId, String(r.id)]));
  return entries.map(({ userId }, i) => [topics.userEvents(userId), { ...payloads[i]!, logId: ids.get(userId)! }]);
}

/** A {@link MembershipPayload} for each of `userIds`' topics. */
function membershipMessages(userIds: readonly string[], roomId: string, joined: boolean): BusMessage[] {
  const payload: MembershipPayload = { kind: "Membership", roomId, joined, at: new Date().toISOString() };
  return userIds.map((id) => [topics.userEvents(id), payload]);
}

/**
 * Stores `event` as the room's next one, in one statement; locks the room row
 * until the transaction ends. The payload is `{ ...event, at, seq }`, as the
 * subscribers get it (chat_send_message stores a send's MessageAdded the same way).
 */
async function append(tx: Db, event: RoomEventData): Promise<RoomEventPayload> {
  const at = new Date().toISOString();
  const [stored] = await tx.$queryRaw<{ seq: number }[]>`
    WITH room AS (UPDATE "Room" SET "lastEventSeq" = "lastEventSeq" + 1 WHERE id = ${event.roomId}::uuid RETURNING "lastEventSeq")
    INSERT INTO "StoredEvent" ("roomId", seq, payload)
    SELECT ${event.roomId}::uuid, "lastEventSeq", ${JSON.stringify({ ...event, at })}::jsonb || jsonb_build_object('seq', "lastEventSeq") FROM room
    RETURNING seq`;
  return { ...event, seq: stored!.seq, at };
}

/**
 * The room's stored events after `afterSeq`, oldest first, at most `limit`.
 */
export async function storedEvents(db: Db, roomId: string, afterSeq: number, limit: number): Promise<RoomEventPayload[]> {
  const rows = await db.storedEvent.findMany({
    where: { roomId, seq: { gt: afterSeq } },
    orderBy: { seq: "asc" },
    take: limit,
    select: { payload: true },
  });
  return rows.map((r) => r.payload as RoomEventPayload);
}
