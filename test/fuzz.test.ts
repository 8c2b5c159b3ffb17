/**
 * Hostile input, property-based (fast-check): random and malformed operations,
 * variables, cursors, IDs, Unicode edge cases, 5,001-character content,
 * malformed query strings and HTTP requests, and malformed graphql-ws frames,
 * thrown at one running server for a bounded time. Every answer must be a
 * well-formed GraphQL result or error (no 5xx, no masked "Unexpected error."),
 * nothing may be logged at error level, a refused mutation writes nothing, valid
 * content round-trips exactly, hostile sockets end with a graphql-ws close code,
 * no property leaves the heap larger than its bound, and afterwards the server
 * still serves others.
 *
 * The runs are seeded: FUZZ_SEED=<n> replays another seed (fast-check prints the
 * seed and the path of a failure). Inputs that once broke the server are kept as
 * `examples`, tried first on every run.
 */
import { Writable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CSRF_HEADER } from "../src/security/csrf.js";
import {
  type Caller,
  CONTENT_LIMIT,
  type Frame,
  frames,
  malformedQuery,
  malformedRequest,
  messageContent,
  operation,
  type RawRequest,
  type Targets,
  TEMPLATES,
} from "./fuzz/arbitraries.js";
import { ALLOWED_CLOSE_CODES, fingerprint, wellFormed } from "./fuzz/oracle.js";
import { gqlOk, subscribe, untilReceived, wsClient } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const MiB = 2 ** 20;
type Property = "operations" | "queries" | "requests" | "unicode" | "frames";
/** Time budget of each property, in ms (about 45 s in all). */
const BUDGET_MS: Record<Property, number> = { operations: 15_000, queries: 6_000, requests: 6_000, unicode: 8_000, frames: 10_000 };
/**
 * Most runs of each property, about what a fast machine makes within its budget,
 * so that the requests made, and the heap they leave (below), do not grow with the
 * speed of the machine or of the server.
 */
const MAX_RUNS: Record<Property, number> = { operations: 4_000, queries: 3_000, requests: 2_000, unicode: 1_000, frames: 5_000 };
/**
 * How much each property may grow the heap, after a full GC before and after it, in
 * bytes. At MAX_RUNS (seed 20261201) the growth was: operations 10–11 MiB (JIT code
 * and first-use caches, ~7 MiB of it in the first 500 runs, then under 0.2 KiB a run);
 * queries 102 MiB, all of it Yoga's parse caches (LRU, 1,024 entries each, documents
 * of up to MAX_QUERY_TOKENS with their token lists): parse errors ~42 KiB each, full
 * after ~1,900 runs; parsed documents with their validation errors ~150 KiB each, not
 * full (~390 distinct in 3,000 runs), so this one grows with the runs, not per request;
 * requests, unicode and frames −2 to 1.2 MiB. A leak of ~1.5 KiB a run (operations,
 * frames), ~4 KiB a request or ~8 KiB a query crosses its limit: sockets closed while
 * their token was checked, kept for good (2.7 KiB each, fixed), grew frames by 14.3 MiB.
 */
const HEAP_GROWTH_LIMIT: Record<Property, number> = {
  operations: 16 * MiB,
  queries: 128 * MiB,
  requests: 8 * MiB,
  unicode: 8 * MiB,
  frames: 8 * MiB,
};

const errorLines: string[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split("\n").filter(Boolean))
      if ((JSON.parse(line) as { level: number }).level >= 50) errorLines.push(line);
    done();
  },
});

// rate limits (RATE_LIMITS, src/limits/) would refuse the fuzzer's hundreds of sends per minute: not what is tested here
const {
  server,
  users: [alice, bob, mallory],
} = useTestServer(["alice", "bob", "mallory"], { logTo: sink, env: { RATE_LIMITS: "off" } });

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

/** Runs per property, what came back, and the heap growth it left in MiB (for the report printed at the end). */
const figures: Partial<Record<Property, { runs: number; outcomes: Record<string, number>; heapGrowthMiB?: number }>> = {};
const count = (property: Property, outcome: string) => {
  const f = (figures[property] ??= { runs: 0, outcomes: {} });
  f.runs += 1;
  f.outcomes[outcome] = (f.outcomes[outcome] ?? 0) + 1;
};

const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id content } }`;

/** Inputs that broke the server once (found by this test), tried first on every run. */
const regressions = {
  /** A Prisma cursor with a number where the UUID id goes (`GPC:N:1`): the database refused it, "Unexpected error.". */
  operations: [
    {
      query: TEMPLATES.find((t) => t.query.includes("notifications("))!.query,
      variables: { after: "R1BDOk46MQ==" } as Record<string, unknown>,
      caller: "member" as Caller,
    },
    // an anonymous subscription over HTTP: its subscribe read the missing viewer (TypeError), HTTP 500
    { query: "subscription { myEvents { __typename } }", variables: {}, caller: "anonymous" as Caller },
  ],
  /** ~2,400 nested selections: graphql-js' parser overflowed the stack, HTTP 500 (graphql-armor's token limit stops it, src/limits/). */
  queries: [`${"{ me ".repeat(2400)}${"}".repeat(2400)}`],
  /** GET parameters that are not JSON: Yoga's GET parser threw a SyntaxError, HTTP 500. */
  requests: [
    { method: "GET", contentType: null, body: null, search: "?query={me{id}}&variables=nope", csrf: true },
    { method: "GET", contentType: null, body: null, search: "?query={me{id}}&extensions={", csrf: true },
  ] as RawRequest[],
  /**
   * A lone surrogate, and NUL: PostgreSQL refused the text, "Unexpected error.".
   * 5,000 4-byte emoji: refused as over 5,000 characters (they were counted in UTF-16 units); 5,001: refused.
   */
  unicode: ["\ud800", "a\u0000b", "😀".repeat(CONTENT_LIMIT), "😀".repeat(CONTENT_LIMIT + 1)],
  /** A client sending a server-only message: graphql-ws failed in its handler and closed with 4500. */
  frames: [[`{"type":"connection_ack"}`], [`{"type":"next","id":"1","payload":{}}`]],
};
let targets: Targets;
let heapBefore: number;
/** The heap when the current property started (after a full GC), in bytes. */
let heapAtStart: number;

beforeAll(async () => {
  const room = (
    await gqlOk(
      server.url,
      `mutation($m: [ID!]) { createRoom(input: { name: "Fuzz", type: GROUP, memberIds: $m }) { id } }`,
      { m: [bob.id] },
      alice.accessToken,
    )
  ).createRoom.id;
  const otherRoom = (
    await gqlOk(server.url, `mutation { createRoom(input: { name: "Mallory's", type: GROUP }) { id } }`, {}, mallory.accessToken)
  ).createRoom.id;
  const publicRoom = (
    await gqlOk(server.url, `mutation { createRoom(input: { name: "Lobby", type: PUBLIC }) { id } }`, {}, bob.accessToken)
  ).createRoom.id;
  const message = (await gqlOk(server.url, SEND, { input: { roomId: room, content: "hello @bob" } }, alice.accessToken)).sendMessage.id;
  const otherMessage = (await gqlOk(server.url, SEND, { input: { roomId: otherRoom, content: "mine" } }, mallory.accessToken)).sendMessage
    .id;
  targets = { roomId: room, ids: [room, otherRoom, publicRoom, message, otherMessage, alice.id, bob.id, mallory.id] };
  heapBefore = heapUsed();
});

// each property answers for the error lines logged while it ran, and for the heap it left
beforeEach(() => {
  errorLines.length = 0;
  heapAtStart = heapUsed();
});

/** Checks the heap growth (after a full GC) since the current property started against its {@link HEAP_GROWTH_LIMIT}, and reports it. */
function expectHeapWithinLimit(property: Property) {
  const growth = heapUsed() - heapAtStart;
  figures[property]!.heapGrowthMiB = Number((growth / MiB).toFixed(1));
  expect(growth, `${property} left the heap ${(growth / MiB).toFixed(1)} MiB larger`).toBeLessThan(HEAP_GROWTH_LIMIT[property]);
}

afterAll(() => {
  console.info(`fuzz (seed ${SEED}): ${JSON.stringify(figures)}`);
});

const bearer: Record<Caller, () => string | undefined> = {
  member: () => `Bearer ${alice.accessToken}`,
  outsider: () => `Bearer ${mallory.accessToken}`,
  anonymous: () => undefined,
  garbage: () => "Bearer eyJhbGciOiJub25lIn0.e30.",
};

/** POSTs a JSON GraphQL request (with the CSRF header, as a browser client would) and checks the answer is well formed. */
async function post(body: unknown, authorization?: string) {
  const response = await fetch(server.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      [CSRF_HEADER]: "1",
      ...(authorization ? { authorization } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await wellFormed(response) };
}

/**
 * The fast-check parameters of one property: the seed, a time budget, regression
 * examples. No shrinking (endOnFailure): shrinking a large input (a 12,000-character
 * query) has no time bound; the failing input is reported as it was generated.
 */
const params = <T>(property: Property, examples: T[] = []): fc.Parameters<T> => ({
  seed: SEED,
  numRuns: MAX_RUNS[property],
  examples,
  endOnFailure: true,
  plugins: [fc.interruptAfterTimeLimit(BUDGET_MS[property])],
});

describe("hostile input (fast-check)", () => {
  it("operations of the schema with fuzzed arguments: well-formed answers, and a refused mutation writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(operation(targets), async ({ query, variables, caller }) => {
        const mutation = /^mutation/.test(query) ? /\{\s*(\w+)/.exec(query)![1]! : null;
        const before = mutation ? await fingerprint(server.app.db) : null;
        const { status, body } = await post({ query, variables }, bearer[caller]());
        const refused = !body || body.errors?.length || !mutation || body.data?.[mutation] == null;
        count("operations", `${status} ${body?.errors?.[0]?.extensions?.code ?? (body?.errors ? "other error" : "ok")}`);
        if (mutation && refused) expect(await fingerprint(server.app.db), `${mutation} was refused but wrote`).toBe(before);
      }),
      params(
        "operations",
        regressions.operations.map((op) => [op] as [typeof op]),
      ),
    );
    expect(errorLines).toEqual([]);
    expectHeapWithinLimit("operations");
  });

  it("malformed query strings: well-formed errors, no 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(malformedQuery, async (query) => {
        const { status, body } = await post({ query }, bearer.member());
        count("queries", `${status} ${body?.errors?.[0]?.extensions?.code ?? (body?.errors ? "other error" : "ok")}`);
      }),
      params(
        "queries",
        regressions.queries.map((q) => [q] as [string]),
      ),
    );
    expect(errorLines).toEqual([]);
    expectHeapWithinLimit("queries");
  });

  it("malformed HTTP requests (bodies, content types, methods): well-formed answers, no 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(malformedRequest, async (req: RawRequest) => {
        const withBody = req.method !== "GET" && req.body !== null;
        const response = await fetch(server.url + req.search, {
          method: req.method,
          headers: {
            ...(req.contentType ? { "content-type": req.contentType } : {}),
            ...(req.csrf ? { [CSRF_HEADER]: "1" } : {}),
            authorization: bearer.member()!,
          },
          body: withBody ? req.body : undefined,
        });
        const body = await wellFormed(response);
        count(
          "requests",
          `${response.status} ${body?.errors?.[0]?.extensions?.code ?? (body?.errors ? "other error" : body ? "ok" : "not json")}`,
        );
      }),
      params(
        "requests",
        regressions.requests.map((r) => [r] as [RawRequest]),
      ),
    );
    expect(errorLines).toEqual([]);
    expectHeapWithinLimit("requests");
  });

  it("Unicode content: valid content round-trips exactly; the rest is BAD_USER_INPUT on input.content and writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(messageContent, async (content) => {
        const before = await fingerprint(server.app.db);
        const { body } = await post({ query: SEND, variables: { input: { roomId: targets.roomId, content } } }, bearer.member());
        const expected = content.trim();
        const valid = expected.length > 0 && [...expected].length <= CONTENT_LIMIT && expected.isWellFormed() && !expected.includes("\0");
        count("unicode", valid ? "stored" : "refused");
        if (!valid) {
          expect(body?.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.content" });
          expect(await fingerprint(server.app.db)).toBe(before);
          return;
        }
        expect(body?.errors).toBeUndefined();
        const sent = body!.data.sendMessage as { id: string; content: string };
        const stored = await server.app.db.message.findUniqueOrThrow({ where: { id: sent.id } });
        const read = (
          await gqlOk(
            server.url,
            `query($r: ID!) { messages(roomId: $r, first: 1) { edges { node { id content } } } }`,
            { r: targets.roomId },
            bob.accessToken,
          )
        ).messages.edges[0].node;
        expect(read.id).toBe(sent.id);
        for (const got of [sent.content, stored.content, read.content])
          expect(Buffer.from(got, "utf8").equals(Buffer.from(expected, "utf8"))).toBe(true);
      }),
      params(
        "unicode",
        regressions.unicode.map((c) => [c] as [string]),
      ),
    );
    expect(errorLines).toEqual([]);
    expectHeapWithinLimit("unicode");
  });

  it("malformed graphql-ws frames: the socket ends with a graphql-ws close code (or lives on), and the server serves others", async () => {
    const watcher = wsClient(server.wsUrl, bob.accessToken);
    const live = subscribe(watcher, `subscription($r: ID!) { messageAdded(roomId: $r) { content } }`, { r: targets.roomId });
    const init = JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${alice.accessToken}` } });
    await fc.assert(
      fc.asyncProperty(frames(init), async (sequence) => {
        const outcome = await throwFrames(sequence);
        count("frames", outcome === "alive" ? "alive" : `close ${outcome}`);
        if (outcome !== "alive") expect(ALLOWED_CLOSE_CODES, `closed with ${outcome}`).toContain(outcome);
      }),
      params(
        "frames",
        regressions.frames.map((f) => [f] as [Frame[]]),
      ),
    );
    // the other socket still gets its events
    const event = await untilReceived(live, () =>
      gqlOk(server.url, SEND, { input: { roomId: targets.roomId, content: "still here" } }, alice.accessToken),
    );
    expect(event.data.messageAdded.content).toBe("still here");
    await watcher.dispose();
    expect(errorLines).toEqual([]);
    expectHeapWithinLimit("frames");
  });

  it("afterwards the server still answers", async () => {
    expect((await gqlOk(server.url, `{ me { id } }`, {}, alice.accessToken)).me.id).toBe(alice.id);
    console.info(
      `fuzz heap: ${(heapBefore / MiB).toFixed(1)} MiB before, growth ${((heapUsed() - heapBefore) / MiB).toFixed(1)} MiB in all`,
    );
  });
});

/**
 * Opens a raw graphql-transport-ws socket, sends `sequence`, then a ping; resolves
 * "alive" when the pong comes back (and closes the socket), or the close code
 * when the server closed it first.
 */
function throwFrames(sequence: Frame[]): Promise<number | "alive"> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
    const timer = setTimeout(() => reject(new Error("no pong and no close within 5 s")), 5000);
    let alive = false;
    socket.on("open", () => {
      for (const frame of sequence) socket.send(frame, { binary: typeof frame !== "string" });
      socket.send(JSON.stringify({ type: "ping", payload: { probe: true } }));
    });
    socket.on("message", (data) => {
      if (String(data).includes(`"probe":true`)) {
        alive = true;
        socket.close(1000);
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", (code) => {
      clearTimeout(timer);
      resolve(alive ? "alive" : code);
    });
  });
}
