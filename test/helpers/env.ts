/**
 * Where the tests find the real servers: PostgreSQL (an admin URL on the
 * `postgres` database) and Redis. Defaults match a local install on the
 * standard ports; override with TEST_DATABASE_URL and TEST_REDIS_URL.
 */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** The migrated database every test database is copied from (TEST_TEMPLATE_DATABASE lets two checkouts test at once). */
export const TEMPLATE_DATABASE = process.env.TEST_TEMPLATE_DATABASE ?? "chat_test_template";

/** `ADMIN_DATABASE_URL` pointed at another database. */
export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
