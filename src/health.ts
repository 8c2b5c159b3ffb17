import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "./context.js";
import { pendingMigrations } from "./db/migrate.js";

/** How long one readiness check may take, in ms, before it counts as failed. */
const CHECK_TIMEOUT_MS = 2000;

/**
 * Probes for load balancers and orchestrators. `GET /health`: the process is up
 * (200, no I/O). `GET /ready`: PostgreSQL answers and has every migration
 * applied, and Redis answers when it is configured; the checks run at once, each
 * for at most CHECK_TIMEOUT_MS. 200 `{ status: "ready", checks: { database: "ok",
 * migrations: "ok", redis?: "ok" } }` when all pass, else 503 `{ status:
 * "unavailable", failing: ["database", …] }`: the body names the failing checks
 * only, never their errors (which carry hosts, ports and database names); each
 * failure is logged at warn level with its error.
 * Resolves false for any other URL (the caller passes it on).
 */
export async function serveHealth(app: App, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (req.method !== "GET" || (path !== "/health" && path !== "/ready")) return false;
  if (path === "/health") return reply(res, 200, { status: "ok" });
  const probes: Record<string, () => Promise<unknown>> = {
    database: () => app.db.$queryRaw`SELECT 1`,
    migrations: async () => {
      const pending = await pendingMigrations((sql) => app.db.$queryRawUnsafe(sql));
      if (pending.length > 0) throw new Error(`pending: ${pending.join(", ")}`);
    },
    ...(app.redis ? { redis: () => app.redis!.ping() } : {}),
  };
  const results = await Promise.all(Object.entries(probes).map(async ([name, probe]) => ({ name, error: await failureOf(probe) })));
  const failing = results.filter((r) => r.error !== undefined);
  for (const { name, error } of failing) app.logger.warn({ check: name, err: error }, "readiness check failed");
  if (failing.length > 0) return reply(res, 503, { status: "unavailable", failing: failing.map((r) => r.name) });
  return reply(res, 200, { status: "ready", checks: Object.fromEntries(results.map((r) => [r.name, "ok"])) });
}

/** Undefined when `probe` resolves within CHECK_TIMEOUT_MS; else what it threw (as an Error), or a timeout Error. */
async function failureOf(probe: () => Promise<unknown>): Promise<Error | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)),
  );
  try {
    await Promise.race([probe(), timeout]);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  } finally {
    clearTimeout(timer);
  }
}

function reply(res: ServerResponse, status: number, body: object): true {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
  return true;
}
