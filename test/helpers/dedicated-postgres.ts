import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../../src/db/embedded.js";
import { freePort } from "./node-process.js";

/**
 * A PostgreSQL of a test's own (the embedded one the project runs without
 * DATABASE_URL, src/db/embedded.ts), which it may stop and start again on the
 * same data directory and port; the shared one on 5432 must never be restarted.
 * Its `chat` database starts empty: a node migrates it when it starts.
 */
export interface DedicatedPostgres {
  /** postgresql://…@127.0.0.1:<port>/chat */
  url: string;
  /** Stops the server (pg_ctl stop: connections are terminated) and resolves once it is down. No-op when it is not running. */
  stop(): Promise<void>;
  /** Starts it again on the same data and port. @throws if it is running or cannot start. */
  start(): Promise<void>;
  /** Stops it and deletes its data directory. */
  remove(): Promise<void>;
}

/** Creates and starts a {@link DedicatedPostgres} in a temporary directory, on a free port. */
export async function startDedicatedPostgres(): Promise<DedicatedPostgres> {
  const dir = await mkdtemp(join(tmpdir(), "chat-faults-pg-"));
  await chmod(dir, 0o755); // as root the server runs as the `postgres` user, which must reach its data
  const port = await freePort();
  let running: EmbeddedDatabase | null = await startEmbeddedPostgres(dir, port);
  const url = running.url;
  const stop = async () => {
    await running?.stop();
    running = null;
  };
  return {
    url,
    stop,
    start: async () => {
      if (running) throw new Error("the dedicated PostgreSQL is running already");
      running = await startEmbeddedPostgres(dir, port);
    },
    remove: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
