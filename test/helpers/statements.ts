import { beforeAll } from "vitest";
import type { TestServer } from "./server.js";

/**
 * Registers a `beforeAll` (after the server's own) that listens to `server`'s
 * Prisma `query` events (one per SQL statement, src/db/client.ts), and returns
 * `countStatements(fn)`: runs `fn` and resolves its result with the statements
 * the server ran meanwhile, for any request (so run nothing else at the same time).
 */
export function useStatementCounter(server: TestServer): <T>(fn: () => Promise<T>) => Promise<{ result: T; statements: string[] }> {
  let recording: string[] | null = null;
  beforeAll(() => {
    server.app.db.$on("query", (e) => recording?.push(e.query));
  });
  return async (fn) => {
    const statements: string[] = [];
    recording = statements;
    try {
      return { result: await fn(), statements };
    } finally {
      recording = null;
    }
  };
}
