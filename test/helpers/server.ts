import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import type { App } from "../../src/context.js";
import { makeServer } from "../../src/server.js";
import { createTestDatabase } from "./database.js";
import { REDIS_URL } from "./env.js";

/** A JWT secret known to tests, so they can forge expired tokens. */
export const TEST_JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

export interface TestServer {
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  /** ws://127.0.0.1:<port>/graphql */
  wsUrl: string;
  app: App;
  close(): Promise<void>;
}

/**
 * Starts a real server in this process on a free port, against its own fresh
 * database on the real PostgreSQL, with Redis pub/sub when `redis` is true
 * (in-process pub/sub otherwise) and uploads in a temporary directory of its own.
 * `env` overrides configuration variables.
 */
export async function startTestServer(options: { redis?: boolean; env?: Record<string, string> } = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const attachments = await mkdtemp(join(tmpdir(), "chat-attachments-"));
  const config = loadConfig({
    NODE_ENV: "test",
    PORT: "0",
    DATABASE_URL: database.url,
    JWT_SECRET: TEST_JWT_SECRET,
    ATTACHMENTS_DIR: attachments,
    // its own key prefix: other test servers on the same Redis have other databases
    ...(options.redis ? { REDIS_URL, REDIS_KEY_PREFIX: `test:${randomUUID()}:` } : {}),
    ...options.env,
  });
  const { app, close: closeApp } = await startApp(config, pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }));
  const { server, close: closeServer } = makeServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    app,
    close: async () => {
      await closeServer();
      await closeApp();
      await database.drop();
      await rm(attachments, { recursive: true, force: true });
    },
  };
}
