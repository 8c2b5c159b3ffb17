/**
 * `npm run bench:startup`: how long `npm start` takes, as a user sees it (npm, the
 * `prestart` build, the server), in the default embedded mode, from the command to
 * the server's "chat server ready" line. Each round makes a new DATA_DIR and starts:
 * - once on it, as after a fresh clone: the embedded PostgreSQL is initialised and
 *   the migrations applied by `prisma migrate deploy`; dist/ is compiled again
 *   (dist/.build-stamp removed first) and Node's compile cache is empty (its
 *   default folder, os.tmpdir()/node-compile-cache, removed first);
 * - then `--later` times more on the same DATA_DIR (nothing to initialise or apply).
 * Each start is stopped with SIGTERM, and the next waits until PostgreSQL is down.
 * Prints each start's time to each of its progress lines, then the medians and the
 * machine's load average (other work on the cores slows every figure).
 *
 *   npm run bench:startup                        # 3 rounds of a first start and 3 later ones
 *   npm run bench:startup -- --rounds 5 --later 5
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../../test/helpers/node-process.js";
import { DIST, ROOT } from "../build.mjs";

/** How long one start may take before the bench gives up on it, in ms. */
const START_BOUND_MS = 120_000;

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, later: { type: "string", default: "3" } } });

/** One start: ms from the command to each line it printed (npm's and the server's messages), and to ready. */
interface Start {
  readyMs: number;
  steps: { ms: number; text: string }[];
}

/** The message of a server log line (pino JSON), or npm's own line as it is. */
function textOf(line: string): string {
  if (!line.startsWith("{")) return line.trim();
  const { msg } = JSON.parse(line) as { msg: string };
  return msg;
}

/** Runs `npm start` on `dataDir` until it is ready, then stops it and waits until its PostgreSQL is down. */
async function start(dataDir: string): Promise<Start> {
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    DATABASE_URL: "",
    REDIS_URL: "",
  };
  const began = performance.now();
  // its own process group: SIGTERM reaches npm and the server alike
  const child = spawn("npm", ["start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const steps: Start["steps"] = [];
  let output = "";
  const readyMs = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in ${START_BOUND_MS} ms:\n${output}`)), START_BOUND_MS);
    let pending = "";
    const onData = (chunk: Buffer) => {
      output += chunk;
      pending += chunk;
      for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
        const text = textOf(pending.slice(0, end));
        pending = pending.slice(end + 1);
        if (!text) continue;
        const ms = performance.now() - began;
        steps.push({ ms, text });
        if (text.startsWith("chat server ready")) {
          clearTimeout(timer);
          resolve(ms);
        }
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`npm start exited (${code}) before it was ready:\n${output}`)));
  });
  await stop(child, dataDir);
  return { readyMs, steps };
}

/** SIGTERM to `child`'s process group; resolves once it has exited and the PostgreSQL of `dataDir` is down. */
async function stop(child: ChildProcess, dataDir: string): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid!, "SIGTERM");
  await exited;
  const bound = Date.now() + 30_000;
  while (existsSync(join(dataDir, "pg", "postmaster.pid"))) {
    if (Date.now() > bound) throw new Error(`PostgreSQL of ${dataDir} still running 30 s after SIGTERM`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const firsts: number[] = [];
const laters: number[] = [];
console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} (${process.version})`,
);
for (let round = 1; round <= Number(values.rounds); round++) {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-startup-"));
  chmodSync(dataDir, 0o755); // as root, PostgreSQL runs as the `postgres` user, which must enter it
  try {
    rmSync(join(DIST, ".build-stamp"), { force: true });
    rmSync(join(tmpdir(), "node-compile-cache"), { recursive: true, force: true });
    const first = await start(dataDir);
    firsts.push(first.readyMs);
    console.log(`\nround ${round}, first start: ${seconds(first.readyMs)}`);
    for (const { ms, text } of first.steps) console.log(`  ${seconds(ms).padStart(8)}  ${text.slice(0, 110)}`);
    const times: number[] = [];
    for (let i = 0; i < Number(values.later); i++) times.push((await start(dataDir)).readyMs);
    laters.push(...times);
    console.log(`round ${round}, later starts: ${times.map(seconds).join(", ")}`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
console.log(`\nfirst start: median ${seconds(median(firsts))} (${firsts.map(seconds).join(", ")})`);
console.log(`later start: median ${seconds(median(laters))} (${laters.map(seconds).join(", ")})`);
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
