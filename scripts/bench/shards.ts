/**
 * The shards scenario: one many-rooms load (by default 1,000 rooms × 5
 * messageAdded subscribers on two nodes, sends paced to node 1) run twice in one
 * bench run, on fresh servers each time: against one Redis of its own, where
 * every publish is a PUBLISH, and against a local Redis Cluster of 3 primaries
 * with a replica each (scripts/redis-cluster.ts), where a room's events are
 * SPUBLISHed to the one shard that owns the room's hash slot. Besides the
 * servers' figures (deliveries/s, latency, CPU), it reads every Redis process's
 * CPU over the delivery window (/proc, as for the servers) and, per primary,
 * the publishes it took (INFO commandstats, over the whole series: the
 * subscribers' presence events included).
 * Units: CPU in ms and % of one core, µs per message sent.
 */
import { Redis } from "ioredis";
import { startDedicatedRedis } from "../../test/helpers/dedicated-redis.js";
import { startRedisCluster } from "../redis-cluster.js";
import { cpuMs, sleep } from "./procs.js";
import { type BenchContext, type CpuWatched, type FanoutRun, type ManyRoomsConfig, manyRoomsSeries } from "./scenarios.js";

/** How long each Redis process's idle CPU is read before the load, ms. */
const IDLE_MS = 3000;

/** One Redis process of a shards run, with what it did. */
export interface ShardFigures {
  /** `host:port` */
  address: string;
  role: "primary" | "replica";
  /** CPU over the delivery window, ms, and ÷ messages sent, µs. */
  cpuMs: number;
  cpuUsPerMessage: number;
  /** % of one core over the delivery window. */
  cpuPct: number;
  /** % of one core over {@link IDLE_MS} before the servers start: Redis's own background work (serverCron, the cluster bus). */
  idleCpuPct: number;
  /** PUBLISH + SPUBLISH calls this process served over the series (primaries; 0 on replicas, which only replicate). */
  publishes: number;
}

export interface ShardsRun {
  backend: "one Redis" | "Redis Cluster";
  /** Primaries: 1, or the cluster's. */
  shards: number;
  run: FanoutRun;
  redis: ShardFigures[];
  error?: string;
}

/** Runs `config` against one Redis, then against a 3-primary cluster; see the file's docstring. */
export async function shardsScenario(ctx: BenchContext, config: ManyRoomsConfig): Promise<ShardsRun[]> {
  const runs: ShardsRun[] = [];
  const single = await startDedicatedRedis();
  try {
    const address = single.url.replace("redis://", "");
    runs.push(await measure(ctx, config, "one Redis", { REDIS_URL: single.url }, [address]));
  } finally {
    await single.stop();
  }
  const cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1 });
  try {
    runs.push(await measure(ctx, config, "Redis Cluster", { REDIS_CLUSTER_NODES: cluster.nodesEnv }, cluster.nodes));
  } finally {
    await cluster.stop();
  }
  return runs;
}

async function measure(
  ctx: BenchContext,
  config: ManyRoomsConfig,
  backend: ShardsRun["backend"],
  env: Record<string, string>,
  addresses: string[],
): Promise<ShardsRun> {
  const nodes = await Promise.all(addresses.map(describeNode));
  await Promise.all(nodes.map((n) => n.redis.config("RESETSTAT")));
  const processes: CpuWatched[] = nodes.map((n) => ({ label: `redis ${n.address} (${n.role})`, pid: n.pid }));
  const idle0 = processes.map((p) => cpuMs(p.pid));
  await sleep(IDLE_MS);
  const idleCpuPct = processes.map((p, i) => Math.round(((cpuMs(p.pid) - idle0[i]!) / IDLE_MS) * 1000) / 10);
  ctx.log(`shards: ${backend}, ${nodes.filter((n) => n.role === "primary").length} primar(ies), ${nodes.length} Redis process(es)`);
  try {
    const [run] = await manyRoomsSeries({ ...ctx, redis: { env, processes } }, config, ["ours"], "shards");
    const sent = Math.max(1, run!.result?.messagesSent ?? 0);
    const redis = await Promise.all(
      nodes.map(async (n, i): Promise<ShardFigures> => {
        const cpuMs = run!.result?.serverCpuMs[processes[i]!.label] ?? 0;
        return {
          address: n.address,
          role: n.role,
          cpuMs,
          cpuUsPerMessage: Math.round((cpuMs * 1000) / sent),
          cpuPct: run!.result?.serverCpuPct[processes[i]!.label] ?? 0,
          idleCpuPct: idleCpuPct[i]!,
          publishes: await publishes(n.redis),
        };
      }),
    );
    for (const r of redis)
      ctx.log(
        `  ${r.address} ${r.role}: ${r.publishes} publishes, CPU ${r.cpuPct}% (idle ${r.idleCpuPct}%; ${r.cpuUsPerMessage} µs per message sent)`,
      );
    return {
      backend,
      shards: nodes.filter((n) => n.role === "primary").length,
      run: run!,
      redis,
      error: run!.error,
    };
  } finally {
    for (const n of nodes) n.redis.disconnect();
  }
}

/** A connection to one Redis process (not through the cluster), its pid and role. */
async function describeNode(address: string) {
  const [host, port] = address.split(":");
  const redis = new Redis({ host, port: Number(port), maxRetriesPerRequest: 1 });
  const [server, replication] = await Promise.all([redis.info("server"), redis.info("replication")]);
  const pid = Number(/process_id:(\d+)/.exec(server)?.[1]);
  const role: ShardFigures["role"] = /role:master/.test(replication) ? "primary" : "replica";
  return { address, redis, pid, role };
}

/** PUBLISH + SPUBLISH calls since the last RESETSTAT (INFO commandstats). */
async function publishes(redis: Redis): Promise<number> {
  const stats = await redis.info("commandstats");
  return [...stats.matchAll(/^cmdstat_s?publish:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}
