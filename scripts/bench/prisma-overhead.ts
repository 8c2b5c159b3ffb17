/**
 * What one Prisma call costs on this machine, next to the same statement on
 * the bare `pg` driver: CPU ms per call (process.cpuUsage) and wall ms, for a
 * primary-key read through Prisma Client (Prisma 7: its Wasm query compiler
 * plans a call unless the call's shape is in its query-plan cache, as after the
 * warm-up here), through `$queryRaw`, and through `pg`, each 300 times after 100
 * to warm up, sequentially. Explains the writes scenario:
 * sendMessage makes about a dozen such calls. Creates and drops a database.
 *
 *   node --import tsx scripts/bench/prisma-overhead.ts
 */
import pg from "pg";
import { makePrisma } from "../../src/db/client.js";
import { migrate } from "../../src/db/migrate.js";
import { createBenchDatabase } from "./seed.js";

const CALLS = 300;
const WARMUP = 100;

/** CPU and wall ms per call of `call`, after a warm-up. */
async function cost(call: () => Promise<unknown>): Promise<{ cpuMs: number; wallMs: number }> {
  for (let i = 0; i < WARMUP; i++) await call();
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) await call();
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000 / CALLS, wallMs: (performance.now() - start) / CALLS };
}

const database = await createBenchDatabase();
const db = makePrisma(database.url, 2);
const pool = new pg.Pool({ connectionString: database.url, max: 2 });
try {
  await migrate(database.url);
  const id = "00000000-0000-0000-0000-000000000000";
  const rows = {
    "prisma findUnique": await cost(() => db.room.findUnique({ where: { id }, select: { lastSeq: true } })),
    "prisma $queryRaw": await cost(() => db.$queryRaw`SELECT "lastSeq" FROM "Room" WHERE id = ${id}::uuid`),
    "prisma $transaction (1 findUnique)": await cost(() =>
      db.$transaction((tx) => tx.room.findUnique({ where: { id }, select: { lastSeq: true } })),
    ),
    "pg query": await cost(() => pool.query(`SELECT "lastSeq" FROM "Room" WHERE id = $1::uuid`, [id])),
  };
  console.log("| call | CPU ms | wall ms |\n|---|---|---|");
  for (const [name, c] of Object.entries(rows)) console.log(`| ${name} | ${c.cpuMs.toFixed(3)} | ${c.wallMs.toFixed(3)} |`);
} finally {
  await db.$disconnect();
  await pool.end();
  await database.drop();
}
