import { GraphQLError } from "graphql";

/**
 * The `extensions.code` values clients can branch on. Anything else that goes
 * wrong is an unexpected error: Yoga masks it to "Unexpected error." and it is logged.
 */
export type ErrorCode = "BAD_USER_INPUT" | "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND" | "RATE_LIMITED" | "SERVICE_UNAVAILABLE";

function error(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, at?: GraphQLError): GraphQLError {
  return new GraphQLError(message, { nodes: at?.nodes, path: at?.path, extensions: { code, ...extensions } });
}

/** Bad input; `field` is the input path, e.g. `input.content`. */
export const badInput = (field: string, message: string) => error("BAD_USER_INPUT", message, { field });
/**
 * A sync cursor (sync's `since`, myEvents' `after`) from before the retention
 * window (SYNC_RETENTION_DAYS): what happened since is no longer all stored.
 * BAD_USER_INPUT with `field` and `reason: "SYNC_CURSOR_EXPIRED"`: the client
 * syncs from scratch (`sync(since: null)`).
 */
export const syncCursorExpired = (field: string, retentionDays: number) =>
  error("BAD_USER_INPUT", `${field} is older than the sync retention window (${retentionDays} days); sync from scratch with since: null`, {
    field,
    reason: "SYNC_CURSOR_EXPIRED",
  });
/** No valid access token, or its session has ended. */
export const unauthenticated = (message = "Authentication required") => error("UNAUTHENTICATED", message);
/** Authenticated, but not allowed. */
export const forbidden = (message = "Not allowed") => error("FORBIDDEN", message);
/** Missing, or not visible to the viewer (existence must not leak). */
export const notFound = (what: string) => error("NOT_FOUND", `${what} not found`);
/**
 * Over a limit (src/limits/): too many calls, with `retryAfterS`, when to try again
 * in whole seconds (≥ 1), sent as `extensions.retryAfter`; or too many of something
 * at once (`retryAfterS` undefined, `message` says what).
 */
export const rateLimited = (retryAfterS?: number, message = `Too many requests; retry in ${retryAfterS} s`) =>
  error("RATE_LIMITED", message, retryAfterS === undefined ? {} : { retryAfter: retryAfterS });
/**
 * PostgreSQL could not serve the request now (down, restarting, connection lost,
 * transaction expired: db/errors.ts isDatabaseUnavailable), or Redis could not
 * (realtime/pubsub.ts isRedisUnavailable: setTyping while it is away); the same
 * request may succeed later. `service` names which, in the message. Each write runs
 * in one transaction, so it is all or nothing;
 * it is normally not committed, but may be when the connection died during its
 * COMMIT, so retries must be idempotent: sendMessage with the same
 * `clientMessageId` returns the stored message, addReaction and markRead are
 * idempotent. `at` is the error it replaces, for its `path` and `nodes`.
 */
export const serviceUnavailable = (at?: GraphQLError, service = "Database") =>
  error("SERVICE_UNAVAILABLE", `${service} unavailable; retry later`, {}, at);

/**
 * Gives Pothos' own input errors (plugin-relay's pagination arguments,
 * plugin-prisma's cursors: `PothosValidationError`) the BAD_USER_INPUT code and
 * the argument: the one quoted in the message (`Argument "first" must be …`),
 * else the cursor argument the field was given (`after` or `before`). Changes
 * `error` in place (so Yoga does not log it as masked) and returns whether it did.
 */
export function markPothosValidation(error: GraphQLError): boolean {
  if (error.originalError?.name !== "PothosValidationError") return false;
  const node = error.nodes?.[0];
  const args = node?.kind === "Field" ? (node.arguments ?? []).map((a) => a.name.value) : [];
  const field = /Argument "(\w+)"/.exec(error.message)?.[1] ?? (args.includes("before") && !args.includes("after") ? "before" : "after");
  Object.assign(error.extensions, { code: "BAD_USER_INPUT", field });
  return true;
}
