import type { PubSubEngine } from "graphql-subscriptions";
import { requireMember } from "../chat/access.js";
import { type App, type Context, stillWanted } from "../context.js";
import { Withdrawn } from "../db/admission.js";
import type { StreamSource } from "../realtime/stream.js";

/**
 * What the sources of a room's sequenced subscriptions (roomEvents, messageAdded)
 * share: the app's bus, the room's topic, the room's head read together with the
 * viewer's membership, the membership checked once live items are being received
 * (`ready`: NOT_FOUND / FORBIDDEN for non-members, chat/access.ts requireMember),
 * and admission control of their reads (db/admission.ts): a storm of
 * subscriptions waits in memory, not in the pool's queue ahead of writes. The
 * heads of all the set-ups waiting at once are read in one statement
 * ({@link RoomHeads}); replay pages and gap fills (`read`) are admitted one by
 * one; a set-up or replay whose socket closed meanwhile is dropped.
 * A class, not closures: every idle subscriber keeps one (docs/performance.md,
 * memory per idle connection).
 */
export abstract class RoomStreamSource<T> implements StreamSource<T> {
  readonly pubsub: PubSubEngine;
  protected readonly app: App;
  protected readonly viewerId: string;
  /** The subscriber's WebSocket (undefined over SSE). */
  readonly socket: Context["socket"];
  /** The viewer's membership was found with the head; until then (or when it was not), `ready` asks requireMember. */
  private member = false;

  constructor(
    ctx: Context,
    protected readonly roomId: string,
    readonly topic: string,
    /** The room's counter that numbers this stream: `lastSeq` (messages) or `lastEventSeq` (events). */
    private readonly counter: "lastSeq" | "lastEventSeq",
  ) {
    this.app = ctx.app;
    this.viewerId = ctx.viewer!.userId;
    this.socket = ctx.socket;
    this.pubsub = ctx.app.pubsub;
  }

  abstract seqOf(item: T): number;
  /** Stored items with seq > `afterSeq`, oldest first, at most `limit` (one statement; `load` admits it). */
  protected abstract read(afterSeq: number, limit: number): Promise<T[]>;

  /** The room's counter (0 for a room that does not exist), read with the viewer's membership; dropped (Withdrawn) once `wanted` says no. */
  async head(wanted = stillWanted(this)): Promise<number> {
    const head = await roomHeads(this.app).read(this.roomId, this.viewerId, wanted);
    this.member = head.member;
    return head[this.counter];
  }

  /** A member (seen with the head) may go on; anyone else gets requireMember's error (it reads again, so the rule stays in one place). */
  async ready(): Promise<void> {
    if (!this.member) await this.app.admission.run(() => requireMember(this.app.db, this.roomId, this.viewerId), stillWanted(this));
  }

  /** `read`, admitted; identical reads waiting at once (same topic, cursor and limit: a reconnect storm's resumes) run once. */
  async load(afterSeq: number, limit: number, wanted = stillWanted(this)): Promise<T[]> {
    const items = await sharedRead(this.app, `${this.topic} ${afterSeq} ${limit}`, () => this.read(afterSeq, limit), wanted);
    return items.slice(); // each stream consumes its own copy; the items themselves are shared, read-only
  }
}

/**
 * The membership check of a room subscription's set-up (typing, presence: the
 * rule of chat/access.ts requireMember), read in the same batches as the heads
 * of roomEvents and messageAdded ({@link RoomHeads}); a non-member's error comes
 * from requireMember itself, admitted too.
 * @throws NOT_FOUND / FORBIDDEN for non-members; Withdrawn when the socket closed meanwhile.
 */
export async function admitMember(ctx: Context, roomId: string): Promise<void> {
  const { app } = ctx;
  const viewerId = ctx.viewer!.userId;
  const wanted = stillWanted(ctx);
  if (!(await roomHeads(app).read(roomId, viewerId, wanted)).member) await app.admission.run(() => requireMember(app.db, roomId, viewerId), wanted);
}

/** A replay read waiting for admission, and who waits for it (a `wanted` each; undefined: always wanted). */
interface PendingRead {
  result: Promise<unknown[]>;
  wanted: ((() => boolean) | undefined)[];
}

/** Per app: replay reads waiting for admission, by key. */
const pendingReads = new WeakMap<App, Map<string, PendingRead>>();

/**
 * Runs `read` through the app's admission from the next turn of the event loop,
 * or joins the identical read (`key`) waiting to run. Only a read that has not
 * started can be joined: one that started may predate the joiner's head and miss
 * items it must replay. The read is dropped (Withdrawn) when nobody who waits
 * for it wants it any more.
 */
function sharedRead<T>(app: App, key: string, read: () => Promise<T[]>, wanted: (() => boolean) | undefined): Promise<T[]> {
  let pending = pendingReads.get(app);
  if (!pending) pendingReads.set(app, (pending = new Map()));
  const waiting = pending.get(key);
  if (waiting) {
    waiting.wanted.push(wanted);
    return waiting.result as Promise<T[]>;
  }
  const reads = pending;
  const entry: PendingRead = {
    // asked for admission on the next turn of the event loop, so that the identical reads of this turn join it
    result: new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      app.admission.run(
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

  constructor(private readonly app: App) {}

  read(roomId: string, userId: string, wanted?: () => boolean): Promise<RoomHead> {
    return new Promise((resolve, reject) => {
      const key = `${roomId} ${userId}`;
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject, wanted });
      else this.waiting.set(key, [{ resolve, reject, wanted }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.app.admission.run(() => this.flush()));
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
    if (this.scheduled) void this.app.admission.run(() => this.flush());
    if (batch.size === 0) return;
    const pairs = [...batch.keys()].map((key) => key.split(" ") as [string, string]);
    try {
      const rows = await this.app.db.$queryRaw<{ roomId: string; userId: string; lastSeq: number; lastEventSeq: number; member: boolean }[]>`
        SELECT k."roomId"::text AS "roomId", k."userId"::text AS "userId", r."lastSeq", r."lastEventSeq", m."userId" IS NOT NULL AS member
        FROM unnest(${pairs.map((p) => p[0])}::uuid[], ${pairs.map((p) => p[1])}::uuid[]) AS k("roomId", "userId")
        JOIN "Room" r ON r.id = k."roomId"
        LEFT JOIN "RoomMember" m ON m."roomId" = k."roomId" AND m."userId" = k."userId"`;
      const found = new Map(rows.map((r) => [`${r.roomId} ${r.userId}`, { lastSeq: r.lastSeq, lastEventSeq: r.lastEventSeq, member: r.member }]));
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

/** The head reader of each app (one per node; several apps live in one test process). */
const heads = new WeakMap<App, RoomHeads>();

function roomHeads(app: App): RoomHeads {
  let reader = heads.get(app);
  if (!reader) heads.set(app, (reader = new RoomHeads(app)));
  return reader;
}
