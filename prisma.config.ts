import { defineConfig } from "prisma/config";

/**
 * Prisma 7 CLI configuration: `generate` (postinstall) and the other non-schema
 * commands. `migrate …` and `db …` run on Prisma 6.19's CLI with
 * prisma/migrate.config.ts instead: `scripts/prisma.mjs` picks the CLI and sets
 * up the offline environment (docs/architecture.md, "Offline Prisma").
 */
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL },
});
