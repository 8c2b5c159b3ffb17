/** Types of scripts/build.mjs (plain JavaScript, so that `npm start` needs no TypeScript loader); documented there. */
import type { BuildResult } from "esbuild";

/** The repository root (absolute). */
export declare const ROOT: string;
/** Where the compiled server goes: ROOT/dist. */
export declare const DIST: string;
/** Node arguments that run the compiled server as `npm start` does: `--enable-source-maps <ROOT>/dist/main.js`. */
export declare const SERVER_NODE_ARGS: readonly string[];
/** Compiles `entryPoints` (absolute .ts paths under `outbase`) into `outdir`: ESM for Node 22, file for file, no keepNames, linked source maps. */
export declare function compile(entryPoints: string[], outdir: string, outbase: string): Promise<BuildResult>;
/** Brings dist/ up to date with src/; `built`: whether it compiled, `files`: sources, `ms`: time taken. */
export declare function buildServer(options?: { force?: boolean }): Promise<{ built: boolean; files: number; ms: number }>;
