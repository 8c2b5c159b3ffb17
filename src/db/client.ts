import { PrismaPg } from "@prisma/adapter-pg";
import { type Prisma, PrismaClient as GeneratedClient } from "../generated/prisma/client.js";

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
