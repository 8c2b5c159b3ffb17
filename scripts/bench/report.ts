/**
 * The results of a bench run: {@link BenchResults} as JSON
 * (bench-results/latest.json) and a short Markdown summary
 * (bench-results/latest.md, also printed). Markdown units: deliveries/s and
 * msgs/s, latencies in ms, CPU in % of one core, memory in MiB or bytes per connection.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { FanoutRun, IdleRun, Stack } from "./scenarios.js";
import { ratio } from "./stats.js";
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
  machine: { cpus: number; cpuModel: string; totalMemBytes: number; node: string; platform: string; release: string; openFilesLimit: number; loadAvgAtStart: number; busyPctAtStart: number; loadAvgAtEnd: number };
  /** Parameters of every scenario as run (N values, messages, rates, client processes…). */
  params: Record<string, unknown>;
  fanout: FanoutRun[];
  ratios: FanoutRatios[];
  idle: IdleRun[];
  writes: WritesRun[];
  notes: string[];
  failures: string[];
}

/** Delivery-rate ratios for each N that has runs of the stacks compared. */
export function fanoutRatios(runs: FanoutRun[]): FanoutRatios[] {
  const rate = (scenario: string, stack: Stack, n: number) => runs.find((r) => r.scenario === scenario && r.stack === stack && r.subscribers === n && !r.error)?.result;
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
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

/** The Markdown summary. */
export function markdown(r: BenchResults): string {
  const out: string[] = [];
  out.push(`# Fan-out benchmark, ${r.date}`);
  out.push(
    `${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${mib(r.machine.totalMemBytes)} MiB RAM, Node ${r.machine.node}, ${r.machine.platform} ${r.machine.release}, ulimit -n ${r.machine.openFilesLimit}; ` +
      `run took ${r.durationS} s (\`${r.argv.join(" ") || "(defaults)"}\`). Clients, servers, PostgreSQL and Redis share the machine.`,
  );
  if (r.fanout.length) {
    out.push("\n## Fan-out (deliveries/s = deliveries ÷ (last receive − first send); latency = publish → receive)");
    out.push(
      table(
        ["scenario", "stack", "nodes", "N subs", "msgs", "deliveries/s", "p50 ms", "p99 ms", "max ms", "server CPU %", "RSS MiB", "heap MiB", "missing", "setup s"],
        r.fanout.map((f) => {
          const m = f.result;
          const msgs = f.load.kind === "burst" ? f.load.messages : `${f.load.ratePerS}/s×${f.load.durationS}s`;
          if (!m) return [f.scenario, f.stack, f.nodes, num(f.subscribers), msgs, `FAILED: ${(f.error ?? "").split("\n")[0]!.slice(0, 80)}`, "", "", "", "", "", "", "", ""];
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
  if (r.ratios.length) {
    out.push("\n## Ratios (deliveries/s; >1 means ours is faster, except p99)");
    out.push(
      table(
        ["N subs", "ours ÷ ceiling", "ours ÷ naive", "p99 ours ÷ ceiling", "2 nodes ÷ 1 node"],
        r.ratios.map((x) => [num(x.subscribers), num(x.oursOverCeiling), num(x.oursOverNaive), num(x.p99OursOverCeiling), num(x.twoNodesOverOneNode)]),
      ),
    );
  }
  if (r.idle.length) {
    out.push("\n## Idle connections (one subscription each; heap after a forced full GC, RSS the lowest sample while settling; before vs after connecting)");
    out.push(
      table(
        ["N conns", "measured in", "connects/s", "heap B/conn", "RSS B/conn", "RSS after MiB", "idle CPU %"],
        r.idle.map((i) =>
          i.error
            ? [num(i.connections), i.measuredIn, `FAILED: ${i.error.split("\n")[0]!.slice(0, 80)}`, "", "", "", ""]
            : [num(i.connections) + (i.connections < i.requested ? ` (of ${num(i.requested)})` : ""), i.measuredIn, num(i.connectsPerS), num(i.heapPerConnectionBytes), num(i.rssPerConnectionBytes), mib(i.rssAfterBytes), num(i.idleCpuPct)],
        ),
      ),
    );
  }
  if (r.writes.length) {
    out.push("\n## Writes (sendMessage over HTTP vs raw INSERT + PUBLISH loop; latency per send)");
    out.push(
      table(
        ["concurrency", "ours msgs/s", "ours p50 ms", "ours p99 ms", "ours CPU %", "raw msgs/s", "raw p50 ms", "raw p99 ms", "ours ÷ raw"],
        r.writes.map((w) =>
          w.ours && w.raw
            ? [w.concurrency, num(w.ours.msgsPerS), num(round1(w.ours.latency.p50Ms)), num(round1(w.ours.latency.p99Ms)), num(w.ours.cpuPct), num(w.raw.msgsPerS), num(round1(w.raw.latency.p50Ms)), num(round1(w.raw.latency.p99Ms)), num(w.oursOverRaw)]
            : [w.concurrency, `FAILED: ${(w.error ?? "").split("\n")[0]!.slice(0, 80)}`, "", "", "", "", "", "", ""],
        ),
      ),
    );
  }
  if (r.notes.length) out.push("\n## Notes\n" + r.notes.map((n) => `- ${n}`).join("\n"));
  if (r.failures.length) out.push("\n## Failures\n" + r.failures.map((n) => `- ${n}`).join("\n"));
  return out.join("\n") + "\n";
}

function round1(v: number | null): number | null {
  return v == null ? null : Math.round(v * 10) / 10;
}

/** Writes latest.json and latest.md under `dir`; returns the Markdown. */
export function writeResults(dir: string, results: BenchResults): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
  const md = markdown(results);
  writeFileSync(resolve(dir, "latest.md"), md);
  return md;
}
