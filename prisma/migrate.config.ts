import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma-migrate/config";

/**
 * Configuration of the migration CLI only: Prisma 6.19 (`prisma-migrate`, an npm
 * alias of prisma@6.19.3), which runs its bundled WebAssembly schema engine over
 * the `pg` driver adapter (`engine: "js"`). Prisma 7's config has no such option
 * and its `migrate`/`db` commands spawn the native schema engine, which this
 * network cannot download (docs/architecture.md, "Offline Prisma").
 * `generate` and the app's client are Prisma 7 (../prisma.config.ts).
 *
 * Run it through `scripts/prisma.mjs` (`npm run prisma -- migrate …`): it picks
 * this file and passes the schema as a copy with the datasource `url` that 6.19
 * requires and Prisma 7 rejects. Paths here are relative to this file.
 */
/**
 * The pg driver adapter for the migration CLI, with one change: a migration
 * script is sent to PostgreSQL whole, as one simple-protocol query (which
 * PostgreSQL runs as one implicit transaction), as Prisma's native schema engine
 * sends it. @prisma/adapter-pg's own executeScript splits the script at every
 * ";", which cuts a PL/pgSQL function body apart (migrations/…_send_message_function).
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

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  migrations: { path: "migrations" },
  adapter: async () => new WholeScriptPg({ connectionString: process.env.DATABASE_URL, idleTimeoutMillis: 1 }),
});
