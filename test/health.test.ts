/**
 * Probes: /health (process up) and /ready (PostgreSQL answers with every
 * migration applied, and Redis when configured), 200 or 503 naming each check.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

describe.each([
  ["in-process pub/sub", false],
  ["Redis pub/sub", true],
])("probes (%s)", (_label, redis) => {
  let server: TestServer;
  let origin: string;
  beforeAll(async () => {
    server = await startTestServer({ redis });
    origin = server.url.replace(/\/graphql$/, "");
  });
  afterAll(() => server.close());

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

  it("/ready answers 503 naming the failed check when PostgreSQL is gone", async () => {
    await server.dropDatabase();
    const res = await fetch(`${origin}/ready`);
    expect(res.status).toBe(503);
    const body = await res.json();
    expect(body.status).toBe("unavailable");
    expect(body.checks.database).not.toBe("ok");
    expect((await fetch(`${origin}/health`)).status).toBe(200);
  });
});
