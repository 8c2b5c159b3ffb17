import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";

/**
 * Prisma CLI configuration. The CLI runs its bundled WebAssembly schema engine
 * over the `pg` driver adapter (`engine: "js"`), so `migrate` works without the
 * native engine download that this network cannot reach
 * (../shared/notes/prisma-offline.md). `scripts/prisma.mjs` sets the rest up.
 */
export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  adapter: async () => new PrismaPg({ connectionString: process.env.DATABASE_URL, idleTimeoutMillis: 1 }),
});
