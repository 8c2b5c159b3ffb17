import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "./node-process.js";

/** How long a redis-server may take to accept connections, in ms. */
const START_TIMEOUT_MS = 10_000;

/**
 * A Redis of a test's own (`redis-server` from PATH, no persistence), which it
 * may kill and start again on the same port; the shared one on 6379 must never
 * be restarted.
 */
export interface DedicatedRedis {
  /** redis://127.0.0.1:<port> */
  url: string;
  /** Kills the server (default SIGKILL: a crash, nothing flushed) and resolves once it has exited. No-op when it is not running. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). @throws if it is running or does not get ready within 10 s. */
  start(): Promise<void>;
}

/** Starts a {@link DedicatedRedis} on a free port. @throws if it does not get ready within 10 s. */
export async function startDedicatedRedis(): Promise<DedicatedRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    if (child) throw new Error("the dedicated Redis is running already");
    const started = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = started;
    exited = new Promise((resolve) => started.once("exit", () => resolve()));
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server not ready in ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
      started.stdout!.on("data", (d) => {
        output += d;
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited:\n${output}`));
      });
    });
  };
  const stop = async (signal: NodeJS.Signals = "SIGKILL") => {
    if (!child) return;
    child.kill(signal);
    await exited;
    child = null;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, start, stop };
}
