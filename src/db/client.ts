import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.js";

export type { PrismaClient } from "../generated/prisma/client.js";

/**
 * Makes the Prisma client for one PostgreSQL URL. It runs Prisma's Rust-free
 * query compiler over node-postgres (`@prisma/adapter-pg`), so no native engine
 * is needed. `poolSize` bounds the connections this process opens.
 */
export function makePrisma(url: string, poolSize = 10): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }) });
}
