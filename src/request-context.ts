import { AsyncLocalStorage } from "node:async_hooks";

/** What every log line written while serving one request or WebSocket operation carries. */
export interface RequestContext {
  /** An HTTP request's `x-request-id` (or a fresh UUID), or `<connection id>/<operation id>` over WebSocket. */
  requestId: string;
}

/**
 * The request being served, across its awaits (AsyncLocalStorage): the logger's
 * mixin adds its `requestId` to every line, Yoga's and ours alike.
 */
export const requestContext = new AsyncLocalStorage<RequestContext>();

/** A client's `x-request-id` when it is a sane token (1–64 of letters, digits, `-`, `_`, `.`), else a new UUID. */
export function requestIdOf(header: string | string[] | undefined, fresh: () => string): string {
  return typeof header === "string" && /^[\w.-]{1,64}$/.test(header) ? header : fresh();
}
