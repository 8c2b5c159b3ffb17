import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import type { Logger } from "pino";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const migrationsDir = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

/**
 * Brings the database at `url` up to the committed migrations (prisma/migrations),
 * with `prisma migrate deploy` as the tool of record, logging its progress to `logger` (info).
 *
 * It first compares the migration folders with `_prisma_migrations` over one
 * node-postgres connection: when every folder is recorded as
 * applied it logs "database schema up to date" and returns, without starting the
 * CLI. Otherwise it logs "applying N database migrations", runs `prisma migrate
 * deploy` offline through scripts/prisma.mjs (seconds, most of them loading the
 * CLI; it applies the pending ones in order under Prisma's advisory lock, so
 * nodes starting together apply each migration once), checks again, and logs
 * "database migrations applied".
 * @throws with the CLI's output when a migration fails, or when the CLI exits 0
 *   with migrations still pending.
 */
export async function migrate(url: string, logger?: Logger): Promise<void> {
  const pending = await pendingMigrationsAt(url);
  if (pending.length === 0) {
    logger?.info("database schema up to date (no pending migrations)");
    return;
  }
  logger?.info({ pending }, `applying ${pending.length} database migration${pending.length === 1 ? "" : "s"} (prisma migrate deploy)`);
  const started = performance.now();
  const { stdout } = await run(process.execPath, [`${root}/scripts/prisma.mjs`, "migrate", "deploy"], {
    env: { ...process.env, DATABASE_URL: url },
    cwd: root,
  });
  const left = await pendingMigrationsAt(url);
  if (left.length > 0) throw new Error(`prisma migrate deploy exited 0 with migrations still pending: ${left.join(", ")}\n${stdout}`);
  logger?.info({ ms: Math.round(performance.now() - started) }, "database migrations applied");
}

/**
 * Runs one SQL statement (no parameters) and resolves with its rows: what
 * {@link pendingMigrations} reads through, so that both a Prisma client and a
 * node-postgres connection can serve it.
 */
export type QueryRows = (sql: string) => Promise<unknown[]>;

/**
 * Names of the migration folders (prisma/migrations) that `_prisma_migrations`
 * does not record as finished and not rolled back, oldest first; all of them
 * when that table does not exist yet (Prisma makes it on the first deploy).
 */
export async function pendingMigrations(query: QueryRows): Promise<string[]> {
  const folders = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const [{ exists }] = (await query(`SELECT to_regclass('public._prisma_migrations') IS NOT NULL AS "exists"`)) as [{ exists: boolean }];
  if (!exists) return folders;
  const applied = (await query(
    `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  )) as { migration_name: string }[];
  const done = new Set(applied.map((m) => m.migration_name));
  return folders.filter((f) => !done.has(f));
}

/** {@link pendingMigrations} of the database at `url`, over a node-postgres connection of its own. */
async function pendingMigrationsAt(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await pendingMigrations(async (sql) => (await client.query(sql)).rows);
  } finally {
    await client.end();
  }
}
