import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type Client, type ClientOptions, createClient } from "graphql-ws";
import WebSocket from "ws";
import { CSRF_HEADER } from "../../src/security/csrf.js";
import { changes } from "./changes.js";

/** A GraphQL response as sent on the wire. */
export interface GqlResponse<T = any> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; field?: string; [k: string]: unknown } }[];
}

/** POSTs a GraphQL-over-HTTP request `body` (query or persisted hash, variables) to `url` as JSON, with a Bearer token when given. */
async function post<T>(url: string, body: Record<string, unknown>, token?: string): Promise<GqlResponse<T>> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return (await response.json()) as GqlResponse<T>;
}

/** `result.data`, failing the test on any error in `result`. */
function dataOf<T>(result: GqlResponse<T>): T {
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

/** POSTs one operation to `url` (GraphQL over HTTP), with a Bearer token when given. */
export function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<GqlResponse<T>> {
  return post<T>(url, { query, variables }, token);
}

/** Like {@link gql}, but fails the test on any error and returns `data`. */
export async function gqlOk<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  return dataOf(await gql<T>(url, query, variables, token));
}

/**
 * Like {@link gqlOk}, for a typed document of `npm run codegen` sent by its hash alone
 * (`extensions.persistedQuery.sha256Hash`: the client preset's `__meta__.hash`), as
 * a server with GRAPHQL_TRUSTED_DOCUMENTS=only takes it.
 */
export async function persistedOk<T, V extends Record<string, unknown>>(
  url: string,
  document: TypedDocumentNode<T, V>,
  variables: V,
  token?: string,
): Promise<T> {
  const sha256Hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!sha256Hash) throw new Error("persistedOk: the document has no __meta__.hash (a client preset document with persistedDocuments)");
  return dataOf(await post<T>(url, { variables, extensions: { persistedQuery: { version: 1, sha256Hash } } }, token));
}

/**
 * POSTs `query` with one file as its `$file` variable by the GraphQL multipart
 * request spec (as uploadAttachment takes it), with a Bearer token when given;
 * resolves the HTTP status and the JSON body (throws if the body is not JSON).
 */
export async function postFile(
  url: string,
  query: string,
  file: { bytes: Uint8Array; filename: string; type: string },
  token?: string,
): Promise<{ status: number; body: GqlResponse }> {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables: { file: null } }));
  form.append("map", JSON.stringify({ 0: ["variables.file"] }));
  form.append("0", new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.filename);
  const response = await fetch(url, {
    method: "POST",
    // a multipart POST is a "simple" request: it needs the CSRF-prevention header
    headers: {
      accept: "application/graphql-response+json, application/json",
      [CSRF_HEADER]: "1",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: form,
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as GqlResponse };
  } catch {
    throw new Error(`upload: HTTP ${response.status}, not JSON: ${text}`);
  }
}

/** The `extensions.code` of the first error (or undefined). */
export const errorCode = (result: GqlResponse) => result.errors?.[0]?.extensions?.code;

/** The `extensions` of the first error (or undefined), for `toMatchObject({ code, field })`. */
export const ext = (result: GqlResponse) => result.errors?.[0]?.extensions;

export interface TestUser {
  id: string;
  username: string;
  accessToken: string;
  refreshToken: string;
}

/** Operations against one server as a user: `run` resolves the whole response (like {@link gql}), `ok` only `data` and fails on errors (like {@link gqlOk}). */
export interface UserOps {
  run(user: TestUser, query: string, variables?: Record<string, unknown>): Promise<GqlResponse>;
  ok(user: TestUser, query: string, variables?: Record<string, unknown>): Promise<any>;
}

/** {@link UserOps} against the server at `url`, each sent with the user's access token. */
export const on = (url: string): UserOps => ({
  run: (user, query, variables = {}) => gql(url, query, variables, user.accessToken),
  ok: (user, query, variables = {}) => gqlOk(url, query, variables, user.accessToken),
});

/** The password {@link registerUser} gives every user. */
export const TEST_PASSWORD = "correct horse battery";

let counter = 0;
/** Registers a user with a unique name (email `<username>@example.com`) through the real `register` mutation. */
export async function registerUser(url: string, prefix = "user"): Promise<TestUser> {
  const username = `${prefix}_${process.pid}_${++counter}_${Math.floor(Math.random() * 1e6)}`.slice(0, 32);
  const data = await gqlOk(
    url,
    `mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken user { id username } } }`,
    { input: { username, email: `${username}@example.com`, password: TEST_PASSWORD, firstName: prefix, lastName: "Test" } },
  );
  return { id: data.register.user.id, username, accessToken: data.register.accessToken, refreshToken: data.register.refreshToken };
}

/** Registers one user per name, concurrently; resolves them in the same order. */
export function registerUsers<const Names extends readonly string[]>(url: string, names: Names): Promise<{ [K in keyof Names]: TestUser }> {
  return Promise.all(names.map((n) => registerUser(url, n))) as Promise<{ [K in keyof Names]: TestUser }>;
}

/**
 * A graphql-ws client (graphql-transport-ws) that authenticates with `token` in
 * connection_init. `wsUrl` may be a function, asked again on every (re)connect
 * (a load balancer's choice of node).
 */
export function wsClient(wsUrl: ClientOptions["url"], token?: string, options: Partial<ClientOptions> = {}): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
    // tests observe closes themselves; graphql-ws would console.error them
    onNonLazyError: () => {},
    ...options,
  });
}

/** `promise`, or a rejection naming `what` after `ms` (a bound on "at once", not a sleep). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A {@link wsClient} of `user` at `wsUrl`, once the server has acknowledged it (their presence is recorded by then). */
export function connected(wsUrl: string, user: TestUser): Promise<Client> {
  return new Promise((resolve) => {
    const client = wsClient(wsUrl, user.accessToken, { on: { connected: () => resolve(client) } });
  });
}

/**
 * A live subscription that records everything it gets, in the manner of
 * graphql-ws's own test client (tclient's `waitForMessage`): `events` keeps every
 * `next` payload in order, and `next`/`nextWhere` read forward from a cursor
 * (waiting up to `timeoutMs`, 5000 ms by default, then rejecting).
 */
export interface Subscription<T = any> {
  /** Every `next` payload so far, in order (including those already taken by `next`). */
  events: GqlResponse<T>[];
  /** The first event after the cursor (moves the cursor past it). */
  next(timeoutMs?: number): Promise<GqlResponse<T>>;
  /** The first event after the cursor that satisfies `match`, skipping the others (moves the cursor past it). */
  nextWhere(match: (event: GqlResponse<T>) => boolean, timeoutMs?: number): Promise<GqlResponse<T>>;
  /** The events after the cursor, taken now (moves the cursor to the end; all of them once `ended` has resolved). */
  drain(): GqlResponse<T>[];
  /** Resolves with what the error sink got: a GraphQLError list, or a CloseEvent. */
  error: Promise<unknown>;
  /** Resolves when the server completes the subscription. */
  completed: Promise<void>;
  isCompleted(): boolean;
  /** Resolves when the subscription ends: the server completed it, ended it with an error, or the socket closed. */
  ended: Promise<void>;
  /** Waits until the subscription has ended with an error, and gives its code (`extensions.code` or `close:<code>`). */
  errorCode(timeoutMs?: number): Promise<string | undefined>;
  stop(): void;
}

/** Starts `query` on `client` as a {@link Subscription} (any operation type); `extensions` go into the subscribe payload. */
export function subscribe<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
  extensions?: Record<string, unknown>,
): Subscription<T> {
  const events: GqlResponse<T>[] = [];
  const { notify, waitFor } = changes();
  let done = false;
  let hasError = false;
  let errorValue: unknown;
  let onError!: (e: unknown) => void;
  const error = new Promise<unknown>((resolve) => (onError = resolve));
  let onComplete!: () => void;
  const completed = new Promise<void>((resolve) => (onComplete = resolve));
  let onEnd!: () => void;
  const ended = new Promise<void>((resolve) => (onEnd = resolve));
  const stop = client.subscribe<T>(
    { query, variables, ...(extensions ? { extensions } : {}) },
    {
      next: (value) => {
        events.push(value as GqlResponse<T>);
        notify();
      },
      error: (e) => {
        hasError = true;
        errorValue = e;
        onError(e);
        onEnd();
        notify();
      },
      complete: () => {
        done = true;
        onComplete();
        onEnd();
        notify();
      },
    },
  );
  let cursor = 0;
  const sub: Subscription<T> = {
    events,
    error,
    completed,
    ended,
    isCompleted: () => done,
    stop,
    drain: () => {
      const taken = events.slice(cursor);
      cursor = events.length;
      return taken;
    },
    next: async (timeoutMs = 5000) => {
      if (!(await waitFor(() => events.length > cursor, timeoutMs))) throw new Error(`no event within ${timeoutMs} ms`);
      return events[cursor++]!;
    },
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

/**
 * Repeats `action` every `intervalMs` until `subscription` delivers an event,
 * and returns that event. The protocol has no "subscribed" acknowledgement, so
 * this is how a test knows a subscription is live (on every node) without a sleep.
 * Fails after `timeoutMs`.
 */
export async function untilReceived<T>(
  subscription: Subscription<T>,
  action: () => Promise<unknown>,
  intervalMs = 100,
  timeoutMs = 10_000,
): Promise<GqlResponse<T>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await action();
    try {
      return await subscription.next(intervalMs);
    } catch {
      // nothing yet: the subscription is not registered everywhere; try again
    }
  }
  throw new Error(`subscription received nothing within ${timeoutMs} ms`);
}

/**
 * {@link untilReceived}, then skips whatever else has arrived (the answers to
 * further warm-up actions), so the cursor of `subscription` is past the warm-up.
 */
export async function warmUp(
  subscription: Subscription,
  action: () => Promise<unknown>,
  intervalMs?: number,
  timeoutMs?: number,
): Promise<void> {
  await untilReceived(subscription, action, intervalMs, timeoutMs);
  subscription.drain();
}
