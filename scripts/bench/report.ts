/**
 * The results of a bench run: {@link BenchResults} as JSON
 * (bench-results/latest.json) and a short Markdown summary
 * (bench-results/latest.md, also printed). Markdown units: deliveries/s and
 * msgs/s, latencies in ms, CPU in % of one core, memory in MiB or bytes per connection.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { type FanoutRun, type IdleRun, manyRoomsLabel, type Stack } from "./scenarios.js";
import type { ShardsRun } from "./shards.js";
import { ratio, type Target } from "./stats.js";
import type { SyncRun } from "./sync.js";
import type { WritesRun } from "./writes.js";

/** Delivery-rate ratios of one N: ours ÷ ceiling, ours ÷ naive, two nodes ÷ one node (ours). */
export interface FanoutRatios {
  subscribers: number;
  oursOverCeiling: number | null;
  oursOverNaive: number | null;
  /** p99 latency, ours ÷ ceiling (higher is worse). */
  p99OursOverCeiling: number | null;
  twoNodesOverOneNode: number | null;
}

export interface BenchResults {
  date: string;
  durationS: number;
  argv: string[];
  machine: {
    cpus: number;
    cpuModel: string;
    totalMemBytes: number;
    node: string;
    platform: string;
    release: string;
    openFilesLimit: number;
    loadAvgAtStart: number;
    busyPctAtStart: number;
    loadAvgAtEnd: number;
  };
  /** Parameters of every scenario as run (N values, messages, rates, client processes…). */
  params: Record<string, unknown>;
  fanout: FanoutRun[];
  ratios: FanoutRatios[];
  idle: IdleRun[];
  writes: WritesRun[];
  /** The sync scenario (sync.ts), when selected. */
  sync?: SyncRun;
  /** The shards scenario (shards.ts): one Redis, then a Redis Cluster, when selected. */
  shards: ShardsRun[];
  /** The performance targets checked against this run (writes.ts writesTargets, scenarios.ts manyRoomsTargets). */
  targets: { writes: Target[]; manyRooms: Target[] };
  notes: string[];
  failures: string[];
}

/** Delivery-rate ratios for each N that has runs of the stacks compared. */
export function fanoutRatios(runs: FanoutRun[]): FanoutRatios[] {
  const rate = (scenario: string, stack: Stack, n: number) =>
    runs.find((r) => r.scenario === scenario && r.stack === stack && r.subscribers === n && !r.error)?.result;
  const ns = [...new Set(runs.filter((r) => r.scenario.startsWith("fanout")).map((r) => r.subscribers))].sort((a, b) => a - b);
  return ns.map((n) => {
    const ours = rate("fanout-1node", "ours", n);
    return {
      subscribers: n,
      oursOverCeiling: ratio(ours?.deliveriesPerS, rate("fanout-1node", "ceiling", n)?.deliveriesPerS),
      oursOverNaive: ratio(ours?.deliveriesPerS, rate("fanout-1node", "naive", n)?.deliveriesPerS),
      p99OursOverCeiling: ratio(ours?.latency.p99Ms, rate("fanout-1node", "ceiling", n)?.latency.p99Ms),
      twoNodesOverOneNode: ratio(rate("fanout-2nodes", "ours", n)?.deliveriesPerS, ours?.deliveriesPerS),
    };
  });
}

const mib = (bytes: number | null | undefined) => (bytes == null || Number.isNaN(bytes) ? "n/a" : (bytes / 2 ** 20).toFixed(0));
const num = (v: number | null | undefined) => (v == null ? "n/a" : v.toLocaleString("en-US"));
const cell = (v: unknown) => String(v).replaceAll("|", "\\|");

function table(header: string[], rows: unknown[][]): string {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join(
    "\n",
  );
}

/** One Markdown paragraph, "**Targets** (k of n met): " then each target's name, verdict (met, NOT met, not measured) and figures; null when there are none. */
function targetsLine(targets: Target[]): string | null {
  if (!targets.length) return null;
  const verdict = (t: Target) => (t.met === null ? "not measured" : t.met ? "met" : "NOT met");
  return `\n**Targets** (${targets.filter((t) => t.met).length} of ${targets.length} met): ${targets.map((t) => `${t.name}: **${verdict(t)}** (${t.detail})`).join("; ")}.`;
}

/** The cells of a failed run's measurement columns: its error, then blanks up to `width` cells. */
function failedCells(f: { error?: string }, width: number): unknown[] {
  return [`FAILED: ${(f.error ?? "").split("\n")[0]!.slice(0, 80)}`, ...Array.from({ length: width - 1 }, () => "")];
}

/** The Markdown summary. */
export function markdown(r: BenchResults): string {
  const out: string[] = [];
  out.push(`# Fan-out benchmark, ${r.date}`);
  out.push(
    `${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${mib(r.machine.totalMemBytes)} MiB RAM, Node ${r.machine.node}, ${r.machine.platform} ${r.machine.release}, ulimit -n ${r.machine.openFilesLimit}; ` +
      `run took ${r.durationS} s (\`${r.argv.join(" ") || "(defaults)"}\`). Clients, servers, PostgreSQL and Redis share the machine.`,
  );
  const bursts = r.fanout.filter((f) => f.load.kind === "burst");
  if (bursts.length) {
    out.push("\n## Fan-out (deliveries/s = deliveries ÷ (last receive − first send); latency = publish → receive)");
    out.push(
      table(
        [
          "scenario",
          "stack",
          "nodes",
          "N subs",
          "msgs",
          "deliveries/s",
          "p50 ms",
          "p99 ms",
          "max ms",
          "server CPU %",
          "RSS MiB",
          "heap MiB",
          "missing",
          "setup s",
        ],
        bursts.map((f) => {
          const m = f.result;
          const msgs = f.load.kind === "burst" ? f.load.messages : "";
          if (!m) return [f.scenario, f.stack, f.nodes, num(f.subscribers), msgs, ...failedCells(f, 9)];
          return [
            f.scenario,
            f.stack,
            f.nodes,
            num(f.subscribers),
            m.messagesSent,
            num(m.deliveriesPerS),
            num(m.latency.p50Ms),
            num(m.latency.p99Ms),
            num(m.latency.maxMs),
            Object.values(m.serverCpuPct).join(" + "),
            f.memory?.rssBytes.map(mib).join(" + ") ?? "n/a",
            f.memory?.heapUsedBytes.map(mib).join(" + ") ?? "n/a",
            m.missing + (m.stalled ? " (stalled)" : "") + (m.sendErrors ? `, ${m.sendErrors} send errors` : ""),
            f.setup ? (f.setup.connectMs / 1000).toFixed(1) : "",
          ];
        }),
      ),
    );
  }
  const paced = r.fanout.filter((f) => f.manyRooms);
  if (paced.length) {
    out.push(
      "\n## Many rooms (messageAdded subscribers in many small rooms, paced sends round robin over the rooms; latency = publish → receive)",
    );
    out.push(
      table(
        [
          "configuration",
          "stack",
          "msg/s sent (target)",
          "deliveries",
          "p50 ms",
          "p99 ms",
          "max ms",
          "server CPU %",
          "missing",
          "delayed sends",
          "setup s",
        ],
        paced.map((f) => {
          const m = f.result;
          const c = f.manyRooms!;
          if (!m) return [manyRoomsLabel(c), f.stack, ...failedCells(f, 9)];
          const achieved = Math.round((m.messagesSent / Math.max(0.001, m.sendMs / 1000)) * 10) / 10;
          return [
            manyRoomsLabel(c),
            f.stack,
            `${num(achieved)} (${num(c.ratePerS)})`,
            num(m.deliveries),
            num(m.latency.p50Ms),
            num(m.latency.p99Ms),
            num(m.latency.maxMs),
            Object.values(m.serverCpuPct).join(" + "),
            m.missing + (m.stalled ? " (stalled)" : "") + (m.sendErrors ? `, ${m.sendErrors} send errors` : ""),
            num(m.sendsDelayed),
            f.setup ? (f.setup.connectMs / 1000).toFixed(1) : "",
          ];
        }),
      ),
    );
    const line = targetsLine(r.targets.manyRooms);
    if (line) out.push(line);
  }
  if (r.ratios.length) {
    out.push("\n## Ratios (deliveries/s; >1 means ours is faster, except p99)");
    out.push(
      table(
        ["N subs", "ours ÷ ceiling", "ours ÷ naive", "p99 ours ÷ ceiling", "2 nodes ÷ 1 node"],
        r.ratios.map((x) => [
          num(x.subscribers),
          num(x.oursOverCeiling),
          num(x.oursOverNaive),
          num(x.p99OursOverCeiling),
          num(x.twoNodesOverOneNode),
        ]),
      ),
    );
  }
  if (r.idle.length) {
    out.push(
      "\n## Idle connections (one subscription each; heap after a forced full GC, RSS the lowest sample while settling; before vs after connecting)",
    );
    out.push(
      table(
        ["N conns", "measured in", "connects/s", "heap B/conn", "RSS B/conn", "RSS after MiB", "idle CPU %"],
        r.idle.map((i) =>
          i.error
            ? [num(i.connections), i.measuredIn, `FAILED: ${i.error.split("\n")[0]!.slice(0, 80)}`, "", "", "", ""]
            : [
                num(i.connections) + (i.connections < i.requested ? ` (of ${num(i.requested)})` : ""),
                i.measuredIn,
                num(i.connectsPerS),
                num(i.heapPerConnectionBytes),
                num(i.rssPerConnectionBytes),
                mib(i.rssAfterBytes),
                num(i.idleCpuPct),
              ],
        ),
      ),
    );
  }
  if (r.writes.length) {
    out.push("\n## Writes (sendMessage over HTTP vs raw INSERT + PUBLISH loop; latency per send; CPU ms per send: the server's)");
    out.push(
      table(
        [
          "concurrency",
          "ours msgs/s",
          "raw msgs/s",
          "ours ÷ raw",
          "ours p50 / p99 ms",
          "raw p50 / p99 ms",
          "ours errors",
          "raw errors",
          "ours CPU ms/send",
        ],
        r.writes.map((w) =>
          w.ours && w.raw
            ? [
                w.concurrency,
                num(w.ours.msgsPerS),
                num(w.raw.msgsPerS),
                num(w.oursOverRaw),
                `${num(w.ours.latency.p50Ms)} / ${num(w.ours.latency.p99Ms)}`,
                `${num(w.raw.latency.p50Ms)} / ${num(w.raw.latency.p99Ms)}`,
                w.ours.errors + (w.serverErrors ? ` (+${w.serverErrors.length} server error lines)` : ""),
                w.raw.errors,
                num(w.ours.cpuMsPerSend),
              ]
            : [w.concurrency, ...failedCells(w, 8)],
        ),
      ),
    );
    const line = targetsLine(r.targets.writes);
    if (line) out.push(line);
  }
  if (r.sync) {
    const s = r.sync;
    out.push(
      `\n## Sync (one user in ${s.params.rooms} rooms; ${s.params.changed} with ${s.params.perRoom} new messages each; request → answer over HTTP, one at a time)`,
    );
    out.push(
      s.error || !s.initial || !s.incremental
        ? `FAILED: ${(s.error ?? "no figures").split("\n")[0]}`
        : table(
            ["sync", "rooms answered", "messages", "bytes", "p50 ms", "p99 ms", "runs", "SQL statements"],
            [
              [
                "initial (since: null)",
                s.initial.rooms,
                "",
                num(s.initial.bytes),
                num(s.initial.latency.p50Ms),
                num(s.initial.latency.p99Ms),
                s.initial.latency.count,
                "",
              ],
              [
                "incremental",
                s.incremental.rooms,
                s.incremental.messages,
                num(s.incremental.bytes),
                num(s.incremental.latency.p50Ms),
                num(s.incremental.latency.p99Ms),
                s.incremental.latency.count,
                num(s.statements),
              ],
            ],
          ),
    );
  }
  if (r.shards.length) {
    out.push(`\n## One Redis against a Redis Cluster (${manyRoomsLabel(r.shards[0]!.run.manyRooms!)}; Redis CPU over the delivery window)`);
    out.push(
      table(
        [
          "backend",
          "deliveries/s",
          "p50 / p99 ms",
          "server CPU %",
          "Redis process",
          "publishes",
          "Redis CPU % (idle)",
          "Redis µs per message",
        ],
        r.shards.flatMap(({ backend, run, redis }) => {
          const m = run.result;
          const servers = m ? Object.entries(m.serverCpuPct).filter(([label]) => !label.startsWith("redis ")) : [];
          const head = m
            ? [
                backend,
                num(m.deliveriesPerS),
                `${num(m.latency.p50Ms)} / ${num(m.latency.p99Ms)}`,
                servers.map(([, pct]) => pct).join(" + "),
              ]
            : [backend, `FAILED: ${(run.error ?? "no figures").split("\n")[0]}`, "", ""];
          return redis.map((x, i) => [
            ...(i === 0 ? head : ["", "", "", ""]),
            `${x.address} (${x.role})`,
            num(x.publishes),
            `${x.cpuPct} (${x.idleCpuPct})`,
            num(x.cpuUsPerMessage),
          ]);
        }),
      ),
    );
  }
  if (r.notes.length) out.push(`\n## Notes\n${r.notes.map((n) => `- ${n}`).join("\n")}`);
  if (r.failures.length) out.push(`\n## Failures\n${r.failures.map((n) => `- ${n}`).join("\n")}`);
  return `${out.join("\n")}\n`;
}

/** Writes latest.json and latest.md under `dir`; returns the Markdown. */
export function writeResults(dir: string, results: BenchResults): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  const md = markdown(results);
  writeFileSync(resolve(dir, "latest.md"), md);
  return md;
}
