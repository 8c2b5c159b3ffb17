import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "./context.js";
import { pendingMigrations } from "./db/migrate.js";

/** How long one readiness check may take, in ms, before it counts as failed. */
const CHECK_TIMEOUT_MS = 2000;

/**
 * Probes for load balancers and orchestrators. `GET /health`: the process is up
 * (200, no I/O). `GET /ready`: PostgreSQL answers and has every migration
 * applied, and Redis answers when it is configured: 200 when all pass, else 503;
 * the JSON body names each check (`{ status, checks: { database, migrations, redis? } }`).
 * Resolves false for any other URL (the caller passes it on).
 */
export async function serveHealth(app: App, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (req.method !== "GET" || (path !== "/health" && path !== "/ready")) return false;
  if (path === "/health") return reply(res, 200, { status: "ok" });
  const checks: Record<string, string> = {
    database: await check(async () => void (await app.db.$queryRaw`SELECT 1`)),
    migrations: await check(async () => {
      const pending = await pendingMigrations(app.db);
      if (pending.length > 0) throw new Error(`pending: ${pending.join(", ")}`);
    }),
    ...(app.redis ? { redis: await check(async () => void (await app.redis!.ping())) } : {}),
  };
  const ok = Object.values(checks).every((c) => c === "ok");
  return reply(res, ok ? 200 : 503, { status: ok ? "ready" : "unavailable", checks });
}

/** "ok", or the failure's message (also when it takes longer than CHECK_TIMEOUT_MS). */
async function check(probe: () => Promise<void>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)));
  try {
    await Promise.race([probe(), timeout]);
    return "ok";
  } catch (e) {
    return e instanceof Error ? e.message.split("\n").at(-1)!.trim() : String(e);
  } finally {
    clearTimeout(timer);
  }
}

function reply(res: ServerResponse, status: number, body: object): true {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
  return true;
}
