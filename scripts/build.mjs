#!/usr/bin/env node
/**
 * `npm run build` (and `prestart`): compiles src/ (src/generated, the Prisma
 * client of `postinstall`, included) to ESM JavaScript in dist/, file for file
 * (dist/main.js ← src/main.ts, dist/db/migrate.js ← src/db/migrate.ts …), so
 * paths resolved from `import.meta.url` (the migrations folder, the repo root)
 * are the same from dist/ as from src/. esbuild transpiles only (no type check:
 * `npm run typecheck`; no bundling), without `keepNames` (which tsx turns on and
 * which makes every named closure ~3× bigger), with source maps next to each
 * file (`node --enable-source-maps` maps stack traces back to src/).
 *
 * Up to date is a no-op: dist/.build-stamp holds a SHA-256 of every source file
 * (path and bytes), tsconfig.json, this script and the esbuild version; a
 * build runs only when it differs, into a fresh sibling folder that then
 * replaces dist/ (files of deleted sources do not linger, and a concurrent
 * build or a server starting meanwhile never sees half a dist/).
 *
 *   node scripts/build.mjs            # build if stale; prints what it did
 *   node scripts/build.mjs --force    # build even if up to date
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (absolute). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the compiled server goes: ROOT/dist (gitignored). */
export const DIST = join(ROOT, "dist");
const SRC = join(ROOT, "src");
const STAMP = ".build-stamp";

/**
 * Node arguments that run the compiled server as `npm start` does
 * (`node --enable-source-maps <ROOT>/dist/main.js`); the entry path is absolute,
 * so any working directory works (the server resolves DATA_DIR against its cwd).
 */
export const SERVER_NODE_ARGS = Object.freeze(["--enable-source-maps", join(DIST, "main.js")]);

/** The TypeScript files under `dir`, absolute paths, sorted (declaration files excluded). */
function sources(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

/** SHA-256 (hex) of what the output depends on: each source's path and bytes, tsconfig.json, this script, the esbuild version. */
function fingerprint(files, esbuildVersion) {
  const hash = createHash("sha256");
  for (const file of [...files, join(ROOT, "tsconfig.json"), fileURLToPath(import.meta.url)]) {
    hash.update(relative(ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return hash.update(esbuildVersion).digest("hex");
}

/**
 * Compiles `entryPoints` (absolute .ts paths under `outbase`) into `outdir`,
 * one .js and one .js.map per file: ESM for Node 22, no bundling, no keepNames,
 * no sourcesContent (the maps point at the files under src/).
 * @returns the esbuild module's `build` result.
 */
export async function compile(entryPoints, outdir, outbase) {
  const esbuild = await import("esbuild");
  return esbuild.build({
    entryPoints,
    outdir,
    outbase,
    bundle: false,
    format: "esm",
    platform: "node",
    target: "node22",
    sourcemap: "linked",
    sourcesContent: false,
    keepNames: false,
    tsconfig: join(ROOT, "tsconfig.json"),
    logLevel: "warning",
  });
}

/**
 * Brings dist/ up to date with src/ (see the file comment).
 * @param {{ force?: boolean }} [options] `force`: build even when the stamp matches.
 * @returns {Promise<{ built: boolean; files: number; ms: number }>} whether it compiled, how many sources, and how long it took (ms).
 */
export async function buildServer({ force = false } = {}) {
  const started = performance.now();
  if (!existsSync(SRC)) throw new Error(`no ${SRC}: nothing to build`);
  const files = sources(SRC);
  if (!files.some((f) => f.startsWith(`${join(SRC, "generated")}/`)))
    throw new Error("src/generated/ is missing: run `npm install` (postinstall generates the Prisma client) first");
  const { version } = createRequire(import.meta.url)("esbuild/package.json");
  const stamp = fingerprint(files, version);
  const current = existsSync(join(DIST, STAMP)) ? readFileSync(join(DIST, STAMP), "utf8") : null;
  if (!force && current === stamp && existsSync(SERVER_NODE_ARGS[1]))
    return { built: false, files: files.length, ms: Math.round(performance.now() - started) };

  // a sibling of dist/, so the maps' relative paths (../src/…) stay right after the rename
  const tmp = join(ROOT, `.dist-${process.pid}-${Date.now()}`);
  const old = `${tmp}-old`;
  try {
    await compile(files, tmp, SRC);
    writeFileSync(join(tmp, STAMP), stamp);
    try {
      renameSync(DIST, old);
    } catch (e) {
      if (e.code !== "ENOENT") throw e;
    }
    try {
      renameSync(tmp, DIST);
    } catch (e) {
      // a concurrent build put its dist/ there first: the same sources, keep it
      if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
  return { built: true, files: files.length, ms: Math.round(performance.now() - started) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { built, files, ms } = await buildServer({ force: process.argv.includes("--force") });
  console.log(
    built ? `built dist/ from ${files} files of src/ in ${ms} ms` : `dist/ is up to date with src/ (${files} files, checked in ${ms} ms)`,
  );
}
