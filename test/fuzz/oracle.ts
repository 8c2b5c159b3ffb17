/**
 * What the fuzz test (test/fuzz.test.ts) holds every answer to: a well-formed
 * GraphQL response over HTTP, no masked error, nothing written by a refused
 * mutation, and the close codes a graphql-ws socket may end with.
 */
import { expect } from "vitest";
import type { PrismaClient } from "../../src/db/client.js";
import type { GqlResponse } from "../helpers/client.js";

/** HTTP statuses a hostile request may get: results and GraphQL errors, CSRF (403), unknown route, method, media type, size. */
export const ALLOWED_STATUSES = new Set([200, 400, 403, 404, 405, 406, 413, 415]);

/** The message Yoga masks unexpected errors to; it must never reach a client of the fuzz. */
const MASKED = "Unexpected error.";

/**
 * Reads a response and checks that it is well formed: no 5xx; a JSON body with
 * `data` and/or `errors`, every error with a string `message`, none masked
 * (an unexpected error), and every error of an executed operation with an
 * `extensions.code`. Returns the parsed body (null for a non-JSON answer
 * of a route that is not GraphQL, e.g. 404).
 */
export async function wellFormed(response: Response): Promise<GqlResponse | null> {
  const text = await response.text();
  expect(ALLOWED_STATUSES, `HTTP ${response.status}: ${text.slice(0, 300)}`).toContain(response.status);
  const type = response.headers.get("content-type") ?? "";
  if (!/json/.test(type)) {
    expect(response.status, `a GraphQL answer must be JSON: ${type} ${text.slice(0, 200)}`).not.toBe(200);
    return null;
  }
  const body = JSON.parse(text) as GqlResponse;
  expect(body !== null && typeof body === "object" && ("data" in body || "errors" in body), text.slice(0, 300)).toBe(true);
  for (const error of body.errors ?? []) {
    expect(typeof error.message, JSON.stringify(error)).toBe("string");
    expect(error.message, JSON.stringify(error)).not.toBe(MASKED);
    // an error raised while executing (the answer has `data`) carries a code clients can branch on;
    // only request errors (syntax, validation, variable coercion: no `data`) may come without one
    if ("data" in body) expect(error.extensions?.code, JSON.stringify(error)).toBeTypeOf("string");
  }
  return body;
}

/** Tables whose rows a refused mutation must leave alone, with the columns background tasks move (presence) left out. */
const TABLES: Record<string, string[]> = {
  User: ["lastSeenAt", "updatedAt"],
  Room: [],
  RoomMember: [],
  Message: [],
  MessageEdit: [],
  Reaction: [],
  StoredEvent: [],
  RoomInvite: [],
  Contact: [],
  Block: [],
  Attachment: [],
  Notification: [],
};

/**
 * One digest of every row of {@link TABLES} (md5 of their JSON, in a stable
 * order): equal before and after a request when the request wrote nothing.
 */
export async function fingerprint(db: PrismaClient): Promise<string> {
  const parts = Object.entries(TABLES).map(
    ([table, ignored]) =>
      `(SELECT md5(coalesce(string_agg(j::text, ',' ORDER BY j::text), '')) FROM (SELECT to_jsonb(t)${ignored.map((c) => ` - '${c}'`).join("")} AS j FROM "${table}" t) x)`,
  );
  const [row] = await db.$queryRawUnsafe<{ digest: string }[]>(`SELECT md5(${parts.join(" || ")}) AS digest`);
  return row!.digest;
}

/**
 * graphql-ws close codes a hostile socket may get (graphql-ws CloseCode): 4400
 * bad request, 4401 subscribe before the ack, 4403 refused connection_init,
 * 4409 duplicate subscription id, 4429 repeated connection_init; and 1009
 * (RFC 6455 "message too big": a frame over the server's 1 MiB maxPayload).
 * Never 4500 (internal error) or 1006 (the connection dropped).
 */
export const ALLOWED_CLOSE_CODES = new Set([4400, 4401, 4403, 4409, 4429, 1009]);
