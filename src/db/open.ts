import type { Logger } from "pino";
import type { Config } from "../config.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { migrate } from "./migrate.js";

/** The PostgreSQL a node works on: its URL, and `stop` (the embedded server's; a no-op for DATABASE_URL's). */
export interface Database {
  url: string;
  stop(): Promise<void>;
}

/** A database being opened by {@link openDatabase}. */
export interface OpeningDatabase {
  /**
   * Resolves once the rest of the opening waits mostly on other processes (the
   * embedded server's initdb or start; at once for DATABASE_URL's), so that
   * this thread can do other work meanwhile; rejects as `opened` does if that comes first.
   */
  busy: Promise<void>;
  /** The database, started and migrated. */
  opened: Promise<Database>;
}

/**
 * Opens the node's PostgreSQL: DATABASE_URL's, or without it the embedded one
 * under DATA_DIR (db/embedded.ts), started; then brings it up to the committed
 * migrations (db/migrate.ts). Progress goes to `logger` at info level.
 * `opened` rejects with what startEmbeddedPostgres or migrate throw (an embedded
 * server that started stops with the process: db/embedded.ts).
 */
export function openDatabase(config: Config, logger: Logger): OpeningDatabase {
  let markBusy = () => {};
  const busyElsewhere = new Promise<void>((resolve) => (markBusy = resolve));
  const opened = (async () => {
    if (config.DATABASE_URL) {
      markBusy();
      await migrate(config.DATABASE_URL, logger);
      return { url: config.DATABASE_URL, stop: async () => {} };
    }
    const embedded = await startEmbeddedPostgres(config.DATA_DIR, config.EMBEDDED_PG_PORT, { logger, onOutput: markBusy });
    await migrate(embedded.url, logger);
    return embedded;
  })();
  return { busy: Promise.race([busyElsewhere, opened.then(() => {})]), opened };
}
