import type { PubSubEngine } from "graphql-subscriptions";
import { type Admission, Withdrawn } from "../db/admission.js";
import type { PrismaClient } from "../db/client.js";
import type { Metrics } from "../metrics.js";
import { storedEvents } from "./event-log.js";
import { removes } from "./removal.js";
import type { StreamSource } from "./stream.js";
import { type MessageAddedPayload, messageToJson, type RoomEventPayload, topics } from "./topics.js";

/** What a room stream needs of its subscriber's WebSocket (undefined over SSE): whether it is still open. */
export interface SubscriberSocket {
  readonly readyState: number;
}

/** WebSocket `readyState` of an open socket. */
const OPEN = 1;

/**
 * For {@link Admission.run}'s `wanted`: undefined over HTTP and SSE (always wanted),
 * else whether the subscriber's socket is still open.
 */
function stillWanted(socket: SubscriberSocket | undefined): (() => boolean) | undefined {
  return socket && (() => socket.readyState === OPEN);
}

/**
 * The sources of a room's sequenced subscriptions on one node (roomEvents,
 * messageAdded: realtime/stream.ts reads them), and the membership check of the
 * other room subscriptions' set-up (typing, presence), with the services they
 * read through: `db`, the bus, admission control of their reads (db/admission.ts:
 * a storm of subscriptions waits in memory, not in the pool's queue ahead of
 * writes), the delivery metrics, and `requireMember`, the membership rule
 * (chat/access.ts requireMember, passed in by app.ts: NOT_FOUND / FORBIDDEN for
 * non-members). The heads of all the set-ups waiting at once are read in one
 * statement ({@link RoomHeads}); replay pages and gap fills are admitted one by one,
 * identical ones waiting at once read once; a set-up or replay whose socket closed
 * meanwhile is dropped (Withdrawn).
 */
export class RoomStreams {
  /** The batched head reader of this node. */
  readonly heads: RoomHeads;
  /** Replay reads waiting for admission, by key ({@link sharedRead}). */
  private readonly pendingReads = new Map<string, PendingRead>();

  constructor(
    readonly db: PrismaClient,
    readonly pubsub: PubSubEngine,
    readonly admission: Admission,
    readonly metrics: Metrics,
    readonly requireMember: (roomId: string, userId: string) => Promise<unknown>,
  ) {
    this.heads = new RoomHeads(db, admission);
  }

  /** roomEvents' source: room `roomId`'s stored events for `viewerId`, ending with their removal. */
  events(roomId: string, viewerId: string, socket?: SubscriberSocket): StreamSource<RoomEventPayload> {
    return new RoomEvents(this, roomId, viewerId, socket);
  }

  /** messageAdded's source: room `roomId`'s messages for `viewerId`. */
  messages(roomId: string, viewerId: string, socket?: SubscriberSocket): StreamSource<MessageAddedPayload> {
    return new RoomMessages(this, roomId, viewerId, socket);
  }

  /**
   * The membership check of a room subscription's set-up (typing, presence: the
   * rule of `requireMember`), read in the same batches as the heads of roomEvents
   * and messageAdded ({@link RoomHeads}); a non-member's error comes from
   * `requireMember` itself, admitted too.
   * @throws NOT_FOUND / FORBIDDEN for non-members; Withdrawn when the socket closed meanwhile.
   */
  async admitMember(roomId: string, viewerId: string, socket?: SubscriberSocket): Promise<void> {
    const wanted = stillWanted(socket);
    if (!(await this.heads.read(roomId, viewerId, wanted)).member)
      await this.admission.run(() => this.requireMember(roomId, viewerId), wanted);
  }

  /**
   * Runs `read` through admission from the next turn of the event loop, or joins
   * the identical read (`key`) waiting to run. Only a read that has not started
   * can be joined: one that started may predate the joiner's head and miss items
   * it must replay. The read is dropped (Withdrawn) when nobody who waits for it
   * wants it any more.
   */
  sharedRead<T>(key: string, read: () => Promise<T[]>, wanted: (() => boolean) | undefined): Promise<T[]> {
    const reads = this.pendingReads;
    const waiting = reads.get(key);
    if (waiting) {
      waiting.wanted.push(wanted);
      return waiting.result as Promise<T[]>;
    }
    const entry: PendingRead = {
      // asked for admission on the next turn of the event loop, so that the identical reads of this turn join it
      result: new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
        this.admission.run(
          () => {
            reads.delete(key); // started: later readers read again
            return read();
          },
          () => {
            const anyone = entry.wanted.some((w) => !w || w());
            if (!anyone) reads.delete(key);
            return anyone;
          },
        ),
      ),
      wanted: [wanted],
    };
    reads.set(key, entry);
    return entry.result as Promise<T[]>;
  }
}

/**
 * What the sources of a room's sequenced subscriptions (roomEvents, messageAdded)
 * share: the bus, the room's topic, the room's head read together with the
 * viewer's membership, the membership checked once live items are being received
 * (`ready`: NOT_FOUND / FORBIDDEN for non-members, `requireMember`), and admitted
 * reads ({@link RoomStreams}).
 * A class, not closures: every idle subscriber keeps one (docs/performance.md,
 * memory per idle connection).
 */
abstract class RoomStreamSource<T> implements StreamSource<T> {
  /** The viewer's membership was found with the head; until then (or when it was not), `ready` asks requireMember. */
  private member = false;

  constructor(
    protected readonly streams: RoomStreams,
    protected readonly roomId: string,
    protected readonly viewerId: string,
    /** The subscriber's WebSocket (undefined over SSE). */
    readonly socket: SubscriberSocket | undefined,
    readonly topic: string,
    /** The room's counter that numbers this stream: `lastSeq` (messages) or `lastEventSeq` (events). */
    private readonly counter: "lastSeq" | "lastEventSeq",
  ) {}

  get pubsub(): PubSubEngine {
    return this.streams.pubsub;
  }

  abstract seqOf(item: T): number;
  /** Stored items with seq > `afterSeq`, oldest first, at most `limit` (one statement; `load` admits it). */
  protected abstract read(afterSeq: number, limit: number): Promise<T[]>;

  /** The room's counter (0 for a room that does not exist), read with the viewer's membership; dropped (Withdrawn) once `wanted` says no. */
  async head(wanted = stillWanted(this.socket)): Promise<number> {
    const head = await this.streams.heads.read(this.roomId, this.viewerId, wanted);
    this.member = head.member;
    return head[this.counter];
  }

  /** A member (seen with the head) may go on; anyone else gets requireMember's error (it reads again, so the rule stays in one place). */
  async ready(): Promise<void> {
    if (!this.member)
      await this.streams.admission.run(() => this.streams.requireMember(this.roomId, this.viewerId), stillWanted(this.socket));
  }

  /** `read`, admitted; identical reads waiting at once (same topic, cursor and limit: a reconnect storm's resumes) run once. */
  async load(afterSeq: number, limit: number, wanted = stillWanted(this.socket)): Promise<T[]> {
    const items = await this.streams.sharedRead(`${this.topic} ${afterSeq} ${limit}`, () => this.read(afterSeq, limit), wanted);
    return items.slice(); // each stream consumes its own copy; the items themselves are shared, read-only
  }
}

/** A room's events as a sequenced stream for `viewerId`, ending with their removal (a class: every idle subscriber keeps one). */
class RoomEvents extends RoomStreamSource<RoomEventPayload> {
  constructor(streams: RoomStreams, roomId: string, viewerId: string, socket: SubscriberSocket | undefined) {
    super(streams, roomId, viewerId, socket, topics.roomEvents(roomId), "lastEventSeq");
  }

  seqOf(e: RoomEventPayload): number {
    return e.seq;
  }

  protected read(afterSeq: number, limit: number): Promise<RoomEventPayload[]> {
    return storedEvents(this.streams.db, this.roomId, afterSeq, limit);
  }

  endsWith(e: RoomEventPayload): boolean {
    return removes(e, this.viewerId);
  }

  delivered(e: RoomEventPayload, live: boolean, count?: number): void {
    this.streams.metrics.deliveredOn("roomEvents", e.at, live, count);
  }
}

/** A room's messages as a sequenced stream for `viewerId` (a class: every idle subscriber keeps one). */
class RoomMessages extends RoomStreamSource<MessageAddedPayload> {
  constructor(streams: RoomStreams, roomId: string, viewerId: string, socket: SubscriberSocket | undefined) {
    super(streams, roomId, viewerId, socket, topics.messageAdded(roomId), "lastSeq");
  }

  seqOf(p: MessageAddedPayload): number {
    return p.message.seq;
  }

  protected async read(afterSeq: number, limit: number): Promise<MessageAddedPayload[]> {
    const rows = await this.streams.db.message.findMany({
      where: { roomId: this.roomId, seq: { gt: afterSeq } },
      orderBy: { seq: "asc" },
      take: limit,
    });
    return rows.map((m) => ({ message: messageToJson(m) }));
  }

  delivered(p: MessageAddedPayload, live: boolean, count?: number): void {
    this.streams.metrics.deliveredOn("messageAdded", p.message.createdAt, live, count);
  }
}

/** A replay read waiting for admission, and who waits for it (a `wanted` each; undefined: always wanted). */
interface PendingRead {
  result: Promise<unknown[]>;
  wanted: ((() => boolean) | undefined)[];
}

/** A room's head counters and whether one user is its member; zeros and false for a room that does not exist. */
interface RoomHead {
  lastSeq: number;
  lastEventSeq: number;
  member: boolean;
}

interface WaitingHead {
  resolve(head: RoomHead): void;
  reject(err: unknown): void;
  wanted: (() => boolean) | undefined;
}

/**
 * The heads of subscription set-ups, read in batches: a set-up asks, and every
 * set-up that asks in the same turn of the event loop, or before the batch's
 * admission comes (db/admission.ts), is answered by the same statement. One
 * set-up alone is one statement at once; a storm of 2,000 is a handful of
 * statements instead of 2,000 waiting in the pool's queue ahead of writes.
 * Set-ups whose socket closed while they waited are dropped (Withdrawn) before
 * the read.
 */
class RoomHeads {
  /** "roomId userId" → the set-ups waiting for that pair. */
  private waiting = new Map<string, WaitingHead[]>();
  private scheduled = false;

  constructor(
    private readonly db: PrismaClient,
    private readonly admission: Admission,
  ) {}

  read(roomId: string, userId: string, wanted?: () => boolean): Promise<RoomHead> {
    return new Promise((resolve, reject) => {
      const key = `${roomId} ${userId}`;
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject, wanted });
      else this.waiting.set(key, [{ resolve, reject, wanted }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.admission.run(() => this.flush()));
      }
    });
  }

  /** Reads every waiting pair (at most MAX_BATCH) in one statement; schedules another batch if more are waiting. */
  private async flush(): Promise<void> {
    const batch = new Map<string, WaitingHead[]>();
    for (const [key, list] of this.waiting) {
      if (batch.size === MAX_BATCH) break;
      this.waiting.delete(key);
      const wanted = list.filter((w) => !w.wanted || w.wanted());
      for (const w of list) if (!wanted.includes(w)) w.reject(new Withdrawn());
      if (wanted.length > 0) batch.set(key, wanted);
    }
    this.scheduled = this.waiting.size > 0;
    if (this.scheduled) void this.admission.run(() => this.flush());
    if (batch.size === 0) return;
    const pairs = [...batch.keys()].map((key) => key.split(" ") as [string, string]);
    try {
      const rows = await this.db.$queryRaw<{ roomId: string; userId: string; lastSeq: number; lastEventSeq: number; member: boolean }[]>`
        SELECT k."roomId"::text AS "roomId", k."userId"::text AS "userId", r."lastSeq", r."lastEventSeq", m."userId" IS NOT NULL AS member
        FROM unnest(${pairs.map((p) => p[0])}::uuid[], ${pairs.map((p) => p[1])}::uuid[]) AS k("roomId", "userId")
        JOIN "Room" r ON r.id = k."roomId"
        LEFT JOIN "RoomMember" m ON m."roomId" = k."roomId" AND m."userId" = k."userId"`;
      const found = new Map(
        rows.map((r) => [`${r.roomId} ${r.userId}`, { lastSeq: r.lastSeq, lastEventSeq: r.lastEventSeq, member: r.member }]),
      );
      for (const [key, list] of batch) {
        const head = found.get(key) ?? { lastSeq: 0, lastEventSeq: 0, member: false };
        for (const w of list) w.resolve(head);
      }
    } catch (err) {
      for (const list of batch.values()) for (const w of list) w.reject(err);
    }
  }
}

/** The most (room, user) pairs one head read asks for. */
const MAX_BATCH = 1000;
