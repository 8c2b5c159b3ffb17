import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient as GeneratedClient, type Prisma } from "../generated/prisma/client.js";

/** The app's client: a PrismaClient that emits `query` events. */
export type PrismaClient = ReturnType<typeof makePrisma>;

/** The client or an interactive transaction's client: what a query helper that can run in either takes. */
export type Db = Prisma.TransactionClient;

/**
 * Makes the Prisma client for one PostgreSQL URL. It runs Prisma's Rust-free
 * query compiler over node-postgres (`@prisma/adapter-pg`), so no native engine
 * is needed. `poolSize` bounds the connections this process opens.
 * Every SQL statement is emitted as a `query` event (`db.$on("query", …)`):
 * logged at trace level, and counted by the tests that bound statements per request.
 * When PostgreSQL goes away, the adapter's pool error handler drops the idle
 * clients whose connection died (the process does not crash) and new connections
 * are opened once it is back; requests meanwhile fail with errors that
 * db/errors.ts isDatabaseUnavailable recognises (test/faults/postgres-restart.test.ts).
 */
export function makePrisma(url: string, poolSize = 10) {
  return new GeneratedClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }), log: [{ emit: "event", level: "query" }] });
}

/**
 * How long a write waits for a connection of the write pool, in ms, before it
 * fails with node-postgres' "timeout exceeded when trying to connect", which
 * db/errors.ts isDatabaseUnavailable turns into SERVICE_UNAVAILABLE (retryable).
 */
const WRITE_CONNECT_TIMEOUT_MS = 2000;

/**
 * The write pool: node-postgres connections reserved for the hot write (the
 * send statement, chat/messages.ts), apart from Prisma's pool, so subscription
 * set-up and background reads that fill Prisma's pool never make a send wait
 * (docs/architecture.md "Faults"). Its statements are named prepared statements:
 * parsed and planned once per connection, no per-call query compiler.
 * {@link onQuery} listeners get each statement's text, as Prisma's `query` event
 * does (trace logs; statement counts in tests). An idle connection that dies
 * (PostgreSQL restarting) is dropped and logged through `onError`, never thrown.
 */
export class WritePool {
  private readonly pool: pg.Pool;
  private readonly listeners: ((sql: string) => void)[] = [];

  constructor(url: string, size: number, onError: (err: Error) => void) {
    this.pool = new pg.Pool({ connectionString: url, max: size, connectionTimeoutMillis: WRITE_CONNECT_TIMEOUT_MS });
    this.pool.on("error", onError);
  }

  /** Calls `listener` with the text of every statement run from now on. */
  onQuery(listener: (sql: string) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Runs the named prepared statement `name` (`text`, with `$n` parameters) once
   * and resolves with its rows, columns named as in the statement.
   * @throws node-postgres' errors (a SQLSTATE in `code`, the constraint in `constraint`).
   */
  async query<R extends object>(name: string, text: string, values: unknown[]): Promise<R[]> {
    for (const listener of this.listeners) listener(text);
    return (await this.pool.query<R>({ name, text, values })).rows;
  }

  /** Closes every connection. */
  close(): Promise<void> {
    return this.pool.end();
  }
}
