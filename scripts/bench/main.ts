/**
 * `npm run bench`: the fan-out and write benchmark. Brings the compiled server
 * (dist/, scripts/build.mjs) up to date with src/, creates a database of its own
 * (chat_bench_<hex>), lets a first server migrate it, seeds users, sessions
 * and rooms with bulk SQL, runs the scenarios (scenarios.ts, writes.ts) with
 * load from separate client processes against our server as `npm start` runs
 * it, writes bench-results/latest.json and latest.md (printed too, with the
 * performance targets, met or not), then drops the database and this run's Redis keys.
 *
 *   npm run bench                          # every scenario, full sizes (≈ 20 min on 2 idle cores)
 *   npm run bench -- --quick               # small N (200 / 1000; many-rooms 100 × 5 @ 50 msg/s), ≈ 2–3 min
 *   npm run bench -- --scenario idle       # one scenario (repeat or comma-separate for more):
 *                                          # fanout-1node, fanout-2nodes, many-rooms, idle, writes, sync, shards
 *   npm run bench -- --scenario shards     # 1,000 rooms × 5 on two nodes at 200 msg/s, against one Redis and against a
 *                                          # 3-primary Redis Cluster (sharded pub/sub) started for the run: deliveries/s,
 *                                          # latency and each Redis process's CPU (--shards 2000x5@200/2 for another shape)
 *   npm run bench -- --scenario sync       # one user in 500 rooms, 50 of them with 5 new messages: sync's latency
 *                                          # (initial and incremental, p50/p99 over 50 runs) and statements per sync
 *   npm run bench -- --clients 4           # client processes per run (default 4)
 *   npm run bench -- --out bench-results   # where results go
 *   npm run bench -- --stacks ours         # only these stacks (default ours,ceiling,naive)
 *   BENCH_SUBSCRIPTION_SHARING=memo npm run bench …
 *                                          # `ours` on the path before fan-out groups (SUBSCRIPTION_SHARING=memo)
 *   BENCH_MY_EVENTS=1 npm run bench …      # every subscriber socket also subscribes to myEvents (RoomActivity of
 *                                          # each message in its rooms); the log gives the frames and CPU ms per message
 *   npm run bench -- --n 2000,4000         # other N for fanout-1node, fanout-2nodes and idle
 *   npm run bench -- --many-rooms 1000x5@200,1x5000@4/2
 *                                          # other many-rooms configurations, <rooms>x<per room>@<msg/s>[/<nodes>]
 *                                          # (default 2000x5@200, 2000x5@200/2, 1x10000@2 and 1x10000@2/2: 2,000
 *                                          # rooms × 5 subscribers at 200 msg/s and one room of 10,000 at 2 msg/s, each
 *                                          # on one node and on two; quick: 100x5@50); each for 20 s (quick: 5 s), p99 target 50 ms
 *                                          # (one room: 100 ms); ceiling and naive on one node only
 *
 * Bounded: every run has fixed counts and timeouts, children exit on their own
 * after a hard timeout, and the whole run is killed (children SIGKILLed,
 * database dropped) after 45 min (quick: 10 min, for cores shared with other
 * work). Needs PostgreSQL and Redis (TEST_DATABASE_URL / TEST_REDIS_URL as for
 * the tests; defaults: local).
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { REDIS_URL } from "../../test/helpers/env.js";
import { buildServer } from "../build.mjs";
import type { Load } from "./fanout.js";
import { killAll, machineBusyPct, OUR_SERVER, openFilesLimit, ROOT, startServer } from "./procs.js";
import { type BenchResults, fanoutRatios, writeResults } from "./report.js";
import {
  type BenchContext,
  type FanoutRun,
  fanoutSeries,
  type IdleRun,
  idleRun,
  manyRoomsSeries,
  manyRoomsTargets,
  newRedisPrefix,
  parseManyRooms,
  type Stack,
} from "./scenarios.js";
import { createBenchDatabase, seed } from "./seed.js";
import { type ShardsRun, shardsScenario } from "./shards.js";
import { type SyncRun, syncScenario } from "./sync.js";
import { type WritesRun, writesScenario, writesTargets } from "./writes.js";

const SCENARIOS = ["fanout-1node", "fanout-2nodes", "many-rooms", "idle", "writes", "sync", "shards"] as const;

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    scenario: { type: "string", multiple: true },
    clients: { type: "string", default: "4" },
    out: { type: "string", default: "bench-results" },
    n: { type: "string" },
    "many-rooms": { type: "string", multiple: true },
    shards: { type: "string" },
    stacks: { type: "string" },
  },
});
const quick = args.quick!;
const selected = new Set((args.scenario ?? [...SCENARIOS]).flatMap((s) => s.split(",")).map((s) => s.trim()));
for (const s of selected)
  if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; one of ${SCENARIOS.join(", ")}`);
const clients = Math.max(1, Number(args.clients));

/** File descriptors a server needs besides its sockets (pools, Redis, stdio, tsx…). */
const FD_HEADROOM = 300;
const fdLimit = openFilesLimit();
const maxSockets = fdLimit - FD_HEADROOM;
const cap = (n: number) => Math.min(n, maxSockets);

/** What a many-rooms configuration takes unless given: seconds of paced sends, sends in flight at most, the p99 target (ms; the one for small rooms). */
const manyRoomsDefaults = { durationS: quick ? 5 : 20, maxInFlight: 32 };

/** Scenario parameters; quick: small N for a smoke run. Messages per N keep each run well under a minute. */
const params = {
  clients,
  connectConcurrency: 200,
  /** M = deliveryBudget ÷ N messages per burst, within [10, 50]; `concurrency` sends in flight. */
  fanout: { subscribers: quick ? [200, 1000] : [1000, 5000, 10000], deliveryBudget: quick ? 20_000 : 100_000, concurrency: 4 },
  fanout2nodes: { subscribers: quick ? [1000] : [1000, 5000, 10000] },
  /** Each configuration a series (ours; on one node also ceiling and naive); --many-rooms replaces them. */
  manyRooms: (quick ? ["100x5@50"] : ["2000x5@200", "2000x5@200/2", "1x10000@2", "1x10000@2/2"]).map((spec) =>
    parseManyRooms(spec, manyRoomsDefaults),
  ),
  idle: {
    connections: quick ? [200, 1000] : [5000, 10000, 50000],
    timing: quick ? { beforeMs: 2000, afterMs: 2000 } : { beforeMs: 3000, afterMs: 10_000 },
  },
  /** `count.low` messages per side at concurrency 1, `count.high` above, each level and side stopped after `timeCapMs`. */
  writes: {
    concurrency: [1, 2, 4, 8, 16, 32, 64],
    count: quick ? { low: 50, high: 150 } : { low: 400, high: 1500 },
    timeCapMs: quick ? 2000 : 10_000,
  },
  /** One viewer in `rooms` rooms, `changed` of them with `perRoom` new messages; `runs` timed incremental syncs (500 rooms, 50 changed: the sync target's sizes). */
  sync: { rooms: 500, changed: 50, perRoom: 5, runs: quick ? 20 : 50 },
  /** The shards scenario's load, on one Redis and on a 3-primary cluster (shards.ts). */
  shards: parseManyRooms(args.shards ?? (quick ? "100x5@50/2" : "1000x5@200/2"), manyRoomsDefaults),
  stacks: (args.stacks?.split(",").map((s) => s.trim()) ?? ["ours", "ceiling", "naive"]) as Stack[],
};
for (const s of params.stacks)
  if (!["ours", "ceiling", "naive"].includes(s)) throw new Error(`unknown stack ${s}; --stacks takes ours, ceiling, naive`);
if (args.n) {
  const ns = args.n.split(",").map(Number);
  if (ns.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--n takes positive integers: ${args.n}`);
  params.fanout.subscribers = params.fanout2nodes.subscribers = params.idle.connections = ns;
}
if (args["many-rooms"])
  params.manyRooms = args["many-rooms"].flatMap((s) => s.split(",")).map((spec) => parseManyRooms(spec, manyRoomsDefaults));
/** Messages of a fan-out burst to N subscribers. */
const messagesFor = (n: number) => Math.min(50, Math.max(10, Math.round(params.fanout.deliveryBudget / n)));
const HARD_TIMEOUT_MS = quick ? 10 * 60_000 : 45 * 60_000;

const started = Date.now();
const loadAtStart = Math.round(os.loadavg()[0]! * 100) / 100;
let busyAtStart = 0;
const log = (line: string) => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const notes: string[] = [];
const failures: string[] = [];

let cleanup: (() => Promise<void>) | null = null;
process.on("exit", killAll);
let aborting = false;
const abort = async (why: string, code: number) => {
  if (aborting) return;
  aborting = true;
  console.error(`[bench] ${why}: stopping every child process`);
  killAll();
  await Promise.race([cleanup?.(), new Promise((done) => setTimeout(done, 10_000))]).catch(() => {});
  process.exit(code);
};
process.on("SIGINT", () => void abort("SIGINT", 130));
process.on("uncaughtException", (e, origin) => {
  // a pg connection cut by the DROP DATABASE … WITH (FORCE) of the clean-up (57P01 admin_shutdown) is expected
  if ((e as { code?: string }).code === "57P01") return;
  void abort(`${origin}: ${e.stack ?? e}`, 1);
});
// a closed pipe (`npm run bench | head`) must not kill the run halfway
process.stdout.on("error", () => {});
process.on("SIGTERM", () => void abort("SIGTERM", 143));
setTimeout(() => void abort(`hard timeout of ${HARD_TIMEOUT_MS / 60_000} min`, 1), HARD_TIMEOUT_MS).unref();

/** Deletes every Redis key under `prefix` (this run's presence and typing state). */
async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  busyAtStart = await machineBusyPct();
  log(
    `scenarios: ${[...selected].join(", ")}${quick ? " (quick)" : ""}; ${clients} client processes; ulimit -n ${fdLimit}; machine ${busyAtStart}% busy`,
  );
  if (busyAtStart > 20)
    notes.push(
      `The machine was ${busyAtStart}% busy before the run (all ${os.cpus().length} CPUs, /proc/stat): other processes shared the cores, so the numbers are noisier and lower than on an idle machine.`,
    );
  if (fdLimit < Math.max(...params.idle.connections) + FD_HEADROOM) {
    notes.push(
      `ulimit -n is ${fdLimit} (\`npm run bench\` raises the soft limit to the hard one; a higher hard limit needs root with CAP_SYS_RESOURCE): a server can hold about ${maxSockets} sockets, so larger N are capped to that.`,
    );
  }

  const build = await buildServer();
  log(build.built ? `built dist/ (the server as \`npm start\` runs it) in ${build.ms} ms` : "dist/ is up to date with src/");
  const db = await createBenchDatabase();
  const redisPrefix = newRedisPrefix();
  cleanup = async () => {
    killAll();
    await db.drop().catch((e) => console.error(`[bench] could not drop ${db.name}: ${e}`));
    await dropRedisKeys(redisPrefix).catch(() => {});
  };
  const jwtSecret = randomBytes(32).toString("hex");
  const fanout: FanoutRun[] = [];
  const idle: IdleRun[] = [];
  let writes: WritesRun[] = [];
  let sync: SyncRun | undefined;
  let shards: ShardsRun[] = [];
  try {
    log(`database ${db.name}: migrating (first server start)`);
    const migrator = await startServer(
      "migrate",
      OUR_SERVER,
      { DATABASE_URL: db.url, REDIS_URL, REDIS_KEY_PREFIX: `${redisPrefix}migrate:`, JWT_SECRET: jwtSecret },
      120_000,
    );
    await migrator.stop();

    const need = Math.max(
      selected.has("fanout-1node") ? Math.max(...params.fanout.subscribers) : 0,
      selected.has("fanout-2nodes") ? Math.max(...params.fanout2nodes.subscribers) : 0,
      selected.has("many-rooms") ? Math.max(...params.manyRooms.map((m) => m.rooms * m.perRoom)) : 0,
      selected.has("idle") ? Math.max(...params.idle.connections.map(cap)) : 0,
      selected.has("sync") ? 1 : 0,
      selected.has("shards") ? params.shards.rooms * params.shards.perRoom : 0,
    );
    const roomSets = [...(selected.has("many-rooms") ? params.manyRooms : []), ...(selected.has("shards") ? [params.shards] : [])];
    log(
      `seeding ${need} users with sessions and tokens${roomSets.length ? `, room sets ${roomSets.map((m) => `${m.rooms} × ${m.perRoom}`).join(", ")}` : ""}`,
    );
    const seedStarted = Date.now();
    const data = await seed(db.url, jwtSecret, {
      users: need,
      roomSets,
      writers: Math.max(...params.writes.concurrency),
      syncRooms: selected.has("sync") ? params.sync.rooms : 0,
    });
    log(`seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);
    const ctx: BenchContext = {
      databaseUrl: db.url,
      jwtSecret,
      redisPrefix,
      data,
      clients,
      connectConcurrency: params.connectConcurrency,
      childTimeoutMs: HARD_TIMEOUT_MS,
      log,
    };

    const burst = (n: number): Load => ({
      kind: "burst",
      room: data.bigRoom,
      messages: messagesFor(n),
      concurrency: params.fanout.concurrency,
    });
    const fanoutNs = params.fanout.subscribers.map(cap);
    if (selected.has("fanout-1node")) {
      // ours first; with the idle scenario selected it also gives the idle figures at these N
      for (const stack of params.stacks)
        fanout.push(
          ...(await fanoutSeries(
            ctx,
            "fanout-1node",
            stack,
            1,
            fanoutNs,
            burst,
            stack === "ours" && selected.has("idle") ? params.idle.timing : undefined,
          )),
        );
    }
    if (selected.has("fanout-2nodes")) {
      const ns = params.fanout2nodes.subscribers.map(cap);
      // the one-node figures to compare with, unless fanout-1node measured them already
      const missing = ns.filter((n) => !fanout.some((r) => r.scenario === "fanout-1node" && r.stack === "ours" && r.subscribers === n));
      if (missing.length) fanout.push(...(await fanoutSeries(ctx, "fanout-1node", "ours", 1, missing, burst)));
      fanout.push(...(await fanoutSeries(ctx, "fanout-2nodes", "ours", 2, ns, burst)));
    }
    if (selected.has("many-rooms")) {
      for (const config of params.manyRooms) fanout.push(...(await manyRoomsSeries(ctx, config, params.stacks)));
    }
    if (selected.has("idle")) {
      for (const requested of params.idle.connections) {
        const n = cap(requested);
        const measured = fanout.find((r) => r.scenario === "fanout-1node" && r.stack === "ours" && r.subscribers === n && r.idle)?.idle;
        idle.push(measured ? { ...measured, requested } : await idleRun(ctx, requested, n, params.idle.timing));
      }
    }
    if (selected.has("writes")) {
      const w = params.writes;
      writes = await writesScenario(ctx, w.concurrency, (c) => (c === 1 ? w.count.low : w.count.high), w.timeCapMs);
    }
    if (selected.has("sync")) sync = await syncScenario(ctx, params.sync);
    if (selected.has("shards")) shards = await shardsScenario(ctx, params.shards);
  } finally {
    await cleanup();
    cleanup = null;
  }

  let fatal = false;
  const fail = (message: string, isFatal = true) => {
    failures.push(message);
    fatal ||= isFatal;
  };
  for (const r of fanout) {
    // the naive baseline breaking down under load is a finding, not a failure of the run
    const fatalHere = r.stack !== "naive" || Boolean(r.error);
    if (r.error) fail(`${r.scenario} ${r.stack} N=${r.subscribers}: ${r.error.split("\n")[0]}`, fatalHere);
    else if (r.result && (r.result.missing > 0 || r.result.sendErrors > 0))
      fail(
        `${r.scenario} ${r.stack} N=${r.subscribers}: ${r.result.missing} deliveries missing, ${r.result.sendErrors} send errors${r.result.sendErrorSample ? ` (${r.result.sendErrorSample})` : ""}`,
        fatalHere,
      );
    if (r.serverErrors)
      fail(
        `${r.scenario} ${r.stack} N=${r.subscribers}: the server logged ${r.serverErrors.length} distinct error(s), first: ${r.serverErrors[0]!.slice(0, 400)}`,
        fatalHere,
      );
    if (r.setup && r.setup.failed > 0)
      fail(
        `${r.scenario} ${r.stack} N=${r.subscribers}: ${r.setup.failed} sockets failed to subscribe (${r.setup.errors.join(" | ")})`,
        fatalHere,
      );
  }
  for (const r of idle) if (r.error) fail(`idle N=${r.connections}: ${r.error.split("\n")[0]}`);
  for (const r of writes)
    if (r.error || r.ours?.errors || r.raw?.errors)
      fail(
        `writes c=${r.concurrency}: ${r.error ?? `${r.ours?.errors ?? 0} / ${r.raw?.errors ?? 0} errors (${r.ours?.errorSample ?? r.raw?.errorSample})`}`,
      );
  if (sync?.error) fail(`sync: ${sync.error.split("\n")[0]}`);
  for (const { backend, run } of shards)
    if (run.error || run.serverErrors || (run.result && (run.result.missing > 0 || run.result.sendErrors > 0)))
      fail(
        `shards ${backend}: ${run.error?.split("\n")[0] ?? `${run.result?.missing ?? 0} deliveries missing, ${run.result?.sendErrors ?? 0} send errors${run.serverErrors ? `, the server logged: ${run.serverErrors[0]!.slice(0, 400)}` : ""}`}`,
      );
  if (sync?.serverErrors?.length)
    fail(`sync: the server logged ${sync.serverErrors.length} distinct error(s), first: ${sync.serverErrors[0]!.slice(0, 400)}`);
  for (const r of writes)
    if (r.serverErrors)
      fail(
        `writes c=${r.concurrency}: the server logged ${r.serverErrors.length} distinct error(s), first: ${r.serverErrors[0]!.slice(0, 400)}`,
      );
  if (fanout.some((r) => r.manyRooms)) {
    notes.push(
      `Many rooms: room r's subscribers are users r·perRoom … (one socket and one messageAdded subscription each, spread over ${clients} client processes); ` +
        `the bench process sends open loop at the configured rate for ${manyRoomsDefaults.durationS} s, rooms round robin, to node 1, at most ${manyRoomsDefaults.maxInFlight} sends in flight ` +
        "(delayed sends: sends that waited for one, i.e. the server did not keep up). Each stack runs on fresh server(s) with the same sockets and load.",
    );
  }
  const oursHeaps = [
    ...fanout.filter((r) => r.stack !== "ceiling").flatMap((r) => r.memory?.heapUsedBytes ?? []),
    ...idle.map((r) => r.heapUsedAfterBytes),
  ];
  if (oursHeaps.length > 0 && oursHeaps.every((h) => h == null)) {
    notes.push(
      "Our server's /metrics has no nodejs_heap_size_used_bytes (prom-client default metrics): heap columns are n/a for it; memory per connection is from RSS (/proc/<pid>/status VmRSS), which includes freed-but-unreturned memory.",
    );
  }
  const frames = new Map(
    fanout.filter((r) => r.result?.frameBytes && r.scenario === "fanout-1node").map((r) => [r.stack, r.result!.frameBytes!]),
  );
  if (frames.size > 1) notes.push(`Frame sizes per delivery (bytes): ${[...frames].map(([s, b]) => `${s} ${b}`).join(", ")}.`);
  if (fanout.some((r) => r.load.kind === "burst"))
    notes.push(
      `Fan-out load: a burst of M messages (${params.fanout.subscribers.map((n) => `M=${messagesFor(n)} for N=${n}`).join(", ")}), ${params.fanout.concurrency} sends in flight, from the bench process; ` +
        `subscribers spread over ${clients} client processes, connected ${params.connectConcurrency} handshakes at a time. ` +
        `Each stack's N values are one series on the same server(s), growing the subscribers (setup s: connecting the added ones, not measured).`,
    );

  if (writes.length) {
    notes.push(
      `Writes: lane i of c sends to its own room (no queueing on one room's row lock), ${params.writes.count.low} messages at c=1 and ${params.writes.count.high} above, at most ${params.writes.timeCapMs / 1000} s per level and side; ` +
        "the raw baseline runs in the bench process (no HTTP, no GraphQL, no transaction or seq bump): one INSERT … RETURNING * on a 10-connection pg Pool and one PUBLISH of the row's JSON with ioredis. " +
        "Ours CPU ms/send: the server process's CPU over the level ÷ messages it answered.",
    );
  }
  const results: BenchResults = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    argv: process.argv.slice(2),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "?",
      totalMemBytes: os.totalmem(),
      node: process.version,
      platform: os.platform(),
      release: os.release(),
      openFilesLimit: fdLimit,
      loadAvgAtStart: loadAtStart,
      busyPctAtStart: busyAtStart,
      loadAvgAtEnd: Math.round(os.loadavg()[0]! * 100) / 100,
    },
    params: { quick, scenarios: [...selected], maxSocketsPerServer: maxSockets, ...params },
    fanout,
    ratios: fanoutRatios(fanout),
    idle,
    writes,
    sync,
    shards,
    targets: { writes: writesTargets(writes), manyRooms: manyRoomsTargets(fanout) },
    notes,
    failures,
  };
  const md = writeResults(resolve(ROOT, args.out!), results);
  console.log(`\n${md}`);
  log(`results in ${args.out}/latest.json and latest.md`);
  if (fatal) process.exitCode = 1;
}

main().then(
  () => process.exit(),
  async (e) => {
    console.error(e);
    await abort("failed", 1);
  },
);
