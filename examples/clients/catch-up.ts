/**
 * Catch-up for the example clients: what a client does when it starts and every
 * time its socket comes back, so it misses nothing while it was away and sees
 * nothing twice (docs/architecture.md "User event log and the hand-over
 * to live"):
 *
 * 1. `sync(since: <the last nextCursor>)` over HTTP: every room that changed, with its
 *    new messages, the rooms left, the invites (null the first time: everything). A
 *    cursor older than the server's SYNC_RETENTION_DAYS (BAD_USER_INPUT, reason
 *    SYNC_CURSOR_EXPIRED) is dropped and the sync starts from scratch.
 * 2. The caller applies it to its state (`onSync`).
 * 3. `myEvents(after: nextCursor)`, and `messageAdded(roomId, after: messageCursor)` for
 *    each open room (the last seq seen for an open room the sync did not list): each
 *    continues right after the sync, with no gap and no duplicate.
 * On every `closed` event of the socket the subscriptions are dropped (graphql-ws would
 * resend them unchanged, with the old `after`) and it starts again at step 1; the new
 * subscriptions go out once graphql-ws has reconnected. A failed sync is retried after
 * `retryMs`.
 */
import type { Client as WsClient } from "graphql-ws";
import type { OpenStream } from "./resume.js";

/** What catch-up reads of a sync result (the CatchUp query's `sync`). */
export interface SyncResult {
  nextCursor: string;
  rooms: { room: { id: string }; messageCursor: string }[];
}

export interface CatchUpOptions<S extends SyncResult, E, M extends { seq: number }> {
  ws: WsClient;
  /** Runs sync(since); rejects with the library's error. */
  sync(since: string | null): Promise<S>;
  /** Whether a sync's error is SYNC_CURSOR_EXPIRED. */
  expired(error: unknown): boolean;
  /** myEvents(after). */
  openMyEvents: OpenStream<E>;
  /** messageAdded(roomId, after). */
  openMessages(roomId: string): OpenStream<M>;
  /** Step 2: a sync's result, to apply before any event that follows it. */
  onSync(result: S): void;
  /** Each myEvents event, once. */
  onEvent(event: E): void;
  /** Each new message of an open room, once, in seq order. */
  onMessage(roomId: string, message: M): void;
  /** A subscription ended with an error (e.g. FORBIDDEN: the room is no longer the viewer's). */
  onError?(error: unknown): void;
  /** Where to start; null (default): the initial sync. */
  since?: string | null;
  /** The wait before a failed sync is tried again, in ms (default 1000). */
  retryMs?: number;
}

/** A running catch-up: open rooms are followed live; `stop()` ends it all. */
export interface CatchUp {
  /** The last nextCursor applied (keep it: pass it as `since` when the app starts again). */
  readonly cursor: string | null;
  /** How many syncs it has applied. */
  readonly syncs: number;
  /** Resolves when the first sync is applied and the subscriptions are open. */
  readonly ready: Promise<void>;
  /** Follows the room's messages from `after` (its messageCursor, or the seq last seen). */
  openRoom(roomId: string, after: string): void;
  closeRoom(roomId: string): void;
  stop(): void;
}

/** Whether a GraphQL error list says a sync cursor is too old (BAD_USER_INPUT, reason SYNC_CURSOR_EXPIRED): sync from scratch. */
export function isExpiredCursor(errors: readonly { extensions?: Record<string, unknown> }[]): boolean {
  return errors.some((e) => e.extensions?.reason === "SYNC_CURSOR_EXPIRED");
}

/** Starts catching up (see the module comment). */
export function catchUp<S extends SyncResult, E, M extends { seq: number }>(options: CatchUpOptions<S, E, M>): CatchUp {
  let cursor = options.since ?? null;
  let syncs = 0;
  let stopped = false;
  /** Bumped at each round (start, reconnect): callbacks of an older round's subscriptions are ignored. */
  let round = 0;
  /** A round's sync is running: rooms opened meanwhile are followed once it is applied. */
  let syncing = false;
  /** The open rooms and the seq last seen in each (their `after`). */
  const rooms = new Map<string, string>();
  /** The unsubscribes of the current round: myEvents (key ""), and each open room's messageAdded. */
  const streams = new Map<string, () => void>();

  const drop = (key?: string) => {
    for (const [k, unsubscribe] of streams) {
      if (key !== undefined && k !== key) continue;
      streams.delete(k);
      unsubscribe();
    }
  };

  const sink = <T>(mine: number, onItem: (item: T) => void) => ({
    next: (item: T) => void (mine === round && !stopped && onItem(item)),
    error: (error: unknown) => void (mine === round && !stopped && options.onError?.(error)),
    complete: () => {},
  });

  const followRoom = (roomId: string) => {
    const mine = round;
    const next = (message: M) => {
      if (!rooms.has(roomId)) return;
      rooms.set(roomId, String(message.seq));
      options.onMessage(roomId, message);
    };
    streams.set(roomId, options.openMessages(roomId)(rooms.get(roomId)!, sink<M>(mine, next)));
  };

  /** Steps 1 to 3, once; a newer round makes it give up. */
  const start = async (): Promise<void> => {
    const mine = ++round;
    const current = () => !stopped && mine === round;
    drop();
    syncing = true;
    let result: S | undefined;
    while (!result) {
      try {
        result = await options.sync(cursor).catch((error: unknown) => {
          if (cursor === null || !options.expired(error)) throw error;
          cursor = null; // too old: from scratch
          return options.sync(null);
        });
      } catch (error) {
        if (!current()) return;
        options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 1000));
      }
      if (!current()) return;
    }
    syncing = false;
    cursor = result.nextCursor;
    syncs++;
    options.onSync(result);
    for (const { room, messageCursor } of result.rooms) if (rooms.has(room.id)) rooms.set(room.id, messageCursor);
    streams.set("", options.openMyEvents(cursor, sink<E>(mine, options.onEvent)));
    for (const roomId of rooms.keys()) followRoom(roomId);
  };

  const offClosed = options.ws.on("closed", () => {
    if (!stopped) void start();
  });
  const ready = start();

  return {
    get cursor() {
      return cursor;
    },
    get syncs() {
      return syncs;
    },
    ready,
    openRoom(roomId, after) {
      if (stopped || rooms.has(roomId)) return;
      rooms.set(roomId, after);
      if (!syncing) followRoom(roomId);
    },
    closeRoom(roomId) {
      rooms.delete(roomId);
      drop(roomId);
    },
    stop() {
      stopped = true;
      offClosed();
      drop();
    },
  };
}
