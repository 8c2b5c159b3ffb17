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
import { on, registerUser, registerUsers, type TestUser, type UserOps, wsClient } from "./client.js";
import { createTestDatabase } from "./database.js";
import { REDIS_URL } from "./env.js";
import { type NodeGroup, type NodeProcess, startNodes, type Tuple } from "./node-process.js";
import { makeRoom } from "./rooms.js";

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

/** How {@link useNodes} starts its group: `timeoutMs` bounds its `beforeAll` (120,000 ms by default: the nodes start in parallel, 2 cores shared). */
export interface UseNodesOptions {
  timeoutMs?: number;
}

/**
 * Registers the hooks of a suite that runs against {@link startNodes}(`count`, `env`)
 * in the current `describe` (or file), in the manner of {@link useTestServer}:
 * `beforeAll` starts the group, `afterAll` stops it (SIGTERM, database dropped).
 * `env` may be a function, called and awaited by that `beforeAll`: for variables
 * known only once an earlier hook has run, or a service it starts itself (e.g. a
 * dedicated Redis). Returns the {@link NodeGroup} at once, usable once its
 * `beforeAll` has run: `nodes` are stand-ins for the started nodes (each field
 * throws if read before), so `const { nodes: [a, b] } = useNodes(2)` works where
 * the suite is declared.
 */
export function useNodes<N extends number>(
  count: N,
  env: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>) = {},
  options: UseNodesOptions = {},
): NodeGroup<Tuple<NodeProcess, N>> {
  let started: NodeGroup<Tuple<NodeProcess, N>> | undefined;
  const current = () => {
    if (!started) throw new Error("useNodes: the nodes are not started yet (use them inside a test or hook)");
    return started;
  };
  const at = (i: number) => (current().nodes as NodeProcess[])[i]!;
  const node = (i: number): NodeProcess => ({
    get url() {
      return at(i).url;
    },
    get wsUrl() {
      return at(i).wsUrl;
    },
    get child() {
      return at(i).child;
    },
    output: () => at(i).output(),
    stop: (signal) => at(i).stop(signal),
  });
  beforeAll(async () => {
    started = await startNodes(count, typeof env === "function" ? await env() : env);
  }, options.timeoutMs ?? 120_000);
  afterAll(() => started?.stop());
  return {
    nodes: Array.from({ length: count }, (_, i) => node(i)) as Tuple<NodeProcess, N>,
    get env() {
      return current().env;
    },
    startAnother: () => current().startAnother(),
    stop: () => current().stop(),
  };
}

/**
 * The setup of the two-node suites (two-nodes, shutdown): {@link useNodes}(2, `env`),
 * and, registered by a `beforeAll`, alice on node A, bob and carol on node B, and a
 * GROUP room named `name` of alice's with bob and carol as members (`room.id`).
 */
export function useRoomAcrossNodes(env: Record<string, string>, name: string) {
  const group = useNodes(2, env);
  const [a, b] = group.nodes;
  const users = [{}, {}, {}] as [TestUser, TestUser, TestUser];
  const room = { id: "" };
  beforeAll(async () => {
    const registered = await Promise.all([registerUser(a.url, "alice"), registerUser(b.url, "bob"), registerUser(b.url, "carol")]);
    for (const [i, user] of registered.entries()) Object.assign(users[i]!, user);
    room.id = await makeRoom(on(a.url), users[0], { name, members: [users[1], users[2]] });
  });
  return { group, users, room };
}
