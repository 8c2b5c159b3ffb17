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
  const unique =
    err.code === "P2002" || (err.code === "P2010" && err.meta?.driverAdapterError?.cause?.kind === "UniqueConstraintViolation");
  return unique && (field === undefined || JSON.stringify(err.meta ?? {}).includes(field));
}

/** Prisma error codes that mean "the database did not answer", not "the request is wrong" (prisma.io/docs/orm/reference/error-reference). */
const UNAVAILABLE_PRISMA_CODES = new Set([
  "P1001", // can't reach database server
  "P1002", // database server reached but timed out
  "P1008", // operations timed out
  "P1017", // server has closed the connection
  "P2024", // timed out fetching a new connection from the pool
  "P2028", // transaction API error: one that could not start within maxWait ("Unable to start a transaction in the given time"), expired (its timeout) or was closed under it
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
 * node-postgres' own messages for a connection that died, or that could not be had:
 * thrown as plain Errors, which @prisma/adapter-pg passes through unconverted (inside
 * a transaction, and when acquiring a connection), as does a plain `pg.Pool`.
 * "timeout exceeded when trying to connect": pg-pool waited `connectionTimeoutMillis`
 * for a free connection (the pool exhausted) or for a new one to open;
 * "Connection terminated" covers "… unexpectedly" (socket lost) and "… due to connection timeout".
 */
const PG_CONNECTION_LOST =
  /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect)/;

/** Node's socket error codes of a connection refused, reset, timed out or unroutable, which a plain `pg.Pool` throws as they are. */
const UNAVAILABLE_SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * True when `e` says PostgreSQL could not serve the request now — unreachable,
 * restarting, a connection lost mid-request, the pool exhausted, or an
 * interactive transaction that could not start in time or expired (P2028) — so
 * the same request may succeed when retried later. False for everything else
 * (bugs, constraint violations). It knows three shapes: Prisma's errors (a `P…`
 * code, or a driver-adapter error in `meta` or `cause`), and node-postgres' own,
 * raw from a plain `pg.Pool` (the write pool) or passed through Prisma: a
 * DatabaseError with a SQLSTATE in `code`, a socket error (`ECONNREFUSED`…), or
 * one of its messages. The one place these errors are recognised: the server's
 * maskError turns them into SERVICE_UNAVAILABLE (src/server.ts).
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  return unavailable(e, 0);
}

/** {@link isDatabaseUnavailable} of `e`, found `depth` levels down inside another error. */
function unavailable(e: unknown, depth: number): boolean {
  if (typeof e !== "object" || e === null || depth > 3) return false;
  type Cause = { kind?: unknown; originalCode?: unknown };
  const err = e as {
    code?: unknown;
    message?: unknown;
    cause?: Cause;
    errors?: unknown;
    meta?: { driverAdapterError?: { cause?: Cause } };
  };
  if (typeof err.code === "string" && UNAVAILABLE_PRISMA_CODES.has(err.code)) return true;
  // wrapped in a Prisma error's meta, or a bare DriverAdapterError
  const cause = err.meta?.driverAdapterError?.cause ?? err.cause;
  if (typeof cause?.kind === "string" && UNAVAILABLE_ADAPTER_KINDS.has(cause.kind)) return true;
  if (cause?.kind === "postgres" && typeof cause.originalCode === "string" && UNAVAILABLE_SQLSTATE.test(cause.originalCode)) return true;
  // node-postgres, raw: a server error (SQLSTATE; Prisma's codes start with P, so never match), a socket error
  if (typeof err.code === "string" && (UNAVAILABLE_SQLSTATE.test(err.code) || UNAVAILABLE_SOCKET_CODES.has(err.code))) return true;
  if (typeof err.message === "string" && PG_CONNECTION_LOST.test(err.message)) return true;
  // every address refused (Node's AggregateError of a host with several), or an Error wrapping one of the above
  if (Array.isArray(err.errors) && err.errors.length > 0 && err.errors.every((x) => unavailable(x, depth + 1))) return true;
  return err.cause instanceof Error && unavailable(err.cause, depth + 1);
}
