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
  /** The seq of the newest stored item, now. */
  head(): Promise<number>;
  /** Stored items with seq > `afterSeq`, oldest first, at most `limit`. */
  load(afterSeq: number, limit: number): Promise<T[]>;
  /** Called once live items are being received and `head` is read, before anything is yielded (a membership check goes here). */
  ready?(): Promise<void>;
  /** A live item after which the stream ends (the viewer was removed). */
  endsWith?(item: T): boolean;
  /** Told of each item handed to the subscriber; `live` when it came from the bus, not from storage (metrics). */
  delivered?(item: T, live: boolean): void;
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
export async function sequencedStream<T>(source: StreamSource<T>, after: number | null): Promise<AsyncIterableIterator<T>> {
  const live: T[] = [];
  let wake: (() => void) | null = null;
  /** A `next()` waiting for a live item with nothing buffered (the fast path, see `next`). */
  let waiting: ((result: IteratorResult<T> | Promise<IteratorResult<T>>) => void) | null = null;
  const answer = (result: IteratorResult<T> | Promise<IteratorResult<T>>) => {
    const resolve = waiting!;
    waiting = null;
    resolve(result);
  };
  let closed = false;
  const subscription = await source.pubsub.subscribe(
    source.topic,
    (item: T) => {
      // the awaited next item, in order: straight to the waiting next(), as pull() would hand it over
      if (waiting && source.seqOf(item) === last + 1) {
        filling = false;
        return answer(emit(item, true));
      }
      live.push(item);
      if (waiting) answer(pull());
      else wake?.();
    },
    {},
  );
  const close = () => {
    if (closed) return;
    closed = true;
    source.pubsub.unsubscribe(subscription);
    if (waiting) answer({ done: true, value: undefined });
    wake?.();
  };
  let head: number;
  try {
    head = await source.head();
    await source.ready?.();
    if (after !== null && after > head) throw badInput("after", "after is beyond the newest item of this room");
  } catch (e) {
    close();
    throw e;
  }

  let last = after ?? head;
  let backlog: T[] = [];
  let replaying = after !== null && after < head;
  let filling = false; // the live item at the front of `live` came after a gap being filled from storage
  let ended = false;

  const nextLive = async (): Promise<T | null> => {
    while (live.length === 0 && !closed) await new Promise<void>((resolve) => (wake = resolve));
    wake = null;
    return closed ? null : live.shift()!;
  };

  /** The general case: replay, gap filling, duplicates, the end; waits for live items. */
  const pull = async (): Promise<IteratorResult<T>> => {
    for (;;) {
      if (closed || ended) {
        close();
        return { done: true, value: undefined };
      }
      const stored = backlog.shift();
      if (stored !== undefined) {
        if (source.seqOf(stored) <= last) continue;
        return emit(stored, false);
      }
      if (replaying) {
        backlog = await source.load(last, PAGE);
        replaying = backlog.length === PAGE;
        continue;
      }
      const item = await nextLive();
      if (item === null) continue;
      const seq = source.seqOf(item);
      if (seq <= last) continue;
      if (seq > last + 1 && !filling) {
        // a gap: what came before `item` is stored by now; replay it, then take `item` again
        live.unshift(item);
        replaying = filling = true;
        continue;
      }
      // (still a gap after filling: those seqs are not stored, e.g. a deleted room's last event)
      filling = false;
      return emit(item, true);
    }
  };

  const emit = (item: T, live: boolean): IteratorResult<T> => {
    source.delivered?.(item, live);
    last = source.seqOf(item);
    if (last > head && source.endsWith?.(item)) ended = true;
    return { done: false, value: item };
  };

  /**
   * Live and caught up (nothing stored or buffered to hand out first): wait for the
   * listener to hand over the next item, one promise instead of pull()'s chain of
   * awaits per item (this runs once per subscriber and event).
   */
  const next = (): Promise<IteratorResult<T>> => {
    if (closed || ended || replaying || backlog.length > 0 || live.length > 0) return pull();
    return new Promise((resolve) => (waiting = resolve));
  };

  const iterator: AsyncIterableIterator<T> = {
    next,
    return: async () => {
      close();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
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
