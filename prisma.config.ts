import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";

/**
 * The pg driver adapter for the CLI, with one change: a migration script is
 * sent to PostgreSQL whole, as one simple-protocol query (which PostgreSQL runs
 * as one implicit transaction), as Prisma's native schema engine sends it.
 * @prisma/adapter-pg's own executeScript splits the script at every ";", which
 * cuts a PL/pgSQL function body apart (prisma/migrations/…_send_message_function).
 */
class WholeScriptPg extends PrismaPg {
  override async connect() {
    const adapter = await super.connect();
    const pool = adapter.underlyingDriver();
    adapter.executeScript = async (script: string) => {
      await pool.query(script);
    };
    return adapter;
  }
}

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
  adapter: async () => new WholeScriptPg({ connectionString: process.env.DATABASE_URL, idleTimeoutMillis: 1 }),
});
