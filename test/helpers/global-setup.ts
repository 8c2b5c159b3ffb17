import pg from "pg";
import { buildServer } from "../../scripts/build.mjs";
import { migrate } from "../../src/db/migrate.js";
import { ADMIN_DATABASE_URL, databaseUrl, TEMPLATE_DATABASE } from "./env.js";

/**
 * Runs once before all test files: (re)creates the template database and
 * applies the committed migrations to it with `prisma migrate deploy`, so each
 * test file can copy it (CREATE DATABASE … TEMPLATE) in milliseconds; and
 * brings dist/ up to date with src/ (scripts/build.mjs), since the tests that
 * start servers as processes run the compiled server, as `npm start` does.
 */
export default async function setup(): Promise<void> {
  await buildServer();
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const url = databaseUrl(TEMPLATE_DATABASE);
  await migrate(url);
}
