import type { Client } from "graphql-ws";
import type { GqlResponse } from "./client.js";

/**
 * A graphql-ws subscription that records everything it gets, including
 * `complete` (./client.ts' `subscribe` ignores complete; this one is for tests
 * that check a subscription ends). Events are kept in order; `nextWhere` reads
 * forward from a cursor.
 */
export interface LiveSubscription {
  /** Every `next` payload so far, in order. */
  events: GqlResponse[];
  /** Resolves when the server completes the subscription. */
  completed: Promise<void>;
  isCompleted(): boolean;
  /** Resolves with what the error sink got (GraphQL errors or a CloseEvent). */
  errored: Promise<unknown>;
  /** The first event after the cursor that satisfies `match` (moves the cursor past it). */
  nextWhere(match: (event: GqlResponse) => boolean, timeoutMs?: number): Promise<GqlResponse>;
  /** Repeats `action` until anything arrives (so the subscription is live everywhere), then moves the cursor past it. */
  warmUp(action: () => Promise<unknown>, intervalMs?: number, timeoutMs?: number): Promise<void>;
  /** Waits until the subscription has ended with an error, and gives its code (`extensions.code` or `close:<code>`). */
  errorCode(timeoutMs?: number): Promise<string | undefined>;
  stop(): void;
}

/**
 * Subscribes `client` to `query` with `variables` and returns a
 * {@link LiveSubscription} that records its events, completion and error.
 */
export function live(client: Client, query: string, variables: Record<string, unknown> = {}): LiveSubscription {
  const events: GqlResponse[] = [];
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  let done = false;
  let onComplete!: () => void;
  let onError!: (e: unknown) => void;
  const completed = new Promise<void>((resolve) => (onComplete = resolve));
  let errorValue: unknown;
  let hasError = false;
  const errored = new Promise<unknown>((resolve) => (onError = resolve));
  const stop = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        events.push(value as GqlResponse);
        notify();
      },
      error: (e) => {
        hasError = true;
        errorValue = e;
        onError(e);
        notify();
      },
      complete: () => {
        done = true;
        onComplete();
        notify();
      },
    },
  );
  /** Resolves when `ready()` holds, re-checking on every change; false after `timeoutMs`. */
  const waitFor = (ready: () => boolean, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      if (ready()) return resolve(true);
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        resolve(ready());
      }, timeoutMs);
      listeners.add(check);
    });
  let cursor = 0;
  const sub: LiveSubscription = {
    events,
    completed,
    errored,
    isCompleted: () => done,
    stop,
    nextWhere: async (match, timeoutMs = 5000) => {
      let found = -1;
      const ok = await waitFor(() => {
        found = events.findIndex((e, i) => i >= cursor && match(e));
        return found >= 0;
      }, timeoutMs);
      if (!ok) throw new Error(`no matching event within ${timeoutMs} ms; since the last match: ${JSON.stringify(events.slice(cursor))}`);
      cursor = found + 1;
      return events[found]!;
    },
    warmUp: async (action, intervalMs = 150, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await action();
        if (await waitFor(() => events.length > cursor || hasError || done, intervalMs)) {
          if (hasError || done) throw new Error(`subscription ended during warm-up: ${JSON.stringify({ errorValue, events })}`);
          cursor = events.length;
          return;
        }
      }
      throw new Error(`subscription received nothing within ${timeoutMs} ms`);
    },
    errorCode: async (timeoutMs = 5000) => {
      await waitFor(() => events.length > 0 || hasError, timeoutMs);
      if (events.length > 0) {
        const first = events[0]!;
        if (first.data) throw new Error(`expected an error, got data ${JSON.stringify(first)}`);
        return first.errors?.[0]?.extensions?.code;
      }
      if (!hasError) throw new Error(`no error within ${timeoutMs} ms`);
      if (Array.isArray(errorValue)) return (errorValue[0] as { extensions?: { code?: string } })?.extensions?.code;
      if (errorValue && typeof errorValue === "object" && "code" in errorValue) return `close:${(errorValue as { code: number }).code}`;
      return String(errorValue);
    },
  };
  return sub;
}
