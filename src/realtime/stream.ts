import type { PubSubEngine } from "graphql-subscriptions";
import { badInput } from "../errors.js";

/** How many stored items one replay or gap-fill read fetches at most. */
const PAGE = 200;

/** Where a sequenced stream comes from. */
export interface StreamSource<T> {
  pubsub: PubSubEngine;
  /** The bus topic its live items are published on. */
  topic: string;
  /** An item's per-room sequence number (1, 2, 3, … without gaps in storage). */
  seqOf(item: T): number;
  /**
   * The seq of the newest stored item, now. `wanted`: whether the read is still
   * wanted when its turn comes (db/admission.ts), when the reader is not the
   * source's own subscriber (a fan-out group: while it has members); default: while
   * the subscriber's socket is open.
   */
  head(wanted?: () => boolean): Promise<number>;
  /** Stored items with seq > `afterSeq`, oldest first, at most `limit`; `wanted` as for {@link head}. */
  load(afterSeq: number, limit: number, wanted?: () => boolean): Promise<T[]>;
  /** Called once live items are being received and `head` is read, before anything is yielded (a membership check goes here). */
  ready?(): Promise<void>;
  /** A live item after which the stream ends (the viewer was removed). */
  endsWith?(item: T): boolean;
  /** Told of each item handed to `count` subscribers (default 1); `live` when it came from the bus, not from storage (metrics). */
  delivered?(item: T, live: boolean, count?: number): void;
}

/**
 * A gap-free, duplicate-free, in-order stream of a room's sequenced items (its
 * stored events, or its messages), for one subscriber:
 *
 * 1. subscribe to the live topic (Redis acknowledges before this resolves),
 *    buffering what arrives;
 * 2. read `head`; with `after`, replay the stored items after it page by page,
 *    else start after `head`;
 * 3. then yield live items: duplicates (seq ≤ last yielded) are dropped; a gap
 *    (seq > last + 1) is filled from storage first. Items are committed in seq
 *    order under the room row lock and published after the commit, so when item
 *    N arrives, every item before N can be read.
 *
 * @throws BAD_USER_INPUT on `after` beyond the newest stored item; whatever `ready` throws.
 * The result is a plain iterator (not an async generator), so `return()`
 * unsubscribes at once even while a `next()` is pending.
 */
export async function sequencedStream<T>(source: StreamSource<T>, after: number | null): Promise<SequencedStream<T>> {
  const stream = new SequencedStream(source);
  await stream.start(after);
  return stream;
}

/**
 * The state of one {@link sequencedStream}. A class, so that an idle stream
 * holds its fields and one bus listener, not a closure per step: every
 * subscriber of a node keeps one for as long as it stays subscribed.
 * Exported for realtime/fanout.ts, which reads {@link source} and {@link position}.
 */
export class SequencedStream<T> implements AsyncIterableIterator<T> {
  /** Live items received and not yet yielded. */
  private live: T[] = [];
  /** Stored items read and not yet yielded. */
  private backlog: T[] = [];
  /** Resolves pull()'s wait for a live item. */
  private wake: (() => void) | null = null;
  /** Resolves a `next()` of a caught-up stream, waiting for the next live item (the fast path, see `next`). */
  private waiting: ((result: IteratorResult<T> | Promise<IteratorResult<T>>) => void) | null = null;
  private subscription: number | null = null;
  private closed = false;
  private ended = false;
  /** The newest stored seq when the stream started. */
  private head = 0;
  /** The seq of the last item yielded (or the cursor it started after). */
  private last = 0;
  /** Stored items are to be read before live ones (replay after `after`, or a gap being filled). */
  private replaying = false;
  /** The live item at the front of `live` came after a gap being filled from storage. */
  private filling = false;

  /** `source`: where the items come from (read by realtime/fanout.ts to start a room's group). */
  constructor(readonly source: StreamSource<T>) {}

  /** The seq of the last item handed out, or the cursor the stream started after (its head without one). */
  get position(): number {
    return this.last;
  }

  /** Steps 1 and 2: subscribes, reads `head`, runs `ready`; closes the stream and rethrows on failure. */
  async start(after: number | null): Promise<void> {
    const { source } = this;
    this.subscription = await source.pubsub.subscribe(source.topic, (item: T) => this.receive(item), {});
    try {
      this.head = await source.head();
      await source.ready?.();
      if (after !== null && after > this.head) throw badInput("after", "after is beyond the newest item of this room");
    } catch (e) {
      this.close();
      throw e;
    }
    this.last = after ?? this.head;
    this.replaying = after !== null && after < this.head;
  }

  /**
   * Live and caught up (nothing stored or buffered to hand out first): waits for
   * the listener to hand over the next item, one promise instead of pull()'s chain
   * of awaits per item (this runs once per subscriber and event).
   */
  next(): Promise<IteratorResult<T>> {
    if (this.closed || this.ended || this.replaying || this.backlog.length > 0 || this.live.length > 0) return this.pull();
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** The general case: replay, gap filling, duplicates, the end; waits for live items. */
  private async pull(): Promise<IteratorResult<T>> {
    const { source } = this;
    for (;;) {
      if (this.closed || this.ended) {
        this.close();
        return { done: true, value: undefined };
      }
      const stored = this.backlog.shift();
      if (stored !== undefined) {
        if (source.seqOf(stored) <= this.last) continue;
        return this.emit(stored, false);
      }
      if (this.replaying) {
        this.backlog = await source.load(this.last, PAGE);
        this.replaying = this.backlog.length === PAGE;
        continue;
      }
      // waits here, not in a helper: each async frame an idle subscriber sits in costs heap
      while (this.live.length === 0 && !this.closed) await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
      if (this.closed) continue;
      const item = this.live.shift()!;
      const seq = source.seqOf(item);
      if (seq <= this.last) {
        // a duplicate (or the item a gap fill already read past): any gap it announced is filled
        this.filling = false;
        continue;
      }
      if (seq > this.last + 1 && !this.filling) {
        // a gap: what came before `item` is stored by now; replay it, then take `item` again
        this.live.unshift(item);
        this.replaying = this.filling = true;
        continue;
      }
      // (still a gap after filling: those seqs are not stored, e.g. a deleted room's last event)
      this.filling = false;
      return this.emit(item, true);
    }
  }

  async return(): Promise<IteratorResult<T>> {
    this.close();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private receive(item: T): void {
    // the awaited next item, in order: straight to the waiting next(), as pull() would hand it over
    if (this.waiting && this.source.seqOf(item) === this.last + 1) {
      this.filling = false;
      this.answer(this.emit(item, true));
      return;
    }
    this.live.push(item);
    if (this.waiting) this.answer(this.pull());
    else this.wake?.();
  }

  private answer(result: IteratorResult<T> | Promise<IteratorResult<T>>): void {
    const resolve = this.waiting!;
    this.waiting = null;
    resolve(result);
  }

  private emit(item: T, live: boolean): IteratorResult<T> {
    const { source } = this;
    source.delivered?.(item, live);
    this.last = source.seqOf(item);
    if (this.last > this.head && source.endsWith?.(item)) this.ended = true;
    return { done: false, value: item };
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.subscription !== null) this.source.pubsub.unsubscribe(this.subscription);
    if (this.waiting) this.answer({ done: true, value: undefined });
    this.wake?.();
  }
}

/**
 * Parses a stream cursor, the `after` argument: the decimal seq of the last item
 * the client has. Null (no cursor: start live) stays null.
 * @throws BAD_USER_INPUT on `after` for a malformed one; `hint` says what a good one is.
 */
export function parseCursor(after: string | null | undefined, hint: string): number | null {
  if (after == null) return null;
  if (!/^(0|[1-9]\d{0,9})$/.test(after)) throw badInput("after", `after must be ${hint}`);
  return Number(after);
}
