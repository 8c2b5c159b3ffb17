/**
 * `npm run soak`: two nodes under a steady message load while faults are
 * injected on a schedule (issue 19, part 2), then pass criteria checked.
 *
 *   npm run soak -- --minutes 10           # the full soak (docs/security.md "5. Faults" has its figures)
 *   npm run soak -- --minutes 1            # what CI runs (.ci/run)
 *   npm run soak -- --rate 40 --rooms 200  # sends per second over all rooms; rooms (3 clients each)
 *   npm run soak -- --fault-period 10      # seconds between two scheduled faults (default: scaled to the duration)
 *   npm run soak -- --outage 1000          # ms Redis / PostgreSQL stay down in their fault
 *
 * Set-up: the compiled server (dist/, brought up to date with src/ first), two
 * nodes started as the bench starts them (scripts/bench/procs.ts: with
 * --expose-gc, for heap readings after a forced GC) on a Redis and a
 * PostgreSQL of the soak's own (test/helpers/dedicated-*.ts: they are killed
 * and restarted; the shared ones never are), PRESENCE_TTL_MS=--presence-ttl,
 * rate limits on. Users, sessions and rooms are seeded with bulk SQL
 * (scripts/bench/seed.ts). Each room r has three members, each a resuming
 * client (test/helpers/resuming.ts: graphql-ws reconnecting by itself,
 * resubscribing to messageAdded with `after:` its last seq) from seq 0: one
 * on node A, one on node B, and one through a balancer alternating between the
 * nodes on every connect.
 *
 * Load: `--rate` sendMessage per second, over the rooms in turn, each by one of
 * the room's two node-bound members in turn, over HTTP to node A and B in turn;
 * each send has its own clientMessageId, kept across its retries: a retry of a
 * send that committed but whose answer was lost returns the stored message.
 * A send is retried (up to {@link SEND_RETRY_BUDGET_MS}) on SERVICE_UNAVAILABLE,
 * on RATE_LIMITED (after its retryAfter) and when no answer came (connection
 * refused or reset, {@link SEND_TIMEOUT_MS} timeout: then through the other node);
 * any other answer is unexpected and not retried.
 *
 * Faults, after a warm-up without any: every `--fault-period` s the next of
 * Redis killed (SIGKILL) and started again empty, PostgreSQL stopped (pg_ctl
 * stop: connections terminated) and started again, node B SIGKILLed and started
 * again (node A is never killed: its heap is the one bounded); and every
 * {@link CUT_PERIOD_MS} one random client's socket cut (terminated without a
 * close frame). No fault is started in the last {@link QUIET_TAIL_MS}.
 *
 * Pass criteria, once the load has stopped and every client has caught up (or
 * {@link DRAIN_TIMEOUT_MS} ran out):
 * - every client received exactly the room's stored messages (read from
 *   PostgreSQL), in seq order: 0 lost (every send answered OK among them),
 *   0 duplicated, 0 out of order; the stored seqs are 1…n; no two OK answers
 *   name the same message;
 * - no send was answered anything but OK, SERVICE_UNAVAILABLE or RATE_LIMITED;
 * - node A's heap after a forced GC grew by less than {@link HEAP_BOUND_MB} MB
 *   from the end of the warm-up to after the load, and Redis' used_memory by
 *   less than {@link REDIS_BOUND_MB} MB (both are also read after each round of
 *   the three faults, for the trend in the report);
 * - presence converged: after the clients of every other room have left, every
 *   user still connected is ONLINE and every other one OFFLINE as `user(id)
 *   { status }` answers on both nodes, within 2 × PRESENCE_TTL_MS + 5 s.
 * Prints a JSON report; exits 1 when a criterion failed.
 */
import { randomBytes, randomUUID } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { type DedicatedPostgres, startDedicatedPostgres } from "../test/helpers/dedicated-postgres.js";
import { type DedicatedRedis, startDedicatedRedis } from "../test/helpers/dedicated-redis.js";
import { type ResumingSubscriber, resumingSubscriber } from "../test/helpers/resuming.js";
import { forcedGcHeapBytes, killAll, machineBusyPct, OUR_SERVER, type ServerProcess, sleep, startServer } from "./bench/procs.js";
import { type BenchUser, seed } from "./bench/seed.js";
import { buildServer } from "./build.mjs";

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    rate: { type: "string", default: "40" },
    rooms: { type: "string", default: "200" },
    "fault-period": { type: "string" },
    outage: { type: "string", default: "1000" },
    "presence-ttl": { type: "string", default: "6000" },
  },
});
const num = (name: keyof typeof args, min: number) => {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value < min) throw new Error(`--${name} takes a number ≥ ${min}: ${args[name]}`);
  return value;
};
const DURATION_MS = num("minutes", 0.25) * 60_000;
const RATE = num("rate", 0.1);
const ROOMS = Math.round(num("rooms", 1));
const OUTAGE_MS = num("outage", 0);
const PRESENCE_TTL_MS = num("presence-ttl", 1000);

/** Load without faults at the start (the heap and Redis baselines are read at its end), in ms. */
const WARM_UP_MS = Math.min(15_000, DURATION_MS * 0.15);
/** No fault starts this close to the end of the load, in ms. */
const QUIET_TAIL_MS = Math.min(10_000, DURATION_MS * 0.1);
/** Between two scheduled faults, in ms: each of the three seen at least once in the fault window, at most every 10 s. */
const FAULT_PERIOD_MS = args["fault-period"]
  ? num("fault-period", 1) * 1000
  : Math.max(3000, Math.min(10_000, (DURATION_MS - WARM_UP_MS - QUIET_TAIL_MS) / 4));
/** Between two socket cuts, in ms. */
const CUT_PERIOD_MS = 3000;
/** One send attempt without an answer by then counts as no answer, in ms. */
const SEND_TIMEOUT_MS = 10_000;
/** A send is given up (its outcome unknown) when not answered OK within this, in ms. */
const SEND_RETRY_BUDGET_MS = 60_000;
/** Pause before retrying a send after SERVICE_UNAVAILABLE or no answer, in ms. */
const SEND_RETRY_WAIT_MS = 250;
/** Sends in flight at most; a tick beyond it is skipped (and counted). */
const MAX_IN_FLIGHT = 500;
/** How long the clients may take to catch up after the load, in ms. */
const DRAIN_TIMEOUT_MS = 60_000;
/** Bound on node A's heap growth (after a forced GC) from the warm-up to after the load, in MB. */
const HEAP_BOUND_MB = 16;
/** Bound on Redis' used_memory growth from the warm-up to after the load, in MB. */
const REDIS_BOUND_MB = 4;
/** The error codes README documents as retryable (src/errors.ts). */
const RETRYABLE = new Set(["SERVICE_UNAVAILABLE", "RATE_LIMITED"]);

const started = Date.now();
const log = (line: string) => console.log(`[soak ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const MB = (bytes: number | null) => (bytes === null ? null : Math.round((bytes / 2 ** 20) * 10) / 10);

let cleanup: () => Promise<void> = async () => {};
let aborting = false;
const abort = async (why: string, code: number) => {
  if (aborting) return;
  aborting = true;
  console.error(`[soak] ${why}: stopping`);
  await Promise.race([cleanup(), sleep(15_000)]).catch(() => {});
  process.exit(code);
};
process.on("exit", killAll);
process.on("SIGINT", () => void abort("SIGINT", 130));
process.on("SIGTERM", () => void abort("SIGTERM", 143));
process.on("uncaughtException", (e, origin) => void abort(`${origin}: ${e.stack ?? e}`, 1));
setTimeout(() => void abort("hard timeout", 1), DURATION_MS + 10 * 60_000).unref();

/** One attempt's outcome: OK with the message, a documented retryable code, no answer, or anything else. */
type Attempt =
  | { kind: "ok"; id: string; seq: number }
  | { kind: "retryable"; code: string; retryAfterMs: number }
  | { kind: "no answer"; reason: string }
  | { kind: "unexpected"; what: string };

/** POSTs one sendMessage to `url` as `token`; never throws. */
async function attemptSend(url: string, token: string, roomId: string, key: string): Promise<Attempt> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: `mutation($r: ID!, $k: String!) { sendMessage(input: { roomId: $r, content: $k, clientMessageId: $k }) { id seq } }`,
        variables: { r: roomId, k: key },
      }),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (e) {
    const err = e as { name?: string; cause?: { code?: string } };
    return { kind: "no answer", reason: err.cause?.code ?? err.name ?? String(e) };
  }
  let body: {
    data?: { sendMessage?: { id: string; seq: number } | null } | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: "unexpected", what: `HTTP ${response.status}: ${text.slice(0, 200)}` };
  }
  const sent = body.data?.sendMessage;
  if (sent && !body.errors?.length) return { kind: "ok", id: sent.id, seq: sent.seq };
  const error = body.errors?.[0];
  const code = String(error?.extensions?.code ?? "");
  if (RETRYABLE.has(code)) return { kind: "retryable", code, retryAfterMs: Number(error?.extensions?.retryAfter ?? 0) * 1000 };
  return { kind: "unexpected", what: `HTTP ${response.status}: ${JSON.stringify(body.errors ?? body).slice(0, 300)}` };
}

/** One room's members: the sender (OWNER, only reads presence) excluded. */
interface Room {
  id: string;
  /** [node A's client, node B's client, the balanced one] */
  members: [BenchUser, BenchUser, BenchUser];
  clients: ResumingSubscriber[];
}

async function main(): Promise<number> {
  log(
    `${DURATION_MS / 60_000} min, ${RATE} sends/s over ${ROOMS} rooms; warm-up ${WARM_UP_MS / 1000} s, a fault every ${FAULT_PERIOD_MS / 1000} s, a socket cut every ${CUT_PERIOD_MS / 1000} s`,
  );
  const busyAtStart = await machineBusyPct();
  const build = await buildServer();
  log(build.built ? `built dist/ in ${build.ms} ms` : "dist/ is up to date with src/");
  let redis: DedicatedRedis | null = null;
  let postgres: DedicatedPostgres | null = null;
  const nodes: ServerProcess[] = [];
  const clients: ResumingSubscriber[] = [];
  cleanup = async () => {
    await Promise.all(clients.map((c) => c.dispose().catch(() => {})));
    killAll();
    await redis?.stop();
    await postgres?.remove();
  };
  process.on("exit", () => void redis?.stop()); // its kill is synchronous
  [redis, postgres] = await Promise.all([startDedicatedRedis(), startDedicatedPostgres()]);
  const jwtSecret = randomBytes(32).toString("hex");
  const env = {
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: "soak:",
    JWT_SECRET: jwtSecret,
    PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
  };
  nodes.push(await startServer("node-a", OUR_SERVER, env)); // migrates the empty database
  nodes.push(await startServer("node-b", OUR_SERVER, env));
  const data = await seed(postgres.url, jwtSecret, {
    users: ROOMS * 3,
    roomSets: [{ rooms: ROOMS, perRoom: 3 }],
    writers: 0,
    syncRooms: 0,
  });
  const rooms: Room[] = data.roomSets[`${ROOMS}x3`]!.map((id, r) => ({
    id,
    members: data.users.slice(r * 3, r * 3 + 3) as Room["members"],
    clients: [],
  }));

  // the clients, from seq 0; retrying without end (each is disposed at the end)
  let balanced = 0;
  for (const room of rooms) {
    const [onA, onB, viaEither] = room.members;
    room.clients = [
      resumingSubscriber(() => nodes[0]!.wsUrl, { accessToken: onA.token }, room.id, 0, Infinity),
      resumingSubscriber(() => nodes[1]!.wsUrl, { accessToken: onB.token }, room.id, 0, Infinity),
      resumingSubscriber(() => nodes[balanced++ % 2]!.wsUrl, { accessToken: viaEither.token }, room.id, 0, Infinity),
    ];
    clients.push(...room.clients);
  }
  log(`${nodes.length} nodes, ${rooms.length} rooms, ${clients.length} clients`);

  // the load
  const answers: Record<string, number> = {};
  const unexpected: string[] = [];
  const okSends: { key: string; id: string; retried: boolean }[] = [];
  let attempted = 0;
  let abandoned = 0;
  let skipped = 0;
  let retriedOk = 0;
  const inFlight = new Set<Promise<void>>();
  const send = async (room: Room, n: number) => {
    const key = randomUUID();
    const token = room.members[n % 2]!.token;
    let node = n % 2;
    const deadline = Date.now() + SEND_RETRY_BUDGET_MS;
    for (let attempt = 1; ; attempt++) {
      const result = await attemptSend(nodes[node]!.url, token, room.id, key);
      const label = result.kind === "retryable" ? result.code : result.kind === "no answer" ? `no answer (${result.reason})` : result.kind;
      answers[label] = (answers[label] ?? 0) + 1;
      if (result.kind === "ok") {
        okSends.push({ key, id: result.id, retried: attempt > 1 });
        if (attempt > 1) retriedOk++;
        return;
      }
      if (result.kind === "unexpected") {
        if (unexpected.length < 10) unexpected.push(result.what);
        return;
      }
      if (Date.now() > deadline) {
        abandoned++;
        return;
      }
      if (result.kind === "no answer") node = 1 - node; // as a balancer would
      await sleep(result.kind === "retryable" ? Math.max(SEND_RETRY_WAIT_MS, result.retryAfterMs) : SEND_RETRY_WAIT_MS);
    }
  };
  let sending = true;
  const loadStarted = Date.now();
  const sender = (async () => {
    for (let n = 0; sending; n++) {
      await sleep(Math.max(0, loadStarted + (n * 1000) / RATE - Date.now()));
      if (inFlight.size >= MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      attempted++;
      const p = send(rooms[n % rooms.length]!, Math.floor(n / rooms.length));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  })();

  await sleep(WARM_UP_MS);
  const redisUsed = async () => {
    const client = new Redis(redis!.url, { maxRetriesPerRequest: 3, lazyConnect: true });
    try {
      await client.connect();
      return Number(/used_memory:(\d+)/.exec(await client.info("memory"))?.[1] ?? Number.NaN);
    } finally {
      client.disconnect();
    }
  };
  const heapAtWarmUp = await forcedGcHeapBytes(nodes[0]!);
  const redisAtWarmUp = await redisUsed();
  /** Node A's heap after a forced GC and Redis' used_memory after each round of faults. */
  const memorySeries: { atS: number; nodeAHeapMB: number | null; redisMB: number | null }[] = [];
  log(`warm-up done: node A heap ${MB(heapAtWarmUp)} MB, Redis used_memory ${MB(redisAtWarmUp)} MB; faults start`);

  // the fault schedule
  const faults: { fault: string; at: number; recoveredMs: number; error?: string }[] = [];
  const ready = async (node: ServerProcess) =>
    fetch(node.url.replace("/graphql", "/ready"), { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
  const untilReady = async () => {
    const deadline = Date.now() + 30_000;
    while (!(await ready(nodes[0]!)) || !(await ready(nodes[1]!))) {
      if (Date.now() > deadline) throw new Error("a node not ready 30 s after the fault");
      await sleep(100);
    }
  };
  const schedule: [string, () => Promise<void>][] = [
    [
      "redis-restart",
      async () => {
        await redis!.stop();
        await sleep(OUTAGE_MS);
        await redis!.start();
      },
    ],
    [
      "postgres-restart",
      async () => {
        await postgres!.stop();
        await sleep(OUTAGE_MS);
        await postgres!.start();
      },
    ],
    [
      "node-b-kill",
      async () => {
        await nodes[1]!.kill();
        nodes[1] = await startServer("node-b", OUR_SERVER, env);
      },
    ],
  ];
  let cuts = 0;
  const cutter = setInterval(() => {
    clients[Math.floor(Math.random() * clients.length)]!.cut();
    cuts++;
  }, CUT_PERIOD_MS);
  const faultsEnd = loadStarted + DURATION_MS - QUIET_TAIL_MS;
  for (let f = 0; Date.now() < faultsEnd; f++) {
    const [fault, inject] = schedule[f % schedule.length]!;
    const at = Date.now();
    try {
      await inject();
      await untilReady();
      faults.push({ fault, at: Math.round((at - loadStarted) / 1000), recoveredMs: Date.now() - at });
    } catch (e) {
      faults.push({ fault, at: Math.round((at - loadStarted) / 1000), recoveredMs: Date.now() - at, error: String(e) });
    }
    log(`${fault}: back in ${faults.at(-1)!.recoveredMs} ms${faults.at(-1)!.error ? ` (${faults.at(-1)!.error})` : ""}`);
    if (f % schedule.length === schedule.length - 1) {
      // after each round of the three: the trend between the warm-up and the end
      memorySeries.push({
        atS: Math.round((Date.now() - loadStarted) / 1000),
        nodeAHeapMB: MB(await forcedGcHeapBytes(nodes[0]!)),
        redisMB: MB(await redisUsed()),
      });
      log(`node A heap ${memorySeries.at(-1)!.nodeAHeapMB} MB, Redis used_memory ${memorySeries.at(-1)!.redisMB} MB`);
    }
    await sleep(Math.max(0, Math.min(at + FAULT_PERIOD_MS, faultsEnd) - Date.now()));
  }
  clearInterval(cutter);
  await sleep(Math.max(0, loadStarted + DURATION_MS - Date.now()));
  sending = false;
  await sender;
  log(`load stopped: ${attempted} sends started, waiting for ${inFlight.size} in flight`);
  await Promise.all(inFlight);

  // what is stored, and the clients caught up with it
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  const stored = new Map<string, { id: string; seq: number; clientMessageId: string }[]>(rooms.map((r) => [r.id, []]));
  try {
    const { rows } = await db.query<{ roomId: string; id: string; seq: number; clientMessageId: string }>(
      `SELECT "roomId", id, seq, "clientMessageId" FROM "Message" ORDER BY "roomId", seq`,
    );
    for (const row of rows) stored.get(row.roomId)?.push(row);
  } finally {
    await db.end();
  }
  const caughtUp = () => rooms.every((r) => r.clients.every((c) => c.received.length >= stored.get(r.id)!.length));
  const drainDeadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (!caughtUp() && Date.now() < drainDeadline) await sleep(250);
  log(caughtUp() ? "every client caught up" : `not every client caught up within ${DRAIN_TIMEOUT_MS} ms`);
  const heapAfter = await forcedGcHeapBytes(nodes[0]!);
  const heapBAfter = await forcedGcHeapBytes(nodes[1]!);
  const redisAfter = await redisUsed();

  // delivery: each client against its room's stored messages
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let notStored = 0;
  let gaps = 0;
  const clientErrors: unknown[] = [];
  let reconnects = 0;
  const okIds = new Set(okSends.map((s) => s.id));
  const storedIds = new Set<string>();
  for (const room of rooms) {
    const messages = stored.get(room.id)!;
    gaps += messages.filter((m, i) => m.seq !== i + 1).length;
    for (const m of messages) storedIds.add(m.id);
    for (const client of room.clients) {
      const seen = new Map<string, number>();
      for (const m of client.received) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
      lost += messages.filter((m) => !seen.has(m.id)).length;
      duplicated += [...seen.values()].reduce((sum, count) => sum + count - 1, 0);
      outOfOrder += client.received.filter((m, i) => i > 0 && m.seq <= client.received[i - 1]!.seq).length;
      notStored += [...seen.keys()].filter((id) => !messages.some((m) => m.id === id)).length;
      reconnects += client.connections.length - 1;
      if (client.errors.length && clientErrors.length < 5) clientErrors.push(...client.errors.slice(0, 1));
    }
  }
  const okNotStored = [...okIds].filter((id) => !storedIds.has(id)).length;

  // presence: the clients of every other room leave; the others stay
  const leaving = rooms.filter((_, r) => r % 2 === 1);
  await Promise.all(leaving.flatMap((r) => r.clients.map((c) => c.dispose())));
  const expected = new Map<string, "ONLINE" | "OFFLINE">([[data.sender.userId, "OFFLINE"]]);
  rooms.forEach((room, r) => {
    for (const member of room.members) expected.set(member.userId, r % 2 === 1 ? "OFFLINE" : "ONLINE");
  });
  const statusOf = async (node: ServerProcess, userId: string) => {
    const response = await fetch(node.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${data.sender.token}` },
      body: JSON.stringify({ query: `query($id: ID!) { user(id: $id) { status } }`, variables: { id: userId } }),
    });
    return ((await response.json()) as { data?: { user?: { status?: string } } }).data?.user?.status ?? "?";
  };
  const presenceMismatches = async () => {
    const wrong: string[] = [];
    const users = [...expected];
    for (let i = 0; i < users.length; i += 25)
      await Promise.all(
        users.slice(i, i + 25).flatMap(([userId, status]) =>
          nodes.map(async (node) => {
            const actual = await statusOf(node, userId);
            if (actual !== status) wrong.push(`${node.label} ${userId}: ${actual}, expected ${status}`);
          }),
        ),
      );
    return wrong;
  };
  const presenceStarted = Date.now();
  const presenceDeadline = presenceStarted + 2 * PRESENCE_TTL_MS + 5000;
  let wrong = await presenceMismatches();
  while (wrong.length && Date.now() < presenceDeadline) {
    await sleep(500);
    wrong = await presenceMismatches();
  }
  const presenceMs = Date.now() - presenceStarted;

  const heapGrowthMB = MB(heapAfter! - heapAtWarmUp!)!;
  const redisGrowthMB = MB(redisAfter - redisAtWarmUp)!;
  const failures: string[] = [];
  if (lost || duplicated || outOfOrder || notStored || gaps || okNotStored)
    failures.push(
      `delivery: ${lost} lost, ${duplicated} duplicated, ${outOfOrder} out of order, ${notStored} not stored, ${gaps} seq gaps, ${okNotStored} OK sends not stored`,
    );
  if (new Set(okSends.map((s) => s.id)).size !== okSends.length) failures.push("two OK sends name the same message");
  if (unexpected.length || answers.unexpected) failures.push(`${answers.unexpected} sends answered something undocumented`);
  if (!(heapGrowthMB < HEAP_BOUND_MB)) failures.push(`node A heap grew ${heapGrowthMB} MB (bound ${HEAP_BOUND_MB})`);
  if (!(redisGrowthMB < REDIS_BOUND_MB)) failures.push(`Redis used_memory grew ${redisGrowthMB} MB (bound ${REDIS_BOUND_MB})`);
  if (wrong.length) failures.push(`presence: ${wrong.length} statuses wrong after ${presenceMs} ms`);
  for (const f of faults.filter((f) => f.error)) failures.push(`${f.fault} at ${f.at} s: ${f.error}`);
  for (const [fault] of schedule) if (!faults.some((f) => f.fault === fault)) failures.push(`${fault} never injected`);

  const report = {
    command: `npm run soak -- --minutes ${DURATION_MS / 60_000} --rate ${RATE} --rooms ${ROOMS}`,
    machine: { cpus: os.cpus().length, busyPctBeforeStart: busyAtStart, loadAverage1mAtEnd: Math.round(os.loadavg()[0]! * 100) / 100 },
    load: {
      sendsPerS: RATE,
      rooms: ROOMS,
      clients: clients.length,
      durationS: DURATION_MS / 1000,
      warmUpS: WARM_UP_MS / 1000,
      presenceTtlMs: PRESENCE_TTL_MS,
    },
    sends: {
      started: attempted,
      ok: okSends.length,
      retriedThenOk: retriedOk,
      abandoned,
      unexpected: answers.unexpected ?? 0,
      skippedTicks: skipped,
      answers,
    },
    unexpectedSamples: unexpected,
    faults: {
      periodS: FAULT_PERIOD_MS / 1000,
      outageMs: OUTAGE_MS,
      socketCuts: cuts,
      count: Object.fromEntries(schedule.map(([fault]) => [fault, faults.filter((f) => f.fault === fault).length])),
      maxRecoveredMs: Object.fromEntries(
        schedule.map(([fault]) => [fault, Math.max(0, ...faults.filter((f) => f.fault === fault).map((f) => f.recoveredMs))]),
      ),
    },
    delivery: {
      storedMessages: storedIds.size,
      deliveriesExpected: [...stored.values()].reduce((sum, m) => sum + m.length, 0) * 3,
      lost,
      duplicated,
      outOfOrder,
      notStored,
      seqGaps: gaps,
      okSendsNotStored: okNotStored,
      reconnects,
      subscriptionErrors: clientErrors,
    },
    memory: {
      nodeAHeapMB: { warmUp: MB(heapAtWarmUp), after: MB(heapAfter), growth: heapGrowthMB, bound: HEAP_BOUND_MB },
      nodeBHeapAfterMB: MB(heapBAfter),
      afterEachRound: memorySeries,
      redisUsedMemoryMB: { warmUp: MB(redisAtWarmUp), after: MB(redisAfter), growth: redisGrowthMB, bound: REDIS_BOUND_MB },
    },
    presence: {
      users: expected.size,
      wrong: wrong.length,
      wrongSample: wrong.slice(0, 5),
      convergedInMs: wrong.length ? null : presenceMs,
    },
    failures,
    pass: failures.length === 0,
  };
  console.log(JSON.stringify(report, null, 2));
  return failures.length ? 1 : 0;
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  (e) => void abort(`failed: ${e.stack ?? e}`, 1),
);
