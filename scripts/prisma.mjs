#!/usr/bin/env node
/**
 * Runs the Prisma CLI offline: `node scripts/prisma.mjs <prisma args…>`.
 *
 * The CLI downloads native engines from a host this network cannot reach
 * (../shared/notes/prisma-offline.md). Pointing both engine variables at any
 * existing, non-executable file (here prisma/schema.prisma) stops the download.
 *
 * Two CLIs (docs/architecture.md, "Offline Prisma"):
 * - `generate` and everything else: Prisma 7 (`prisma`, config prisma.config.ts).
 *   It needs no engine: the client is the Rust-free `prisma-client` generator.
 * - `migrate …` and `db …`: Prisma 6.19 (`prisma-migrate`, an npm alias of
 *   prisma@6.19.3, config prisma/migrate.config.ts), whose WebAssembly schema
 *   engine runs over the pg driver adapter. Prisma 7's schema commands need the
 *   native schema engine. 6.19 also wants `url` in the schema's datasource block,
 *   which Prisma 7 rejects, so the schema files handed to it (the default schema,
 *   `--schema`, `--from-/--to-schema-datamodel`) are copies with
 *   `url = env("DATABASE_URL")` added (node_modules/.cache/prisma-migrate/).
 *   It runs with scripts/wasm-timers.cjs preloaded, without which a finished
 *   command stays open ≈ 10 s on its schema engine's advisory-lock timer.
 * Exits with the CLI's exit code.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const placeholder = join(root, "prisma", "schema.prisma");
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const schemaCommand = args[0] === "migrate" || args[0] === "db";

/**
 * The path of a copy of the schema at `path` whose datasource block has
 * `url = env("DATABASE_URL")`, for Prisma 6.19; the file itself when it has one.
 */
function withDatasourceUrl(path) {
  const text = readFileSync(path, "utf8");
  const block = /^datasource\s+\w+\s*\{[^}]*\}/m.exec(text);
  if (!block) throw new Error(`${path}: no datasource block`);
  if (/^\s*url\s*=/m.test(block[0])) return path;
  const patched = text.replace(block[0], block[0].replace(/\}$/, '  url = env("DATABASE_URL")\n}'));
  const dir = join(root, "node_modules", ".cache", "prisma-migrate");
  const out = join(dir, `schema-${createHash("sha256").update(patched).digest("hex").slice(0, 16)}.prisma`);
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, patched);
  renameSync(tmp, out); // atomic: concurrent runs write the same content
  return out;
}

let cli;
let cliArgs = args;
let nodeArgs = [];
if (schemaCommand) {
  cli = require.resolve("prisma-migrate/build/index.js");
  nodeArgs = ["--require", join(root, "scripts", "wasm-timers.cjs")];
  const schemaFlags = new Set([
    "--schema",
    "--from-schema-datamodel",
    "--to-schema-datamodel",
    "--from-schema-datasource",
    "--to-schema-datasource",
  ]);
  cliArgs = args.map((arg, i) => {
    const [flag, value] = arg.split("=", 2);
    if (value !== undefined && schemaFlags.has(flag)) return `${flag}=${withDatasourceUrl(resolve(value))}`;
    if (i > 0 && schemaFlags.has(args[i - 1])) return withDatasourceUrl(resolve(arg));
    return arg;
  });
  const given = (flag) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  if (!given("--config")) cliArgs.push("--config", join(root, "prisma", "migrate.config.ts"));
  // `migrate diff` takes its schemas as --from-/--to- flags and has no --schema
  if (!given("--schema") && !(args[0] === "migrate" && args[1] === "diff")) {
    cliArgs.push("--schema", withDatasourceUrl(placeholder));
  }
} else {
  cli = require.resolve("prisma/build/index.js");
}

const result = spawnSync(process.execPath, [...nodeArgs, cli, ...cliArgs], {
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
