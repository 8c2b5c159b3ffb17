#!/usr/bin/env node
/**
 * Runs the Prisma CLI offline: `node scripts/prisma.mjs <prisma args…>`.
 *
 * The CLI downloads native engines from a host this network cannot reach
 * (../shared/notes/prisma-offline.md). Pointing both engine variables at any
 * existing, non-executable file (here prisma/schema.prisma) stops the download; `generate` needs no engine (the client is the
 * Rust-free `prisma-client` generator) and `migrate` runs the WebAssembly schema
 * engine over the pg driver adapter configured in prisma.config.ts.
 * Exits with the CLI's exit code.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const placeholder = join(root, "prisma", "schema.prisma");
const cli = createRequire(import.meta.url).resolve("prisma/build/index.js");
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: {
    PRISMA_SCHEMA_ENGINE_BINARY: placeholder,
    PRISMA_QUERY_ENGINE_LIBRARY: placeholder,
    PRISMA_HIDE_UPDATE_MESSAGE: "1",
    CHECKPOINT_DISABLE: "1",
    ...process.env,
    // the pothos generator is a bin of node_modules
    PATH: [join(root, "node_modules", ".bin"), process.env.PATH].join(delimiter),
  },
});
process.exit(result.status ?? 1);
