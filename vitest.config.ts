import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds; Node loads the CJS one
    // for graphql-yoga and Pothos, so our own imports must get the same instance
    // or `instanceof GraphQLError` fails and every error is masked.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two test files at once (vitest's default is one less than the cores: one on a 2-core
    // machine). A file spends most of its time waiting (coalescing windows, timers, nodes
    // starting, PostgreSQL), so two share 2 cores well; VITEST_MAX_WORKERS overrides it.
    maxWorkers: 2,
  },
});
