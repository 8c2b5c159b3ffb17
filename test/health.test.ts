/**
 * Probes: /health (process up) and /ready (PostgreSQL answers with every
 * migration applied, and Redis when configured), 200 naming each check, or 503
 * naming the failing ones, their errors logged and not told.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { logCapture, useTestServer } from "./helpers/server.js";

describe.each([
  ["in-process pub/sub", false],
  ["Redis pub/sub", true],
])("probes (%s)", (_label, redis) => {
  const log = logCapture();
  const { server } = useTestServer([], { redis, logTo: log.sink });
  let origin: string;
  beforeAll(async () => {
    origin = server.url.replace(/\/graphql$/, "");
  });

  it("/health answers 200 while the process is up", async () => {
    const res = await fetch(`${origin}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("/ready answers 200 with every check ok", async () => {
    const res = await fetch(`${origin}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { database: "ok", migrations: "ok", ...(redis ? { redis: "ok" } : {}) } });
  });

  it("/ready answers 503 naming the failed checks, not their errors, when PostgreSQL is gone", async () => {
    const database = new URL(server.app.config.DATABASE_URL!);
    await server.dropDatabase();
    const res = await fetch(`${origin}/ready`);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ status: "unavailable", failing: ["database", "migrations"] });
    for (const detail of [database.host, database.pathname.slice(1)]) expect(body).not.toContain(detail);
    // the detail is in the node's log instead
    const failures = log.lines.filter((l) => l.msg === "readiness check failed");
    expect(failures.map((l) => l.check)).toEqual(["database", "migrations"]);
    expect(JSON.stringify(failures)).toContain(database.pathname.slice(1));
    expect((await fetch(`${origin}/health`)).status).toBe(200);
  });
});
