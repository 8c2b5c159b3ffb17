/**
 * Preloaded (`node --require`) into Prisma 6.19's CLI by scripts/prisma.mjs for
 * `migrate …` and `db …`: timers that its WebAssembly schema engine starts no
 * longer keep the process alive once the command is done.
 *
 * Why: the engine takes PostgreSQL's advisory lock (`SELECT pg_advisory_lock(72707369)`)
 * under a 10 s timeout, and its JavaScript glue imports `setTimeout` but no
 * `clearTimeout` (prisma-migrate/build/index.js, `__wbg_setTimeout_…`), so that
 * timer runs its 10 s out after the lock is taken and held every finished
 * `prisma migrate deploy` open ≈ 10 s longer than its work (`SELECT
 * pg_advisory_lock` in the CLI's debug log; figures: docs/performance.md).
 *
 * Each timer made from WebAssembly (a `wasm://` frame on the stack of its
 * `setTimeout` call) is unref'd: it still fires while the process has other work
 * (a lock wait holds the pg socket open), but no longer keeps a finished one
 * alive. A command that ever waited on such a timer alone would end early with
 * its work undone; src/db/migrate.ts checks `_prisma_migrations` again after the
 * CLI and fails the start if anything is still pending.
 */
"use strict";

const { setTimeout: originalSetTimeout } = globalThis;

globalThis.setTimeout = function setTimeout(callback, ms, ...args) {
  const timer = originalSetTimeout(callback, ms, ...args);
  if (new Error().stack?.includes("wasm://")) timer.unref();
  return timer;
};
