/**
 * Resumable subscriptions over graphql-ws, for the example clients: follow a
 * stream that takes an `after` position (roomEvents' `cursor`, messageAdded's
 * String(seq)) and, whenever the socket drops, subscribe again from the last
 * position seen, so the caller gets every event once and in order.
 */
import type { Client as WsClient } from "graphql-ws";

/** How to open one subscription of the stream from `after` (null: live only); returns its unsubscribe. */
export type OpenStream<E> = (
  after: string | null,
  sink: { next(event: E): void; error(error: unknown): void; complete(): void },
) => () => void;

export interface FollowOptions<E> {
  /** The graphql-ws client the subscriptions run on (its `closed` events trigger the resume). */
  ws: WsClient;
  open: OpenStream<E>;
  /** The stream position of an event: what to pass as `after` to resume after it. */
  position(event: E): string;
  /** Where to start; null (default) for live events only. */
  after?: string | null;
  /** Each event, once, in stream order. */
  onEvent(event: E): void;
  /**
   * The stream ended for good: `error` is a GraphQL error list (e.g. FORBIDDEN),
   * or the CloseEvent/Error of a connection graphql-ws gave up on (retries
   * exhausted, or a fatal close code such as 4403 with a refused token);
   * undefined when the server completed it (the viewer left the room).
   */
  onEnd?(error?: unknown): void;
}

/** A followed stream: `after` is the position of the last event delivered; `stop()` ends it (onEnd is not called). */
export interface FollowedStream {
  readonly after: string | null;
  /** How many times it subscribed again after a dropped socket. */
  readonly resumes: number;
  stop(): void;
}

/**
 * Follows a resumable stream. On every `closed` event of the socket (the server
 * went away, the network dropped, the socket was terminated) it drops its
 * subscription, which graphql-ws would otherwise resend unchanged with the old
 * `after`, and subscribes again with `after` = the last position delivered;
 * that subscription goes out once graphql-ws has reconnected (its retryAttempts
 * and retryWait apply; connectionParams are read again, so a refreshed access
 * token is used). Events of a dropped subscription that still arrive are ignored.
 */
export function follow<E>(options: FollowOptions<E>): FollowedStream {
  let after = options.after ?? null;
  let resumes = 0;
  let stopped = false;
  let generation = 0;
  let unsubscribe: () => void = () => {};

  const start = () => {
    const mine = ++generation;
    const current = () => !stopped && mine === generation;
    unsubscribe = options.open(after, {
      next: (event) => {
        if (!current()) return;
        after = options.position(event);
        options.onEvent(event);
      },
      error: (error) => {
        if (!current()) return;
        stopped = true;
        offClosed();
        options.onEnd?.(error);
      },
      complete: () => {
        if (!current()) return;
        stopped = true;
        offClosed();
        options.onEnd?.();
      },
    });
  };

  const offClosed = options.ws.on("closed", () => {
    if (stopped) return;
    const previous = unsubscribe;
    resumes++;
    start(); // bumps the generation first: the previous subscription's callbacks are now ignored
    previous();
  });

  start();
  return {
    get after() {
      return after;
    },
    get resumes() {
      return resumes;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      offClosed();
      unsubscribe();
    },
  };
}
