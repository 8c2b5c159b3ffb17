/**
 * Trusted documents (src/security/trusted-documents.ts): GRAPHQL_TRUSTED_DOCUMENTS
 * off, allow and only, each over GraphQL over HTTP and over graphql-ws, for a
 * document sent as text, by a known hash, by an unknown hash, as both, and as
 * neither; a subscription by hash delivers its events, and a refusal leaves the
 * socket open. The list is a file of this test's own documents, as the client
 * preset writes one (hash → document).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CSRF_HEADER } from "../src/security/csrf.js";
import { type GqlResponse, subscribe, untilReceived, wsClient } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const ME = "query Me { me { username } }";
const MESSAGES = "subscription Messages($roomId: ID!) { messageAdded(roomId: $roomId) { content } }";
const REGISTER = "mutation Register($input: RegisterInput!) { register(input: $input) { accessToken user { id username } } }";
const CREATE_ROOM =
  'mutation CreateRoom($memberIds: [ID!]) { createRoom(input: { name: "Trusted", type: GROUP, memberIds: $memberIds }) { id } }';
const SEND = 'mutation Send($roomId: ID!) { sendMessage(input: { roomId: $roomId, content: "by hash" }) { id } }';
const UNKNOWN = "query Unknown { me { id } }";

const sha256 = (document: string) => createHash("sha256").update(document).digest("hex");
/** `extensions` naming `document` by its hash (Apollo's persisted-query protocol). */
const byHash = (document: string) => ({ persistedQuery: { version: 1, sha256Hash: sha256(document) } });

const LIST = join(mkdtempSync(join(tmpdir(), "trusted-")), "persisted-documents.json");
writeFileSync(LIST, JSON.stringify(Object.fromEntries([ME, MESSAGES, REGISTER, CREATE_ROOM, SEND].map((d) => [sha256(d), d]))));

type Mode = "off" | "allow" | "only";
/** What the server answers `me { username }` sent some way: "runs", or the error's code. */
type Outcome = "runs" | "PERSISTED_QUERY_NOT_SUPPORTED" | "PERSISTED_QUERY_NOT_FOUND" | "PERSISTED_QUERY_ONLY" | "BAD_REQUEST";

/** Each way of sending an operation, and its outcome under each mode. */
const WAYS: { way: string; query: string; extensions?: Record<string, unknown>; outcome: Record<Mode, Outcome> }[] = [
  { way: "as text", query: ME, outcome: { off: "runs", allow: "runs", only: "PERSISTED_QUERY_ONLY" } },
  {
    way: "by a known hash alone",
    query: "",
    extensions: byHash(ME),
    outcome: { off: "PERSISTED_QUERY_NOT_SUPPORTED", allow: "runs", only: "runs" },
  },
  {
    way: "by an unknown hash alone",
    query: "",
    extensions: byHash(UNKNOWN),
    outcome: { off: "PERSISTED_QUERY_NOT_SUPPORTED", allow: "PERSISTED_QUERY_NOT_FOUND", only: "PERSISTED_QUERY_NOT_FOUND" },
  },
  {
    way: "as text with its known hash",
    query: ME,
    extensions: byHash(ME),
    outcome: { off: "runs", allow: "runs", only: "PERSISTED_QUERY_ONLY" },
  },
  { way: "as neither text nor hash", query: "", outcome: { off: "BAD_REQUEST", allow: "BAD_REQUEST", only: "PERSISTED_QUERY_ONLY" } },
];

/** The messages clients match on (Apollo's persisted-query link, urql's persisted exchange). */
const MESSAGE: Partial<Record<Outcome, string | RegExp>> = {
  PERSISTED_QUERY_NOT_SUPPORTED: "PersistedQueryNotSupported",
  PERSISTED_QUERY_NOT_FOUND: "PersistedQueryNotFound",
  PERSISTED_QUERY_ONLY: /^Only trusted documents run on this server/,
};

/** What a response shows of the outcome: the data it ran to, or its one error's code and message. */
function outcomeOf(result: GqlResponse) {
  if (!result.errors) return { data: result.data };
  expect(result.errors).toHaveLength(1);
  expect(result.data ?? undefined).toBeUndefined();
  return { code: result.errors[0]!.extensions?.code, message: result.errors[0]!.message };
}
const expected = (outcome: Outcome, username: string) =>
  outcome === "runs"
    ? { data: { me: { username } } }
    : { code: outcome, message: MESSAGE[outcome] ? expect.stringMatching(MESSAGE[outcome]!) : expect.any(String) };

describe.each(["off", "allow", "only"] as const)("GRAPHQL_TRUSTED_DOCUMENTS=%s", (mode) => {
  const env: Record<string, string> = mode === "off" ? {} : { GRAPHQL_TRUSTED_DOCUMENTS: mode, GRAPHQL_TRUSTED_DOCUMENTS_FILE: LIST };
  const { server, clients } = useTestServer([], { env });

  /** Runs `document` over HTTP the way this mode runs it (as text when off, by hash else) and returns its data. */
  async function run(document: string, variables: Record<string, unknown>, token?: string) {
    const body = mode === "off" ? { query: document, variables } : { variables, extensions: byHash(document) };
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const result = (await response.json()) as GqlResponse;
    expect(result.errors).toBeUndefined();
    return result.data;
  }
  let count = 0;
  /** Registers a user (by REGISTER, run as this mode runs it). */
  async function register() {
    const username = `trusted_${mode}_${process.pid}_${++count}`;
    const input = { username, email: `${username}@example.com`, password: "correct horse battery", firstName: "T", lastName: "D" };
    const { register } = await run(REGISTER, { input });
    return { id: register.user.id as string, username, accessToken: register.accessToken as string };
  }
  /** A graphql-ws client as `user`, disposed after the test. */
  const client = (user: { accessToken: string }) => {
    const ws = wsClient(server.wsUrl, user.accessToken);
    clients.push(ws);
    return ws;
  };
  let alice: Awaited<ReturnType<typeof register>>;
  beforeAll(async () => {
    alice = await register();
  });

  it.each(WAYS)(`over HTTP: an operation $way → $outcome.${mode}`, async ({ query, extensions, outcome }) => {
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${alice.accessToken}` },
      body: JSON.stringify({ query: query || undefined, extensions }),
    });
    expect(response.status).toBe(outcome[mode] === "BAD_REQUEST" ? 400 : 200);
    expect(outcomeOf((await response.json()) as GqlResponse)).toEqual(expected(outcome[mode], alice.username));
  });

  it.each(WAYS)(
    `over graphql-ws: an operation $way → $outcome.${mode}, and the socket stays open`,
    async ({ query, extensions, outcome }) => {
      const ws = client(alice);
      const operation = subscribe(ws, query, {}, extensions);
      const result = outcome[mode] === "runs" ? await operation.next() : { errors: (await operation.error) as GqlResponse["errors"] };
      expect(outcomeOf(result)).toEqual(expected(outcome[mode], alice.username));
      // the same socket runs the next operation, sent the way this mode runs it
      const next = mode === "off" ? subscribe(ws, ME) : subscribe(ws, "", {}, byHash(ME));
      expect((await next.next()).data).toEqual({ me: { username: alice.username } });
    },
  );

  it.runIf(mode !== "off")("over graphql-ws: a subscription by hash delivers its events", async () => {
    const bob = await register();
    const roomId = (await run(CREATE_ROOM, { memberIds: [bob.id] }, alice.accessToken)).createRoom.id;
    const messages = subscribe(client(bob), "", { roomId }, byHash(MESSAGES));
    expect((await untilReceived(messages, () => run(SEND, { roomId }, alice.accessToken))).data).toEqual({
      messageAdded: { content: "by hash" },
    });
  });

  it.runIf(mode === "only")("over SSE: a subscription's text is refused like any other", async () => {
    const response = await fetch(server.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        authorization: `Bearer ${alice.accessToken}`,
        [CSRF_HEADER]: "1",
      },
      body: JSON.stringify({ query: MESSAGES, variables: { roomId: "x" } }),
    });
    const stream = await response.text();
    expect(stream).toContain("PERSISTED_QUERY_ONLY");
    expect(stream).not.toContain('"data"');
  });
});
