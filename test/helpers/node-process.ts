import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVER_NODE_ARGS } from "../../scripts/build.mjs";
import { createTestDatabase } from "./database.js";
import { REDIS_URL } from "./env.js";

// a path, not `new URL(…)`: DOM test environments (happy-dom) replace the global URL
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** A server started as its own process as `npm start` runs it (the compiled dist/main.js, built by the global setup). */
export interface NodeProcess {
  url: string;
  wsUrl: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Sends `signal` (default SIGTERM) and resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on("error", reject);
  });
}

/**
 * Starts the compiled server (dist/main.js, as `npm start`) in a child process with `env` on top of this one's, and
 * resolves once it logs that it is listening. Rejects with its output (and exit code) if it
 * exits first; one not ready within `timeoutMs` gets SIGTERM and the promise rejects.
 */
export async function startNode(env: Record<string, string>, timeoutMs = 60_000): Promise<NodeProcess> {
  const port = await freePort();
  // one process, as `npm start` runs it (node --enable-source-maps dist/main.js), so signals reach the server itself
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS], {
    cwd: root,
    env: { ...process.env, NODE_ENV: "production", LOG_LEVEL: "info", HOST: "127.0.0.1", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`node not ready in ${timeoutMs} ms (sent SIGTERM):\n${output}`));
    }, timeoutMs);
    const check = () => {
      if (output.includes("chat server ready")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with code ${code} before it was ready:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    child,
    output: () => output,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** `N` times `T` as a tuple (`T[]` when `N` is not a literal). */
export type Tuple<T, N extends number, R extends T[] = []> = number extends N ? T[] : R["length"] extends N ? R : Tuple<T, N, [...R, T]>;

/**
 * Server processes started by {@link startNodes}: `nodes` as started; `env` the
 * variables they share (DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX, JWT_SECRET and
 * the extra ones); `startAnother()` starts one more node with that `env` (e.g. to
 * replace a stopped one on the same database), which `stop()` stops too;
 * `stop()` stops them all (SIGTERM) and drops their database.
 */
export interface NodeGroup<Nodes extends NodeProcess[] = NodeProcess[]> {
  nodes: Nodes;
  env: Record<string, string>;
  startAnother(): Promise<NodeProcess>;
  stop(): Promise<void>;
}

/**
 * Starts `count` server processes (see {@link startNode}) as behind a load
 * balancer: sharing one fresh database (a copy of the template), one Redis under
 * a random REDIS_KEY_PREFIX, and one JWT_SECRET, with `extraEnv` on top (e.g.
 * PRESENCE_TTL_MS). Resolves with the nodes as a tuple of length `count`; if any
 * fails to start, stops the others, drops the database and rejects.
 */
export async function startNodes<N extends number>(
  count: N,
  extraEnv: Record<string, string> = {},
): Promise<NodeGroup<Tuple<NodeProcess, N>>> {
  const database = await createTestDatabase();
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    JWT_SECRET: randomBytes(32).toString("hex"),
    ...extraEnv,
  };
  const started = await Promise.allSettled(Array.from({ length: count }, () => startNode(env)));
  const nodes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  // every node to stop: the first `count` and those from startAnother
  const all = [...nodes];
  const stop = async () => {
    await Promise.all(all.map((node) => node.stop()));
    await database.drop();
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const startAnother = async () => {
    const node = await startNode(env);
    all.push(node);
    return node;
  };
  return { nodes: nodes as Tuple<NodeProcess, N>, env, startAnother, stop };
}
