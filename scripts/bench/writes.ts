/**
 * Scenario 5, writes: `sendMessage` over HTTP at increasing concurrency c
 * against one server (c requests always in flight, lane i sending to
 * writeRooms[i], so lanes do not wait on one room's row lock), for `count`
 * messages or `timeCapMs`, whichever comes first; versus baseline (c): a raw
 * loop in this process doing what a send must at least do, with the same
 * drivers and the same c: INSERT one "Message" row (pg Pool, 10 connections
 * like the server's Prisma pool; RETURNING *) and PUBLISH its JSON (ioredis),
 * lane i on rawWriteRooms[i], same 100-byte content.
 * Units: msgs/s; latency per send (request → answer) in ms; CPU % of one core
 * and CPU ms per send (ours: the server process; raw: this process, which runs
 * the loop). {@link writesTargets} checks the write targets ({@link WRITE_TARGETS}).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { REDIS_URL } from "../../test/helpers/env.js";
import { graphqlSender, stampedContent } from "./fanout.js";
import { cpuMs, type ServerProcess } from "./procs.js";
import { type BenchContext, startStack } from "./scenarios.js";
import { type LatencySummary, ratio, summarizeSamples, type Target } from "./stats.js";

export interface WriteResult {
  sent: number;
  errors: number;
  errorSample: string | null;
  elapsedMs: number;
  msgsPerS: number;
  latency: LatencySummary;
  cpuPct: number;
  /** CPU used over the level ÷ messages sent, ms (2 decimals); null when none was sent. */
  cpuMsPerSend: number | null;
}

export interface WritesRun {
  concurrency: number;
  /** Messages per side (fewer when the time cap hit first). */
  count: number;
  ours?: WriteResult;
  raw?: WriteResult;
  /** ours.msgsPerS ÷ raw.msgsPerS */
  oursOverRaw: number | null;
  /** Error lines the server logged at this level (pino level ≥ 50, stderr). */
  serverErrors?: string[];
  error?: string;
}

/** Operations run on each side before the first measured level. */
const WARM_UP_SENDS = 2000;

/** Runs `count` operations with `concurrency` lanes (`op(lane)`), stopping early after `timeCapMs`; `cpu()` is read before and after (ms). */
async function drive(
  concurrency: number,
  count: number,
  timeCapMs: number,
  op: (lane: number) => Promise<void>,
  cpu: () => number,
): Promise<WriteResult> {
  const samples: number[] = [];
  let left = count;
  let errors = 0;
  let errorSample: string | null = null;
  const cpu0 = cpu();
  const started = Date.now();
  const lane = async (i: number) => {
    while (left-- > 0 && Date.now() - started < timeCapMs) {
      const t = performance.now();
      try {
        await op(i);
        samples.push(performance.now() - t);
      } catch (e) {
        errors++;
        errorSample ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i)));
  const elapsedMs = Date.now() - started;
  const cpuUsed = cpu() - cpu0;
  return {
    sent: samples.length,
    errors,
    errorSample,
    elapsedMs,
    msgsPerS: Math.round(samples.length / (elapsedMs / 1000)),
    latency: summarizeSamples(samples),
    cpuPct: Math.round((cpuUsed / elapsedMs) * 1000) / 10,
    cpuMsPerSend: samples.length ? Math.round((cpuUsed / samples.length) * 100) / 100 : null,
  };
}

/** The writes scenario at each of `levels`; `countFor(c)` messages per level and side. */
export async function writesScenario(
  ctx: BenchContext,
  levels: number[],
  countFor: (c: number) => number,
  timeCapMs: number,
): Promise<WritesRun[]> {
  const { data } = ctx;
  const runs: WritesRun[] = levels.map((c) => ({ concurrency: c, count: countFor(c), oursOverRaw: null }));
  let server: ServerProcess | undefined;
  const pool = new pg.Pool({ connectionString: ctx.databaseUrl, max: 10 });
  // pool.end() resolves before its clients' sockets are closed; the DROP DATABASE … WITH (FORCE)
  // that follows must not turn a client still closing into an uncaught 'error'
  pool.on("connect", (client) => client.on("error", () => {}));
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  try {
    const [node] = (await startStack(ctx, "ours")) as [ServerProcess];
    server = node;
    const send = graphqlSender(node.url, data.sender.token);
    const pid = node.pid;
    // per-room seq of the raw loop's rows (the rooms are its own)
    const rawSeq = new Map<string, number>();
    const rawOp = async (lane: number) => {
      const roomId = data.rawWriteRooms[lane]!;
      const seq = (rawSeq.get(roomId) ?? 0) + 1;
      rawSeq.set(roomId, seq);
      const { rows } = await pool.query(
        `INSERT INTO "Message" (id, "roomId", seq, "senderId", content) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [randomUUID(), roomId, seq, data.sender.userId, stampedContent(seq)],
      );
      await redis.publish(`${ctx.redisPrefix}raw:room:${roomId}:message`, JSON.stringify({ message: rows[0] }));
    };
    const oursOp = (lane: number) => send(data.writeRooms[lane]!, stampedContent(lane));
    // warm-up (not measured): pools, prepared plans, and V8's optimizing compiler, which takes a
    // few thousand calls of a path; a shorter warm-up measures half-cold code at low concurrency (docs/performance.md)
    await drive(8, WARM_UP_SENDS, 60_000, oursOp, () => 0);
    await drive(8, WARM_UP_SENDS, 60_000, rawOp, () => 0);
    for (const run of runs) {
      ctx.log(`writes: concurrency ${run.concurrency}, ${run.count} messages each side`);
      try {
        run.ours = await drive(run.concurrency, run.count, timeCapMs, oursOp, () => cpuMs(pid));
        run.raw = await drive(run.concurrency, run.count, timeCapMs, rawOp, () => {
          const { user, system } = process.cpuUsage();
          return (user + system) / 1000;
        });
        run.oursOverRaw = ratio(run.ours.msgsPerS, run.raw.msgsPerS);
        const serverErrors = node.takeErrors();
        if (serverErrors.length) run.serverErrors = serverErrors;
        ctx.log(
          `  ours ${run.ours.msgsPerS} msg/s (p50 ${run.ours.latency.p50Ms} ms, p99 ${run.ours.latency.p99Ms} ms, ${run.ours.errors} errors), ` +
            `raw ${run.raw.msgsPerS} msg/s (p50 ${run.raw.latency.p50Ms} ms, p99 ${run.raw.latency.p99Ms} ms): ratio ${run.oursOverRaw}` +
            (run.ours.errorSample ? `; first error: ${run.ours.errorSample}` : ""),
        );
      } catch (e) {
        run.error = e instanceof Error ? e.message : String(e);
        ctx.log(`  FAILED: ${run.error}`);
      }
    }
  } catch (e) {
    const error = e instanceof Error ? e.message.slice(0, 2000) : String(e);
    ctx.log(`writes FAILED: ${error}`);
    for (const run of runs) run.error ??= error;
  } finally {
    await server?.stop();
    await pool.end();
    redis.disconnect();
  }
  return runs;
}

/**
 * The targets for writes: ours ÷ raw (msgs/s) at least `ratioAt8` at
 * concurrency 8 and at least `ratioEverywhere` at every concurrency from 1 to
 * 64; p50 latency at concurrency 1 below `p50AtOneMs` (ms); no errors at 64.
 */
export const WRITE_TARGETS = { ratioAt8: 0.7, ratioEverywhere: 0.5, p50AtOneMs: 2, noErrorsAt: 64 } as const;

/** {@link WRITE_TARGETS} checked against `runs` (a target whose level was not run, or failed, is not met, or null when not run). */
export function writesTargets(runs: WritesRun[]): Target[] {
  const T = WRITE_TARGETS;
  const at = (c: number) => runs.find((r) => r.concurrency === c);
  const r8 = at(8);
  const everywhere = runs.filter((r) => r.concurrency >= 1 && r.concurrency <= 64);
  const worst = everywhere.reduce<WritesRun | null>((w, r) => (w === null || (r.oursOverRaw ?? -1) < (w.oursOverRaw ?? -1) ? r : w), null);
  const r1 = at(1);
  const p50 = r1?.ours?.latency.p50Ms ?? null;
  const rTop = at(T.noErrorsAt);
  const errorsTop = rTop ? (rTop.ours?.errors ?? 0) + (rTop.serverErrors?.length ?? 0) : null;
  return [
    {
      name: `ours ÷ raw ≥ ${T.ratioAt8} at concurrency 8`,
      met: r8 ? (r8.oursOverRaw ?? 0) >= T.ratioAt8 : null,
      detail: r8 ? `${r8.oursOverRaw ?? r8.error ?? "n/a"}` : "not run",
    },
    {
      name: `ours ÷ raw ≥ ${T.ratioEverywhere} at every concurrency 1–64`,
      met: worst ? everywhere.every((r) => (r.oursOverRaw ?? 0) >= T.ratioEverywhere) : null,
      detail: worst
        ? `lowest ${worst.oursOverRaw ?? "n/a"} at ${worst.concurrency} (levels ${everywhere.map((r) => r.concurrency).join(", ")})`
        : "not run",
    },
    {
      name: `p50 < ${T.p50AtOneMs} ms at concurrency 1`,
      met: r1 ? p50 !== null && p50 < T.p50AtOneMs : null,
      detail: r1 ? `${p50 ?? "n/a"} ms` : "not run",
    },
    {
      name: `no errors at concurrency ${T.noErrorsAt}`,
      met: rTop ? !rTop.error && errorsTop === 0 : null,
      detail: rTop
        ? rTop.error
          ? `failed: ${rTop.error.split("\n")[0]!.slice(0, 80)}`
          : `${rTop.ours?.errors ?? 0} failed sends, ${rTop.serverErrors?.length ?? 0} distinct server error lines`
        : "not run",
    },
  ];
}
