import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Client } from "graphql-ws";
import { type DestinationStream, pino } from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import type { App } from "../../src/context.js";
import { makeLogger } from "../../src/logger.js";
import { makeServer } from "../../src/server.js";
import { on, registerUsers, type TestUser, type UserOps, wsClient } from "./client.js";
import { createTestDatabase } from "./database.js";
import { REDIS_URL } from "./env.js";

/** A log destination for {@link startTestServer}'s `logTo` that keeps every line, parsed, in `lines`. */
export function logCapture(): { sink: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { sink, lines };
}

/** A JWT secret known to tests, so they can forge expired tokens. */
export const TEST_JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

export interface TestServer {
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  /** ws://127.0.0.1:<port>/graphql */
  wsUrl: string;
  app: App;
  /** Drops the server's database while it runs (to test failures); close() copes. */
  dropDatabase(): Promise<void>;
  close(): Promise<void>;
}

/** How {@link startTestServer} starts a server (each part described there). */
export interface TestServerOptions {
  redis?: boolean;
  env?: Record<string, string>;
  logTo?: DestinationStream;
}

/**
 * Starts a real server in this process on a free port, against its own fresh
 * database on the real PostgreSQL, with Redis pub/sub when `redis` is true
 * (in-process pub/sub otherwise) and uploads in a temporary directory of its own.
 * `env` overrides configuration variables; `logTo` receives the app's log lines
 * (the production logger at info level), which are otherwise silent.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
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
  const logger = options.logTo ? makeLogger("info", false, options.logTo) : pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const { app, close: closeApp } = await startApp(config, logger);
  const { server, close: closeServer } = makeServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    app,
    dropDatabase: () => database.drop(),
    close: async () => {
      await closeServer();
      await closeApp();
      await database.drop();
      await rm(attachments, { recursive: true, force: true });
    },
  };
}

/**
 * What {@link useTestServer} returns. Every part is a stable object that can be
 * destructured where the suite is declared, and is usable once its `beforeAll`
 * has run (inside tests and later hooks):
 * - `server`: the {@link TestServer} (its fields throw if read before it started);
 * - `api`: {@link UserOps} against it (`const { api: { run, ok } } = …` works);
 * - `users`: one {@link TestUser} per name, in order (filled in by `beforeAll`);
 * - `client(user)`: a graphql-ws client on the server as `user`, disposed after each test;
 * - `clients`: the clients still open in the current test (`client` adds to it;
 *   push others here to have them disposed after the test too).
 */
export interface TestServerHarness<Names extends readonly string[]> {
  server: TestServer;
  api: UserOps;
  users: { [K in keyof Names]: TestUser };
  client(user: TestUser): Client;
  clients: Client[];
}

/**
 * Registers the hooks of a suite that runs against one {@link startTestServer}
 * (`options` as there, or a function giving them, called by `beforeAll`: for
 * options known only once an earlier hook has run, such as another service's
 * address) in the current `describe` (or file): `beforeAll` starts it
 * and registers one user per name in `names`, `afterEach` disposes the clients
 * opened with `client`, `afterAll` closes the server. Returns the
 * {@link TestServerHarness}, e.g.
 * `const { server, api, users: [alice, bob], client } = useTestServer(["alice", "bob"], { redis: true });`
 */
export function useTestServer<const Names extends readonly string[]>(
  names: Names,
  options: TestServerOptions | (() => TestServerOptions) = {},
): TestServerHarness<Names> {
  let started: TestServer | undefined;
  const current = () => {
    if (!started) throw new Error("useTestServer: the server is not started yet (use it inside a test or hook)");
    return started;
  };
  const server: TestServer = {
    get url() {
      return current().url;
    },
    get wsUrl() {
      return current().wsUrl;
    },
    get app() {
      return current().app;
    },
    dropDatabase: () => current().dropDatabase(),
    close: () => current().close(),
  };
  const api: UserOps = {
    run: (user, query, variables) => on(current().url).run(user, query, variables),
    ok: (user, query, variables) => on(current().url).ok(user, query, variables),
  };
  const users = names.map(() => ({}) as TestUser) as { [K in keyof Names]: TestUser };
  const clients: Client[] = [];
  const client = (user: TestUser) => {
    const c = wsClient(current().wsUrl, user.accessToken);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    started = await startTestServer(typeof options === "function" ? options() : options);
    const registered = await registerUsers(started.url, names);
    for (const [i, user] of registered.entries()) Object.assign(users[i]!, user);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });
  afterAll(() => started?.close());

  return { server, api, users, client, clients };
}
