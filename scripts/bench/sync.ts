/**
 * The sync scenario: one user (subscriber 0) in `rooms` rooms (seed.ts syncRooms, and the big room)
 * takes an initial sync, then `changed` of those rooms get `perRoom` new messages
 * each (sendMessage over HTTP, from the sender); `sync(since: <the initial
 * cursor>)` is then timed `runs` times in a row (request → answer, over HTTP,
 * after a few unmeasured), each answering the same `changed` rooms. The initial
 * sync (every room) is timed too. Statements per sync: a second server at
 * LOG_LEVEL=trace logs each SQL statement with the request's id (app.ts);
 * one incremental sync with its own x-request-id is counted there.
 * Units: latency in ms; response size in bytes.
 */
import { randomUUID } from "node:crypto";
import { REDIS_URL } from "../../test/helpers/env.js";
import { graphqlSender } from "./fanout.js";
import { OUR_SERVER, type ServerProcess, startServer } from "./procs.js";
import { type BenchContext, startStack } from "./scenarios.js";
import { type LatencySummary, summarizeSamples } from "./stats.js";

/** The sizes of the sync scenario. */
export interface SyncParams {
  rooms: number;
  changed: number;
  perRoom: number;
  runs: number;
}

export interface SyncRun {
  params: SyncParams;
  initial?: { latency: LatencySummary; rooms: number; bytes: number };
  incremental?: { latency: LatencySummary; rooms: number; messages: number; bytes: number };
  /** SQL statements of one incremental sync (null when they could not be counted). */
  statements?: number | null;
  serverErrors?: string[];
  error?: string;
}

/** The selection timed: what a client restoring its room list and their newest messages asks. */
const SYNC_QUERY = `query($since: String) { sync(since: $since) {
  rooms { room { id name type } messages { id content sender { id displayName } } limited previousCursor unreadCount lastSeq messageCursor }
  leftRooms { roomId reason }
  invites { id room { name } }
  nextCursor
} }`;

const WARM_UP = 5;

/** One sync as `token`; resolves with the answer's data, its size and its latency (ms). */
async function syncOnce(url: string, token: string, since: string | null, requestId?: string) {
  const t = performance.now();
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...(requestId ? { "x-request-id": requestId } : {}) },
    body: JSON.stringify({ query: SYNC_QUERY, variables: { since } }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const ms = performance.now() - t;
  const body = JSON.parse(text) as { data?: { sync: { nextCursor: string; rooms: { messages: unknown[] }[] } }; errors?: unknown[] };
  if (!response.ok || body.errors || !body.data) throw new Error(`sync ${response.status}: ${text.slice(0, 300)}`);
  return { sync: body.data.sync, bytes: text.length, ms };
}

/** Times `runs` syncs (after {@link WARM_UP} unmeasured), checking each answers `rooms` rooms. */
async function timed(url: string, token: string, since: string | null, runs: number, rooms: number) {
  for (let i = 0; i < WARM_UP; i++) await syncOnce(url, token, since);
  const samples: number[] = [];
  let last!: Awaited<ReturnType<typeof syncOnce>>;
  for (let i = 0; i < runs; i++) {
    last = await syncOnce(url, token, since);
    if (last.sync.rooms.length !== rooms) throw new Error(`sync answered ${last.sync.rooms.length} rooms, expected ${rooms}`);
    samples.push(last.ms);
  }
  return { latency: summarizeSamples(samples), last };
}

/** Counts the SQL statements the server at LOG_LEVEL=trace logs for the request `requestId` (its `sql` lines). */
function statementCounter(server: ServerProcess): (requestId: string) => number {
  const counts = new Map<string, number>();
  let partial = "";
  server.child.stdout!.on("data", (d) => {
    const parts = (partial + d).split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      if (!line.includes('"msg":"sql"')) continue;
      const id = /"requestId":"([^"]+)"/.exec(line)?.[1];
      if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  });
  return (requestId) => counts.get(requestId) ?? 0;
}

/** Runs the sync scenario (see the file's comment). */
export async function syncScenario(ctx: BenchContext, params: SyncParams): Promise<SyncRun> {
  const run: SyncRun = { params };
  const viewer = ctx.data.users[0]!;
  const rooms = ctx.data.syncRooms;
  let server: ServerProcess | undefined;
  let tracing: ServerProcess | undefined;
  try {
    [server] = await startStack(ctx, "ours");
    ctx.log(`sync: ${rooms.length} rooms; timing the initial sync`);
    // the viewer is in the seed's big room too
    const initial = await timed(server!.url, viewer.token, null, Math.min(params.runs, 20), rooms.length + 1);
    run.initial = { latency: initial.latency, rooms: initial.last.sync.rooms.length, bytes: initial.last.bytes };
    const cursor = initial.last.sync.nextCursor;

    const send = graphqlSender(server!.url, ctx.data.sender.token);
    const sends = rooms
      .slice(0, params.changed)
      .flatMap((r) => Array.from({ length: params.perRoom }, (_, k) => () => send(r, `sync bench ${k}`)));
    // eight in flight, each room's messages in order
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        for (let i = lane; i < sends.length; i += 8) await sends[i]!();
      }),
    );
    ctx.log(`sync: ${params.changed} rooms got ${params.perRoom} messages each; timing ${params.runs} incremental syncs`);
    const incremental = await timed(server!.url, viewer.token, cursor, params.runs, params.changed);
    run.incremental = {
      latency: incremental.latency,
      rooms: incremental.last.sync.rooms.length,
      messages: incremental.last.sync.rooms.reduce((n, r) => n + r.messages.length, 0),
      bytes: incremental.last.bytes,
    };
    run.serverErrors = server!.takeErrors();
    await server!.kill();
    server = undefined;

    // the statements of one incremental sync, on a server that logs each (trace), with the background sweeps slowed
    tracing = await startServer("ours-trace", OUR_SERVER, {
      DATABASE_URL: ctx.databaseUrl,
      REDIS_URL,
      REDIS_KEY_PREFIX: `${ctx.redisPrefix}sync-trace:`,
      JWT_SECRET: ctx.jwtSecret,
      RATE_LIMITS: "off",
      LOG_LEVEL: "trace",
      EXPIRY_SWEEP_MS: "60000",
    });
    const count = statementCounter(tracing);
    await syncOnce(tracing.url, viewer.token, cursor); // once unmeasured: nothing one-off is counted
    const requestId = `bench-sync-${randomUUID()}`;
    await syncOnce(tracing.url, viewer.token, cursor, requestId);
    await new Promise((done) => setTimeout(done, 200)); // the log lines are flushed asynchronously
    run.statements = count(requestId) || null;
    ctx.log(
      `sync: initial (${run.initial.rooms} rooms) p50 ${run.initial.latency.p50Ms} ms p99 ${run.initial.latency.p99Ms} ms; ` +
        `incremental (${run.incremental.rooms} rooms, ${run.incremental.messages} messages, ${run.incremental.bytes} B) p50 ${run.incremental.latency.p50Ms} ms p99 ${run.incremental.latency.p99Ms} ms; ${run.statements} statements`,
    );
  } catch (e) {
    run.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    ctx.log(`sync: FAILED ${run.error.split("\n")[0]}`);
  } finally {
    await server?.kill();
    await tracing?.kill();
  }
  return run;
}
