/**
 * A fleet of K client processes (client-worker.ts), the bench's subscribers.
 * Socket i goes to process i mod K; handshakes run with at most
 * `concurrency` in flight over the whole fleet. Results of the processes are
 * merged: deliveries and missing summed, latency histograms merged,
 * firstRecv/lastRecv the earliest/latest (epoch ms).
 */
import type { ChildProcess } from "node:child_process";
import type { OpenResult, Request, SocketSpec, WorkerReport } from "./client-worker.js";
import { forkTs, stopChild } from "./procs.js";
import { type HistogramPairs, merge } from "./stats.js";

export type { SocketSpec } from "./client-worker.js";

/** The fleet's merged report (see WorkerReport; `hist` merged over processes). */
export interface FleetReport extends Omit<WorkerReport, "hist"> {
  hist: Map<number, number>;
}

/** A request without its id (added by `ask`). */
type Body = { [C in Request["cmd"]]: Omit<Extract<Request, { cmd: C }>, "rid"> }[Request["cmd"]];

export class ClientFleet {
  private rid = 0;

  private constructor(private readonly workers: ChildProcess[]) {}

  /** Forks `k` client processes, which exit by themselves after `hardTimeoutMs`. */
  static start(k: number, hardTimeoutMs: number): ClientFleet {
    return new ClientFleet(Array.from({ length: k }, () => forkTs("client-worker.ts", { BENCH_HARD_TIMEOUT_MS: String(hardTimeoutMs) })));
  }

  /** Sends `body` to worker `w`, resolves its answer; rejects if it exits first or after `timeoutMs`. */
  private ask<T>(w: ChildProcess, body: Body, timeoutMs: number): Promise<T> {
    const rid = ++this.rid;
    return new Promise<T>((resolve, reject) => {
      const onMessage = (message: { rid: number } & T) => {
        if (message.rid !== rid) return;
        done();
        resolve(message);
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`client process exited (${code}) during ${body.cmd}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`client process did not answer ${body.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        w.off("message", onMessage);
        w.off("exit", onExit);
      };
      if (!w.connected) {
        done();
        return reject(new Error(`client process is gone (${body.cmd})`));
      }
      w.on("message", onMessage);
      w.once("exit", onExit);
      w.send({ rid, ...body }, (err) => {
        if (!err) return;
        done();
        reject(err);
      });
    });
  }

  private all<T>(body: Body | ((w: number) => Body), timeoutMs: number): Promise<T[]> {
    return Promise.all(this.workers.map((w, i) => this.ask<T>(w, typeof body === "function" ? body(i) : body, timeoutMs)));
  }

  /** Opens and subscribes `sockets` (i → process i mod K); resolves the totals and the first few distinct errors. */
  async open(sockets: SocketSpec[], concurrency: number, timeoutMs: number): Promise<OpenResult> {
    const k = this.workers.length;
    const parts = await this.all<OpenResult>(
      (w) => ({ cmd: "open", sockets: sockets.filter((_, i) => i % k === w), concurrency: Math.max(1, Math.floor(concurrency / k)) }),
      timeoutMs,
    );
    return {
      ok: parts.reduce((s, p) => s + p.ok, 0),
      failed: parts.reduce((s, p) => s + p.failed, 0),
      errors: [...new Set(parts.flatMap((p) => p.errors))].slice(0, 5),
    };
  }

  /** Forgets deliveries so far in every process. */
  async reset(): Promise<void> {
    await this.all({ cmd: "reset" }, 10_000);
  }

  /** Deliveries so far, over all processes. */
  async deliveries(): Promise<number> {
    return (await this.progress()).deliveries;
  }

  /** Deliveries and (BENCH_MY_EVENTS=1) myEvents frames so far, over all processes. */
  async progress(): Promise<{ deliveries: number; activity: number }> {
    const parts = await this.all<{ deliveries: number; activity: number }>({ cmd: "progress" }, 10_000);
    return { deliveries: parts.reduce((s, p) => s + p.deliveries, 0), activity: parts.reduce((s, p) => s + p.activity, 0) };
  }

  /** Merged report; `expectedByRoom`: how many messages each subscriber of a room should have received. */
  async report(expectedByRoom: Record<string, number>): Promise<FleetReport> {
    const parts = await this.all<WorkerReport>({ cmd: "report", expectedByRoom }, 30_000);
    const sum = (f: (p: WorkerReport) => number) => parts.reduce((s, p) => s + f(p), 0);
    const times = (f: (p: WorkerReport) => number | null) => parts.map(f).filter((t): t is number => t !== null);
    const closed: Record<string, number> = {};
    for (const p of parts) for (const [code, n] of Object.entries(p.closed)) closed[code] = (closed[code] ?? 0) + n;
    return {
      deliveries: sum((p) => p.deliveries),
      missing: sum((p) => p.missing),
      extra: sum((p) => p.extra),
      hist: merge(parts.map((p) => p.hist as HistogramPairs)),
      firstRecv: times((p) => p.firstRecv).length ? Math.min(...times((p) => p.firstRecv)) : null,
      lastRecv: times((p) => p.lastRecv).length ? Math.max(...times((p) => p.lastRecv)) : null,
      frameBytes: parts.find((p) => p.frameBytes !== null)?.frameBytes ?? null,
      closed,
      activity: sum((p) => p.activity),
      unstamped: sum((p) => p.unstamped),
      unstampedSample: parts.find((p) => p.unstampedSample)?.unstampedSample ?? null,
    };
  }

  /** Terminates every socket, then ends the processes (SIGKILL if one does not exit within 5 s). */
  async close(): Promise<void> {
    await this.all({ cmd: "close" }, 15_000).catch(() => {});
    await Promise.all(
      this.workers.map((w) => {
        if (w.connected) w.disconnect();
        return stopChild(w, "SIGTERM", 5000);
      }),
    );
  }
}
