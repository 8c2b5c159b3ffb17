/**
 * The subscription scenarios (writes are in writes.ts). A series starts fresh
 * server process(es) and a fresh client fleet, then for each N (ascending)
 * grows the subscribers to N, waits until the server(s) count every
 * subscription (`chat_subscriptions_active` on /metrics), and measures; then
 * kills everything (SIGKILL: shutdown is not under test). Stacks: `ours`, `ceiling` (raw-server.ts) and `naive`
 * (ours with SUBSCRIPTION_SHARING=off).
 * - fanout-1node / fanout-2nodes: one room × N subscribers on one node, or
 *   split round robin over two (one DB, one Redis prefix, one JWT secret),
 *   a burst of messages sent to node 1;
 * - many-rooms: one series per {@link ManyRoomsConfig} (rooms × perRoom
 *   subscribers, a paced send rate over the rooms, on one node or more), each
 *   with the naive and ceiling stacks too when on one node; {@link manyRoomsTargets};
 * - idle: N connections with one subscription each, server memory per
 *   connection (heap from /metrics, RSS from /proc); measured in the
 *   fanout-1node `ours` series before each burst, or in a run of its own.
 * A run that throws is recorded with `error` and the scenario goes on.
 * Units: ms, bytes, % of one core.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import { REDIS_URL } from "../../test/helpers/env.js";
import { ClientFleet, type SocketSpec } from "./clients.js";
import { type FanoutMeasurement, graphqlSender, type Load, measureFanout, rawSender, type Sender } from "./fanout.js";
import {
  CEILING_SERVER,
  cpuMs,
  forcedGcHeapBytes,
  heapUsedBytes,
  OUR_SERVER,
  rssBytes,
  type ServerProcess,
  sleep,
  startServer,
  waitForMetric,
} from "./procs.js";
import { type BenchData, type RoomShape, roomSetKey } from "./seed.js";
import type { Target } from "./stats.js";

export type Stack = "ours" | "ceiling" | "naive";

/** What every scenario needs from main.ts. */
export interface BenchContext {
  databaseUrl: string;
  jwtSecret: string;
  /** Prefix of every Redis key prefix this run uses (`bench:<id>:`), for the clean-up. */
  redisPrefix: string;
  data: BenchData;
  /** Client processes per run. */
  clients: number;
  /** Socket handshakes in flight over the whole fleet. */
  connectConcurrency: number;
  /** Hard limit on any child process's life, ms. */
  childTimeoutMs: number;
  log(line: string): void;
  /**
   * The Redis our servers use, when not the shared one (REDIS_URL): `env` goes
   * into each server's environment (REDIS_URL or REDIS_CLUSTER_NODES), and the
   * CPU of each of `processes` is measured over a fan-out window beside the
   * servers' (shards.ts).
   */
  redis?: { env: Record<string, string>; processes: CpuWatched[] };
}

/** A local process whose CPU a measurement reads (/proc/<pid>/stat), by label. */
export type CpuWatched = Pick<ServerProcess, "label" | "pid">;

/** How connecting a batch of sockets went (ms from its first handshake until the server(s) count it). */
export interface Setup {
  /** Sockets opened in this batch (a series adds only what the previous N did not have). */
  added: number;
  connectMs: number;
  opened: number;
  failed: number;
  errors: string[];
  /** `chat_subscriptions_active` summed over the nodes afterwards. */
  subscriptionsActive: number;
  /** Server CPU while connecting (auth, presence, subscribe), % of one core per server. */
  serverCpuPct: number[];
  /** 1-minute load average of the machine when connecting started (other processes included). */
  loadAvg: number;
}

/** Memory of each server process after the run, in bytes (heap: null when /metrics does not expose it). */
export interface ServerMemory {
  heapUsedBytes: (number | null)[];
  rssBytes: number[];
}

export interface FanoutRun {
  scenario: string;
  stack: Stack;
  nodes: number;
  subscribers: number;
  load: Load;
  setup?: Setup;
  result?: FanoutMeasurement;
  memory?: ServerMemory;
  /** Error lines the server(s) logged during this run (pino level ≥ 50, stderr), a few distinct ones. */
  serverErrors?: string[];
  /** Idle figures of these N connections before the burst (fanout-1node `ours` runs when the idle scenario is selected). */
  idle?: IdleRun;
  /** The many-rooms configuration this run measured (many-rooms runs only). */
  manyRooms?: ManyRoomsConfig;
  error?: string;
}

export interface IdleRun {
  stack: Stack;
  requested: number;
  connections: number;
  /** Where it was measured: its own run, or the fanout-1node `ours` series before its burst at this N. */
  measuredIn: "idle" | "fanout-1node";
  /** Sockets opened per second during setup (auth + subscribe included). */
  connectsPerS?: number;
  heapUsedBeforeBytes?: number | null;
  heapUsedAfterBytes?: number | null;
  /** (heapUsed after − before) ÷ connections; null when /metrics has no nodejs_heap_size_used_bytes. */
  heapPerConnectionBytes?: number | null;
  rssBeforeBytes?: number;
  rssAfterBytes?: number;
  rssPerConnectionBytes?: number;
  /** Server CPU while idle with every connection open (presence heartbeats, keep-alive pings), % of one core over `settleMs`. */
  idleCpuPct?: number;
  /** How long the server settles after connecting (RSS: lowest sample; idle CPU over it; heap after a forced GC at its end), ms. */
  settleMs: number;
  error?: string;
}

/** The server settles for `beforeMs` when fresh and for `afterMs` once every connection is subscribed; heap is read after a forced GC at the end of each (idle CPU over `afterMs`: ≥ 10 s covers a presence heartbeat). */
export interface IdleTiming {
  beforeMs: number;
  afterMs: number;
}

let prefixCount = 0;

/** Starts `nodes` servers of `stack` (ours/naive: on one database, Redis prefix and JWT secret). */
export async function startStack(ctx: BenchContext, stack: Stack, nodes = 1): Promise<ServerProcess[]> {
  if (stack === "ceiling") return [await startServer("ceiling", CEILING_SERVER, { BENCH_HARD_TIMEOUT_MS: String(ctx.childTimeoutMs) })];
  const env = {
    DATABASE_URL: ctx.databaseUrl,
    ...(ctx.redis?.env ?? { REDIS_URL }),
    REDIS_KEY_PREFIX: `${ctx.redisPrefix}${++prefixCount}:`,
    JWT_SECRET: ctx.jwtSecret,
    // BENCH_SUBSCRIPTION_SHARING=memo runs `ours` on the path before fan-out groups (a before/after in one harness)
    SUBSCRIPTION_SHARING: stack === "naive" ? "off" : (process.env.BENCH_SUBSCRIPTION_SHARING ?? "on"),
    // the load generators send far faster than any user may
    RATE_LIMITS: "off",
  };
  const started = await Promise.allSettled(
    Array.from({ length: nodes }, (_, i) => startServer(`${stack}${nodes > 1 ? `-node${i + 1}` : ""}`, OUR_SERVER, env)),
  );
  const ok = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await Promise.all(ok.map((s) => s.stop()));
    throw failed.reason;
  }
  return ok;
}

/** The sender for `stack`, sending to `server`. */
export function senderFor(ctx: BenchContext, stack: Stack, server: ServerProcess): Sender {
  const { sender } = ctx.data;
  return stack === "ceiling"
    ? rawSender(server.url, { id: sender.userId, displayName: sender.displayName })
    : graphqlSender(server.url, sender.token);
}

/** A client fleet subscribed to `servers`, grown batch by batch. */
class Subscribers {
  readonly fleet: ClientFleet;
  /** Sockets subscribed so far. */
  count = 0;

  constructor(
    private readonly ctx: BenchContext,
    private readonly servers: ServerProcess[],
  ) {
    this.fleet = ClientFleet.start(ctx.clients, ctx.childTimeoutMs);
  }

  /** Opens `sockets` and waits until the servers count every subscription so far; throws when none opened or the count never arrives. */
  async add(sockets: SocketSpec[]): Promise<Setup> {
    const { ctx, servers } = this;
    const loadAvg = Math.round(os.loadavg()[0]! * 100) / 100;
    const cpu0 = servers.map((s) => cpuMs(s.pid));
    const started = Date.now();
    const waitMs = 60_000 + sockets.length * 20;
    const opened = await this.fleet.open(sockets, ctx.connectConcurrency, waitMs);
    this.count += opened.ok;
    const active = await waitForMetric(
      servers.map((s) => s.metricsUrl),
      "chat_subscriptions_active",
      this.count,
      waitMs,
    );
    const connectMs = Date.now() - started;
    const serverCpuPct = servers.map((s, i) => Math.round(((cpuMs(s.pid) - cpu0[i]!) / connectMs) * 1000) / 10);
    const setup: Setup = {
      added: sockets.length,
      connectMs,
      opened: opened.ok,
      failed: opened.failed,
      errors: opened.errors,
      subscriptionsActive: active,
      serverCpuPct,
      loadAvg,
    };
    ctx.log(
      `  +${opened.ok}/${sockets.length} sockets subscribed in ${(connectMs / 1000).toFixed(1)} s (servers count ${active}; server CPU ${serverCpuPct.join(" + ")}%, load avg ${loadAvg})` +
        (opened.failed ? `; failed: ${opened.errors.join(" | ")}` : ""),
    );
    if (opened.ok === 0) throw new Error(`no socket could subscribe: ${opened.errors.join(" | ")}`);
    if (active < this.count) throw new Error(`servers count ${active} subscriptions of ${this.count} after ${waitMs} ms`);
    return setup;
  }

  close(): Promise<void> {
    return this.fleet.close();
  }
}

async function memoryOf(servers: ServerProcess[]): Promise<ServerMemory> {
  return {
    heapUsedBytes: await Promise.all(servers.map((s) => heapUsedBytes(s.metricsUrl))),
    rssBytes: servers.map((s) => rssBytes(s.pid)),
  };
}

/** Forced-GC heap readings per memory measurement (see {@link settledMemory}). */
const GC_SAMPLES = 3;

/**
 * Heap and RSS of a server after `settleMs` of quiet: heap the lowest of
 * {@link GC_SAMPLES} readings 1 s apart, each right after a forced full GC
 * (procs.ts forcedGcHeapBytes; null when /metrics has none), so it counts live
 * objects only and not the work in flight at one instant (a presence heartbeat);
 * RSS the lowest of samples taken every 500 ms (from /proc); and its CPU over
 * `settleMs` (% of one core, before the GCs).
 */
async function settledMemory(server: ServerProcess, settleMs: number): Promise<{ heap: number | null; rss: number; cpuPct: number }> {
  const cpu0 = cpuMs(server.pid);
  const t0 = Date.now();
  let rss = Infinity;
  do {
    await sleep(Math.min(500, settleMs));
    rss = Math.min(rss, rssBytes(server.pid));
  } while (Date.now() - t0 < settleMs);
  const cpuPct = Math.round(((cpuMs(server.pid) - cpu0) / (Date.now() - t0)) * 1000) / 10;
  let heap: number | null = null;
  for (let i = 0; i < GC_SAMPLES; i++) {
    if (i > 0) await sleep(1000);
    const h = await forcedGcHeapBytes(server);
    if (h !== null) heap = Math.min(heap ?? Infinity, h);
  }
  return { heap, rss, cpuPct };
}

/** The idle figures of `connections` sockets given the server's memory before any (`before`) and after settling now. */
async function idleFigures(
  ctx: BenchContext,
  run: IdleRun,
  server: ServerProcess,
  before: { heap: number | null; rss: number },
  setup: Setup[],
): Promise<IdleRun> {
  const after = await settledMemory(server, run.settleMs);
  const n = run.connections;
  const connectMs = setup.reduce((s, x) => s + x.connectMs, 0);
  Object.assign(run, {
    connectsPerS: Math.round(setup.reduce((s, x) => s + x.opened, 0) / (connectMs / 1000)),
    heapUsedBeforeBytes: before.heap,
    heapUsedAfterBytes: after.heap,
    heapPerConnectionBytes: after.heap != null && before.heap != null ? Math.round((after.heap - before.heap) / n) : null,
    rssBeforeBytes: before.rss,
    rssAfterBytes: after.rss,
    rssPerConnectionBytes: Math.round((after.rss - before.rss) / n),
    idleCpuPct: after.cpuPct,
  } satisfies Partial<IdleRun>);
  ctx.log(
    `  idle at ${n}: heap/conn ${run.heapPerConnectionBytes ?? "n/a (no nodejs_heap_size_used_bytes)"} B, RSS/conn ${run.rssPerConnectionBytes} B, ` +
      `RSS ${(after.rss / 2 ** 20).toFixed(0)} MiB, ${run.connectsPerS} conn/s, idle CPU ${run.idleCpuPct}%`,
  );
  return run;
}

/**
 * A fan-out series on one set of servers: for each N of `ns` (ascending), grow
 * the subscribers to N (sockets spread round robin over the nodes), then send
 * `loadFor(N)` to node 1 and measure. With `idle` (one node), also the idle
 * figures at each N, before its burst. After a failure the
 * rest of the series is skipped.
 */
export async function fanoutSeries(
  ctx: BenchContext,
  scenario: string,
  stack: Stack,
  nodes: number,
  ns: number[],
  loadFor: (n: number) => Load,
  idle?: IdleTiming,
): Promise<FanoutRun[]> {
  const runs: FanoutRun[] = ns.map((n) => ({ scenario, stack, nodes, subscribers: n, load: loadFor(n) }));
  let servers: ServerProcess[] = [];
  let subscribers: Subscribers | undefined;
  const { data } = ctx;
  try {
    servers = await startStack(ctx, stack, nodes);
    const before = idle ? await settledMemory(servers[0]!, idle.beforeMs) : null;
    subscribers = new Subscribers(ctx, servers);
    const setups: Setup[] = [];
    for (const run of runs) {
      const { load } = run;
      ctx.log(`${scenario}: ${stack}, ${nodes} node(s), ${run.subscribers} subscribers, ${describe(load)}`);
      // burst: every subscriber in the one room; paced: perRoom subscribers in each room
      const roomOf = (i: number) => (load.kind === "burst" ? load.room : load.rooms[Math.floor(i / load.perRoom)]!);
      const sockets: SocketSpec[] = [];
      for (let i = subscribers.count; i < run.subscribers; i++)
        sockets.push({ url: servers[i % servers.length]!.wsUrl, token: data.users[i]!.token, roomId: roomOf(i) });
      run.setup = await subscribers.add(sockets);
      setups.push(run.setup);
      const subscribersByRoom: Record<string, number> = {};
      for (let i = 0; i < subscribers.count; i++) subscribersByRoom[roomOf(i)] = (subscribersByRoom[roomOf(i)] ?? 0) + 1;
      if (before)
        run.idle = await idleFigures(
          ctx,
          { stack, requested: run.subscribers, connections: subscribers.count, measuredIn: "fanout-1node", settleMs: idle!.afterMs },
          servers[0]!,
          before,
          setups,
        );
      run.result = await measureFanout({
        fleet: subscribers.fleet,
        send: senderFor(ctx, stack, servers[0]!),
        servers: [...servers, ...(ctx.redis?.processes ?? [])],
        load,
        subscribersByRoom,
        drainMs: 120_000,
      });
      run.memory = await memoryOf(servers);
      const serverErrors = servers.flatMap((s) => s.takeErrors());
      if (serverErrors.length) run.serverErrors = serverErrors;
      const r = run.result;
      ctx.log(
        `  ${r.deliveries}/${r.expectedDeliveries} deliveries (missing ${r.missing}) in ${r.windowMs} ms: ${r.deliveriesPerS}/s, ` +
          `p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms, max ${r.latency.maxMs} ms, CPU ${JSON.stringify(r.serverCpuPct)}` +
          `, CPU ms per message ${JSON.stringify(Object.fromEntries(Object.entries(r.serverCpuMs).map(([label, ms]) => [label, Math.round((ms / Math.max(1, r.messagesSent)) * 10) / 10])))}` +
          (process.env.BENCH_MY_EVENTS === "1" ? `; ${r.activity} myEvents frames` : "") +
          (r.sendErrors ? `; ${r.sendErrors} send errors: ${r.sendErrorSample}` : "") +
          (r.unstamped ? `; ${r.unstamped} unstamped frames: ${r.unstampedSample}` : "") +
          (serverErrors.length ? `; server logged: ${serverErrors[0]!.slice(0, 300)}` : ""),
      );
    }
  } catch (e) {
    const error = e instanceof Error ? e.message.slice(0, 2000) : String(e);
    ctx.log(`  FAILED: ${error}`);
    const serverErrors = servers.flatMap((s) => s.takeErrors());
    const failed = runs.find((r) => !r.result);
    if (failed && serverErrors.length) failed.serverErrors = serverErrors;
    for (const run of runs)
      if (!run.result)
        run.error =
          run.setup || run === runs.find((r) => !r.result) ? error : `skipped: a smaller N of this series failed (${error.split("\n")[0]})`;
  } finally {
    await Promise.all([subscribers?.close(), ...servers.map((s) => s.kill())]);
  }
  return runs;
}

function describe(load: Load): string {
  return load.kind === "burst"
    ? `${load.messages} messages back to back, ${load.concurrency} in flight`
    : `${load.ratePerS} msg/s for ${load.durationS} s over ${load.rooms.length} rooms`;
}

/**
 * A many-rooms configuration: `rooms` rooms × `perRoom` messageAdded
 * subscribers (seeded as a room set, seed.ts), `ratePerS` messages per second
 * sent round robin over the rooms for `durationS` s with at most `maxInFlight`
 * pending, on `nodes` node(s) (subscribers round robin over them, sends to node
 * 1); `p99TargetMs`: the publish → receive p99 (ms) ours must stay under, if any.
 */
export interface ManyRoomsConfig extends RoomShape {
  ratePerS: number;
  durationS: number;
  maxInFlight: number;
  nodes: number;
  p99TargetMs?: number;
}

/** "1,000 rooms × 5 @ 200 msg/s, 1 node": how a configuration is named in the log and the report. */
export function manyRoomsLabel(c: ManyRoomsConfig): string {
  return `${c.rooms.toLocaleString("en-US")} rooms × ${c.perRoom.toLocaleString("en-US")} @ ${c.ratePerS} msg/s, ${c.nodes} node${c.nodes > 1 ? "s" : ""}`;
}

/**
 * Parses `<rooms>x<perRoom>@<ratePerS>[/<nodes>]` (e.g. `2000x5@200/2`,
 * `1x10000@2`) into a configuration with `defaults` for the rest; throws on
 * anything else.
 */
export function parseManyRooms(spec: string, defaults: Pick<ManyRoomsConfig, "durationS" | "maxInFlight">): ManyRoomsConfig {
  const match = /^(\d+)x(\d+)@(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(spec.trim());
  const [rooms, perRoom, ratePerS, nodes] = match ? [Number(match[1]), Number(match[2]), Number(match[3]), Number(match[4] ?? 1)] : [];
  if (!rooms || !perRoom || !ratePerS || !nodes)
    throw new Error(`--many-rooms takes <rooms>x<perRoom>@<msg/s>[/<nodes>], e.g. 1000x5@200 or 2000x5@200/2: ${spec}`);
  return { rooms, perRoom, ratePerS, nodes, ...defaults, p99TargetMs: p99TargetMs(rooms) };
}

/** The p99 target (ms) for a paced configuration: 100 for one big room, 50 for many small ones (docs/performance.md). */
export function p99TargetMs(rooms: number): number {
  return rooms === 1 ? 100 : 50;
}

/**
 * The many-rooms runs of `config`, one fresh series per stack, in the order of
 * `stacks` when `config.nodes` is 1, else ours alone on `config.nodes` nodes;
 * same subscribers and load for each (room set {@link roomSetKey}(config),
 * which the seed must have made); `scenario` names the runs (another scenario's
 * runs of the same load: shards.ts).
 */
export async function manyRoomsSeries(
  ctx: BenchContext,
  config: ManyRoomsConfig,
  stacks: Stack[],
  scenario = "many-rooms",
): Promise<FanoutRun[]> {
  const rooms = ctx.data.roomSets[roomSetKey(config)];
  if (!rooms) throw new Error(`no room set ${roomSetKey(config)} was seeded`);
  const load: Load = {
    kind: "paced",
    rooms,
    perRoom: config.perRoom,
    ratePerS: config.ratePerS,
    durationS: config.durationS,
    maxInFlight: config.maxInFlight,
  };
  const runs: FanoutRun[] = [];
  for (const stack of config.nodes === 1 ? stacks : ["ours" as const]) {
    for (const run of await fanoutSeries(ctx, scenario, stack, config.nodes, [config.rooms * config.perRoom], () => load))
      runs.push({ ...run, manyRooms: config });
  }
  return runs;
}

/** Each configuration's p99 target (those with `p99TargetMs`) checked against its runs: met when ours delivered everything with p99 under it. */
export function manyRoomsTargets(runs: FanoutRun[]): Target[] {
  const configs = [...new Set(runs.flatMap((r) => (r.manyRooms?.p99TargetMs ? [r.manyRooms] : [])))];
  return configs.map((c) => {
    const of = (stack: Stack) => runs.find((r) => r.manyRooms === c && r.stack === stack);
    const p99 = (stack: Stack) => of(stack)?.result?.latency.p99Ms ?? "n/a";
    const ours = of("ours");
    const m = ours?.result;
    const others = (["naive", "ceiling"] as const).filter((s) => of(s)).map((s) => `${s} ${p99(s)} ms`);
    return {
      name: `p99 publish → receive < ${c.p99TargetMs} ms, ${manyRoomsLabel(c)}`,
      met: m ? m.missing === 0 && m.sendErrors === 0 && m.latency.p99Ms !== null && m.latency.p99Ms < c.p99TargetMs! : false,
      detail: m
        ? `ours ${m.latency.p99Ms ?? "n/a"} ms${m.missing ? ` (${m.missing} deliveries missing)` : ""}${others.length ? `; ${others.join(", ")}` : ""}`
        : `failed: ${(ours?.error ?? "not run").split("\n")[0]!.slice(0, 80)}`,
    };
  });
}

/** Idle run on a fresh server: `n` connections (users 0…n−1), one messageAdded subscription each on the big room; memory before and after connecting (see {@link IdleTiming}). */
export async function idleRun(
  ctx: BenchContext,
  requested: number,
  n: number,
  timing: IdleTiming,
  stack: Stack = "ours",
): Promise<IdleRun> {
  const run: IdleRun = { stack, requested, connections: n, measuredIn: "idle", settleMs: timing.afterMs };
  ctx.log(`idle: ${stack}, ${n} connections${n < requested ? ` (${requested} requested, capped by ulimit -n)` : ""}`);
  let servers: ServerProcess[] = [];
  let subscribers: Subscribers | undefined;
  try {
    servers = await startStack(ctx, stack);
    const server = servers[0]!;
    const before = await settledMemory(server, timing.beforeMs);
    subscribers = new Subscribers(ctx, servers);
    const setup = await subscribers.add(
      ctx.data.users.slice(0, n).map((u) => ({ url: server.wsUrl, token: u.token, roomId: ctx.data.bigRoom })),
    );
    run.connections = subscribers.count;
    await idleFigures(ctx, run, server, before, [setup]);
  } catch (e) {
    run.error = e instanceof Error ? e.message.slice(0, 2000) : String(e);
    ctx.log(`  FAILED: ${run.error}`);
  } finally {
    await Promise.all([subscribers?.close(), ...servers.map((s) => s.kill())]);
  }
  return run;
}

/** A fresh key prefix for this bench run's Redis keys. */
export function newRedisPrefix(): string {
  return `bench:${randomBytes(4).toString("hex")}:`;
}
