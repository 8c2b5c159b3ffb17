/**
 * Preloaded into every server the bench starts (procs.ts, with --expose-gc):
 * SIGUSR2 runs a full garbage collection, so the heap the bench then reads from
 * /metrics is of live objects only ({@link forcedGcHeapBytes}). Without it a
 * reading includes whatever garbage the last GC left: at 2,000 idle connections
 * readings of the same server differed by up to 3× (docs/performance.md).
 * Plain JavaScript: the servers run without a TypeScript loader (our server is
 * the compiled dist/main.js).
 */
process.on("SIGUSR2", () => globalThis.gc?.());
