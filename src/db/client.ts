import { PrismaPg } from "@prisma/adapter-pg";
import { type Prisma, PrismaClient } from "../generated/prisma/client.js";

export type { PrismaClient } from "../generated/prisma/client.js";

/** The client or an interactive transaction's client: what a query helper that can run in either takes. */
export type Db = Prisma.TransactionClient;

/**
 * Makes the Prisma client for one PostgreSQL URL. It runs Prisma's Rust-free
 * query compiler over node-postgres (`@prisma/adapter-pg`), so no native engine
 * is needed. `poolSize` bounds the connections this process opens.
 */
export function makePrisma(url: string, poolSize = 10): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }) });
}
