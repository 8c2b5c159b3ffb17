/**
 * Processes of a benchmark run and what is read from them:
 * - {@link startServer}: our server ({@link OUR_SERVER}: the compiled
 *   dist/main.js, as `npm start` runs it; main.ts builds it first) or the
 *   ceiling server ({@link CEILING_SERVER}), each its own process on a free
 *   port, ready when `GET /health` answers 200 (the server logs its "ready"
 *   line at info level, and the bench runs it at LOG_LEVEL=warn);
 * - every child is registered, and {@link killAll} (called on exit and on
 *   signals by main.ts) SIGKILLs whatever is still running;
 * - {@link cpuMs} / {@link rssBytes}: a process's CPU time (utime+stime, ms) and
 *   resident set (bytes) from /proc; {@link machineBusyPct}: the machine's CPU use (%);
 * - {@link scrape} / {@link waitForMetric}: Prometheus text from `GET /metrics`
 *   (samples of one name summed over their labels).
 */
import { type ChildProcess, execSync, fork, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { freePort } from "../../test/helpers/node-process.js";
import { ROOT, SERVER_NODE_ARGS } from "../build.mjs";

export { ROOT };

const children = new Set<ChildProcess>();

/** Registers `child` so {@link killAll} ends it; forgets it when it exits. */
export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** SIGKILLs every registered child still running (synchronous: safe in `process.on("exit")`). */
export function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** `child` has exited, or is SIGKILLed after `graceMs` of `signal` and then has (resolves either way). */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Forks a TypeScript module of scripts/bench as a child with an IPC channel (`process.send`). */
export function forkTs(file: string, env: Record<string, string> = {}): ChildProcess {
  return track(
    fork(resolve(ROOT, "scripts/bench", file), [], {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
}

/** A server process under test. */
export interface ServerProcess {
  label: string;
  pid: number;
  url: string;
  wsUrl: string;
  metricsUrl: string;
  child: ChildProcess;
  /** What it printed (stdout and stderr; the last 20,000 characters). */
  output(): string;
  /** Error lines it logged since the last call (pino level ≥ 50, or anything on stderr), distinct, at most 5, each cut to 500 characters. */
  takeErrors(): string[];
  /** SIGTERM, SIGKILL after 10 s; resolves when it has exited. */
  stop(): Promise<void>;
  /** SIGKILL (after a measurement: its shutdown is not under test, and a graceful one with 10,000 sockets takes seconds). */
  kill(): Promise<void>;
}

/**
 * Extra node flags for the servers, from BENCH_SERVER_NODE_ARGS (space-separated),
 * e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them (they are then
 * stopped with SIGTERM, not SIGKILL, so the profile gets written).
 */
const EXTRA_NODE_ARGS = process.env.BENCH_SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? [];

/** Node arguments of our server: the compiled dist/main.js with source maps, as `npm start` runs it (scripts/build.mjs). */
export const OUR_SERVER: readonly string[] = SERVER_NODE_ARGS;
/** Node arguments of the ceiling server (raw-server.ts; a few closures per socket, so tsx's keepNames costs it next to nothing). */
export const CEILING_SERVER: readonly string[] = ["--import", "tsx", "scripts/bench/raw-server.ts"];

/**
 * Starts `node <server>` (`server`: {@link OUR_SERVER} or {@link CEILING_SERVER};
 * plus --expose-gc and gc-on-signal.mjs, for {@link forcedGcHeapBytes}, and the
 * flags of BENCH_SERVER_NODE_ARGS) in the repo root with `env` on top of this
 * process's and PORT/HOST set; resolves once `GET /health` answers 200; rejects
 * with its output when it exits first or is not ready within `timeoutMs`.
 */
export async function startServer(
  label: string,
  server: readonly string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ServerProcess> {
  const port = await freePort();
  const child = track(
    spawn(process.execPath, [...EXTRA_NODE_ARGS, "--expose-gc", "--import", "./scripts/bench/gc-on-signal.mjs", ...server], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: "production", LOG_LEVEL: "warn", HOST: "127.0.0.1", ...env, PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let output = "";
  let errors = new Set<string>();
  const lines = (stream: NodeJS.ReadableStream, isError: (line: string) => boolean) => {
    let partial = "";
    stream.on("data", (d) => {
      output = (output + d).slice(-20_000);
      const parts = (partial + d).split("\n");
      partial = parts.pop()!;
      for (const line of parts) if (line.trim() && isError(line) && errors.size < 5) errors.add(line.slice(0, 500));
    });
  };
  lines(child.stdout!, (line) => /"level":\s*(50|60)/.test(line));
  lines(child.stderr!, () => true);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label} exited before it was ready:\n${output}`);
    if (Date.now() > deadline) {
      await stopChild(child, "SIGKILL");
      throw new Error(`${label} not ready in ${timeoutMs} ms:\n${output}`);
    }
    const ok = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(200);
  }
  return {
    label,
    pid: child.pid!,
    url: `${base}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    metricsUrl: `${base}/metrics`,
    child,
    output: () => output,
    takeErrors: () => {
      const taken = [...errors];
      errors = new Set();
      return taken;
    },
    stop: () => stopChild(child),
    // a CPU profile is written only on a graceful exit (up to the server's own 10 s shutdown bound)
    kill: () =>
      EXTRA_NODE_ARGS.some((a) => a.startsWith("--cpu-prof")) ? stopChild(child, "SIGTERM", 30_000) : stopChild(child, "SIGKILL"),
  };
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

const CLK_TCK = Number(execSync("getconf CLK_TCK").toString().trim()) || 100;

/** CPU time `pid` has used so far (user + system), in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // fields after "(comm)": state is field 3, utime 14, stime 15
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Resident set size of `pid` (VmRSS), in bytes. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** How busy the whole machine is over the next `ms` (all CPUs, from /proc/stat), in % of its capacity. */
export async function machineBusyPct(ms = 1000): Promise<number> {
  const read = () => {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3]! + (fields[4] ?? 0); // idle + iowait
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return Math.round((1 - (b.idle - a.idle) / Math.max(1, b.total - a.total)) * 1000) / 10;
}

/** This process's soft limit on open files (`ulimit -n`). */
export function openFilesLimit(): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return !match || match[1] === "unlimited" ? Infinity : Number(match[1]);
}

/** `GET /metrics` of `url` as name → value (samples of one name summed over labels); empty on any error. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await fetch(url, { signal: AbortSignal.timeout(5000) }).then(
    (r) => r.text(),
    () => "",
  );
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match) out.set(match[1]!, (out.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return out;
}

/**
 * Polls `name` on every metrics URL until their sum reaches `target`; resolves
 * the last sum (which is below `target` when `timeoutMs` ran out).
 */
export async function waitForMetric(urls: string[], name: string, target: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const values = await Promise.all(urls.map(async (u) => (await scrape(u)).get(name) ?? 0));
    const sum = values.reduce((a, b) => a + b, 0);
    if (sum >= target || Date.now() > deadline) return sum;
    await sleep(250);
  }
}

/**
 * Heap in use by `server` right after a full GC (SIGUSR2 → gc-on-signal.mjs; read
 * 500 ms later from /metrics), in bytes; null when /metrics does not expose it.
 */
export async function forcedGcHeapBytes(server: Pick<ServerProcess, "pid" | "metricsUrl">): Promise<number | null> {
  process.kill(server.pid, "SIGUSR2");
  await sleep(500);
  return heapUsedBytes(server.metricsUrl);
}

/** Heap in use per the server's /metrics (`nodejs_heap_size_used_bytes`, prom-client default metrics), or null when it does not expose it. */
export async function heapUsedBytes(metricsUrl: string): Promise<number | null> {
  return (await scrape(metricsUrl)).get("nodejs_heap_size_used_bytes") ?? null;
}
