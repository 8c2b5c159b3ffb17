import { GraphQLError } from "graphql";

/**
 * The `extensions.code` values clients can branch on. Anything else that goes
 * wrong is an unexpected error: Yoga masks it to "Unexpected error." and it is logged.
 */
export type ErrorCode = "BAD_USER_INPUT" | "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND" | "RATE_LIMITED";

function error(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** Bad input; `field` is the input path, e.g. `input.content`. */
export const badInput = (field: string, message: string) => error("BAD_USER_INPUT", message, { field });
/** No valid access token, or its session has ended. */
export const unauthenticated = (message = "Authentication required") => error("UNAUTHENTICATED", message);
/** Authenticated, but not allowed. */
export const forbidden = (message = "Not allowed") => error("FORBIDDEN", message);
/** Missing, or not visible to the viewer (existence must not leak). */
export const notFound = (what: string) => error("NOT_FOUND", `${what} not found`);
