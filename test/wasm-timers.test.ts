import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const preload = fileURLToPath(new URL("../scripts/wasm-timers.cjs", import.meta.url));

/**
 * A WebAssembly module (hand-assembled) that imports `env.t: () => void` and exports
 * `run()`, which calls it: a timer started in `t` has a `wasm://` frame on its stack,
 * as the timers Prisma's Wasm schema engine starts through its glue's `setTimeout`.
 */
const WASM = Buffer.from([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
  ...[0x01, 0x04, 0x01, 0x60, 0x00, 0x00], // types: () -> ()
  ...[0x02, 0x09, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x01, 0x74, 0x00, 0x00], // import env.t: type 0
  ...[0x03, 0x02, 0x01, 0x00], // one function of type 0
  ...[0x07, 0x07, 0x01, 0x03, 0x72, 0x75, 0x6e, 0x00, 0x01], // export "run": function 1
  ...[0x0a, 0x06, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0b], // run: call 0, end
]).toString("base64");

/**
 * A script that starts, from WebAssembly, a 60 s timer (as the engine's advisory-lock
 * timeout) and a 100 ms one, and from JavaScript a 500 ms one; each prints when it fires.
 */
const SCRIPT = `
const { instance } = await WebAssembly.instantiate(Buffer.from("${WASM}", "base64"), {
  env: { t: () => { setTimeout(() => console.log("wasm 60 s"), 60_000); setTimeout(() => console.log("wasm 100 ms"), 100); } },
});
instance.exports.run();
setTimeout(() => console.log("js 500 ms"), 500);
`;

/**
 * scripts/wasm-timers.cjs, which scripts/prisma.mjs preloads into Prisma 6.19's CLI:
 * timers started from WebAssembly fire while the process has other work, and no
 * longer keep it alive once it has none (the engine's 10 s advisory-lock timeout held
 * every finished `prisma migrate deploy` open for 10 s).
 */
describe("Wasm timers in the migration CLI (scripts/wasm-timers.cjs)", () => {
  it("do not keep a process alive; they fire while it lives, and JavaScript's timers keep it as before", async () => {
    // without the preload this process lives 60 s and the test times out
    const { stdout } = await run(process.execPath, ["--require", preload, "--input-type=module", "-e", SCRIPT], { timeout: 20_000 });
    expect(stdout.split("\n").filter(Boolean)).toEqual(["wasm 100 ms", "js 500 ms"]);
  });
});
