import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { PrismaClient } from "./client.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const migrationsDir = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

/**
 * Brings the database at `url` up to the committed migrations (prisma/migrations).
 *
 * When every migration folder is already recorded as applied in
 * `_prisma_migrations` it returns at once; otherwise it runs
 * `prisma migrate deploy` offline through scripts/prisma.mjs (≈ 12 s here: the
 * CLI lingers after its work), which applies the pending ones in order.
 * @throws with the CLI's output when a migration fails.
 */
export async function migrate(db: PrismaClient, url: string): Promise<void> {
  if ((await pendingMigrations(db)).length === 0) return;
  await run(process.execPath, [`${root}/scripts/prisma.mjs`, "migrate", "deploy"], {
    env: { ...process.env, DATABASE_URL: url },
    cwd: root,
  });
}

/** Names of the migration folders not yet applied to `db`, oldest first. */
export async function pendingMigrations(db: PrismaClient): Promise<string[]> {
  const folders = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const [{ exists }] = await db.$queryRaw<[{ exists: boolean }]>`
    SELECT to_regclass('public._prisma_migrations') IS NOT NULL AS "exists"`;
  if (!exists) return folders;
  const applied = await db.$queryRaw<{ migration_name: string }[]>`
    SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`;
  const done = new Set(applied.map((m) => m.migration_name));
  return folders.filter((f) => !done.has(f));
}
