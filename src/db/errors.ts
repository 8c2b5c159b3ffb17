/**
 * True when `e` is a unique-constraint violation, optionally on a constraint
 * whose fields include `field`: Prisma's P2002 from a model call, P2010 (raw
 * query failed) whose driver-adapter cause is a UniqueConstraintViolation, from
 * `$queryRaw`, or node-postgres' SQLSTATE 23505 from the write pool (db/client.ts
 * WritePool). For the last two `field` is matched in the constraint's name, which names its columns.
 */
export function isUniqueViolation(e: unknown, field?: string): boolean {
  if (typeof e !== "object" || e === null) return false;
  const err = e as { code?: unknown; constraint?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } };
  if (err.code === "23505") return field === undefined || String(err.constraint).includes(field);
  const unique = err.code === "P2002" || (err.code === "P2010" && err.meta?.driverAdapterError?.cause?.kind === "UniqueConstraintViolation");
  return unique && (field === undefined || JSON.stringify(err.meta ?? {}).includes(field));
}

/** Prisma error codes that mean "the database did not answer", not "the request is wrong" (prisma.io/docs/orm/reference/error-reference). */
const UNAVAILABLE_PRISMA_CODES = new Set([
  "P1001", // can't reach database server
  "P1002", // database server reached but timed out
  "P1008", // operations timed out
  "P1017", // server has closed the connection
  "P2024", // timed out fetching a new connection from the pool
  "P2028", // transaction API error: an interactive transaction expired (its 5 s timeout) or was closed under it
]);

/** Driver-adapter error kinds (@prisma/adapter-pg's convertDriverError) of a lost or refused connection. */
const UNAVAILABLE_ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);

/**
 * PostgreSQL SQLSTATEs of a server going away or not accepting work yet: class 08
 * (connection exception), 57P01–57P03 (admin/crash shutdown, cannot connect now:
 * "the database system is starting up"), 53300 (too many connections).
 */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[123]$|53300$)/;

/**
 * node-postgres' own messages for a client whose connection died (thrown as plain
 * Errors, which the adapter passes through unconverted, e.g. inside a transaction),
 * and for a pool that found no free connection in time (the write pool's
 * `connectionTimeoutMillis`, db/client.ts WRITE_CONNECT_TIMEOUT_MS).
 */
const PG_CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect)/;

/** Node's socket error codes for a server that cannot be reached (node-postgres' raw errors from the write pool carry them in `code`). */
const UNREACHABLE_SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * True when `e` says PostgreSQL could not serve the request now — unreachable,
 * restarting, a connection lost mid-request, a pool exhausted (Prisma's or the
 * write pool's), or an
 * interactive transaction that expired (P2028) — so the same request may succeed
 * when retried later. False for everything else (bugs, constraint violations).
 * The one place these errors are recognised: the server's maskError turns them
 * into SERVICE_UNAVAILABLE (src/server.ts).
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  type Cause = { kind?: unknown; originalCode?: unknown };
  const err = e as { code?: unknown; message?: unknown; cause?: Cause; meta?: { driverAdapterError?: { cause?: Cause } } };
  if (typeof err.code === "string" && UNAVAILABLE_PRISMA_CODES.has(err.code)) return true;
  // node-postgres' own errors (the write pool): a SQLSTATE, or a socket's error code, in `code`
  if (typeof err.code === "string" && (UNAVAILABLE_SQLSTATE.test(err.code) || UNREACHABLE_SOCKET_CODES.has(err.code))) return true;
  // wrapped in a Prisma error's meta, or a bare DriverAdapterError
  const cause = err.meta?.driverAdapterError?.cause ?? err.cause;
  if (typeof cause?.kind === "string" && UNAVAILABLE_ADAPTER_KINDS.has(cause.kind)) return true;
  if (cause?.kind === "postgres" && typeof cause.originalCode === "string" && UNAVAILABLE_SQLSTATE.test(cause.originalCode)) return true;
  return typeof err.message === "string" && PG_CONNECTION_LOST.test(err.message);
}
