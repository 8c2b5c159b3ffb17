/**
 * A local Redis Cluster (7.0 or later: sharded pub/sub) from `redis-server` and
 * `redis-cli` on PATH, for the tests, the bench and humans (`npm run redis-cluster`).
 *
 * Every node is its own `redis-server --cluster-enabled yes` process with no
 * persistence in a temporary directory of its own; `redis-cli --cluster create`
 * assigns the 16384 slots to the primaries and a replica to each. The cluster
 * node timeout is short (CLUSTER_NODE_TIMEOUT_MS) so a killed primary's replica
 * takes over within a few seconds, and `cluster-require-full-coverage no` keeps
 * the other shards serving while one fails over (as a production cluster behind
 * a chat server should be set up).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { Redis } from "ioredis";

/** `cluster-node-timeout`, in ms: how long a primary may be unreachable before its replica is promoted. */
export const CLUSTER_NODE_TIMEOUT_MS = 1_000;
/** How long a redis-server may take to accept connections, and the cluster to agree on its slots, in ms. */
const READY_TIMEOUT_MS = 20_000;
const HOST = "127.0.0.1";
/**
 * Node ports are drawn from [LOW_PORT, LOW_PORT + PORT_SPAN); the cluster bus
 * listens on port + 10000. Both stay below Linux's ephemeral range (32768 up),
 * so neither collides with ports the OS hands out (listen(0), outgoing sockets).
 */
const LOW_PORT = 12_000;
const PORT_SPAN = 10_000;

/** A running local cluster; see {@link startRedisCluster}. */
export interface RedisCluster {
  /** Every node as `host:port`, primaries first as created (a failover swaps roles). */
  nodes: string[];
  /** {@link nodes} comma-separated: the value for REDIS_CLUSTER_NODES. */
  nodesEnv: string;
  /** The `host:port` of every primary that is up now, sorted. */
  primaries(): Promise<string[]>;
  /** The `host:port` of the primary that owns `key`'s slot now (its hash tag counts, as in Redis). */
  primaryFor(key: string): Promise<string>;
  /**
   * Kills (SIGKILL) the primary that owns `key`'s slot and resolves once a
   * replica has been promoted and the cluster serves the slot again.
   * @throws if that takes longer than `timeoutMs` (default 20 000 ms).
   */
  failover(key: string, timeoutMs?: number): Promise<{ failed: string; promoted: string }>;
  /** Kills every node and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

interface ClusterNode {
  address: string;
  child: ChildProcess;
  exited: Promise<void>;
  dir: string;
}

/** Options for {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Primaries, each owning an equal share of the slots (default 3; Redis needs at least 3). */
  primaries?: number;
  /** Replicas per primary (default 1; 0 means no failover). */
  replicasPerPrimary?: number;
  /** Node ports from `basePort` up (and their bus ports + 10000); default: free ones at random. */
  basePort?: number;
}

/**
 * Starts a local cluster and resolves once every node agrees that all slots are
 * served and every replica has synced with its primary.
 * @throws if a node does not start or the cluster is not ready within 20 s (the nodes started are stopped first).
 */
export async function startRedisCluster({
  primaries = 3,
  replicasPerPrimary = 1,
  basePort,
}: RedisClusterOptions = {}): Promise<RedisCluster> {
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.splice(0).map(async (node) => {
        node.child.kill("SIGKILL");
        await node.exited;
        await rm(node.dir, { recursive: true, force: true });
      }),
    );
  };
  try {
    const count = primaries * (1 + replicasPerPrimary);
    for (let i = 0; i < count; i++) nodes.push(await startNode(basePort === undefined ? undefined : basePort + i));
    await promisify(execFile)("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => n.address),
      "--cluster-replicas",
      String(replicasPerPrimary),
      "--cluster-yes",
    ]);
    await waitFor(READY_TIMEOUT_MS, "the cluster to be ready", async () => {
      for (const node of nodes) {
        const info = await query(node.address, (r) => r.cluster("INFO"));
        if (!/cluster_state:ok/.test(info) || !info.includes(`cluster_known_nodes:${count}`)) return false;
        const replication = await query(node.address, (r) => r.info("replication"));
        if (replication.includes("role:slave") && !replication.includes("master_link_status:up")) return false;
      }
      return true;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const alive = () => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  /** CLUSTER SLOTS as one live node sees it: [first slot, last slot, primary address]. */
  const slotRanges = async (): Promise<[number, number, string][]> => {
    const ranges = await query(alive()[0]!.address, (r) => r.cluster("SLOTS"));
    return ranges.map(([first, last, primary]): [number, number, string] => [first, last, `${primary![0]}:${primary![1]}`]);
  };
  const primaryFor = async (key: string) => {
    const slot = (await query(alive()[0]!.address, (r) => r.cluster("KEYSLOT", key))) as number;
    const range = (await slotRanges()).find(([first, last]) => first <= slot && slot <= last);
    if (!range) throw new Error(`no primary serves slot ${slot}`);
    return range[2];
  };
  return {
    nodes: nodes.map((n) => n.address),
    nodesEnv: nodes.map((n) => n.address).join(","),
    primaries: async () => [...new Set((await slotRanges()).map(([, , address]) => address))].sort(),
    primaryFor,
    failover: async (key, timeoutMs = READY_TIMEOUT_MS) => {
      const failed = await primaryFor(key);
      const node = nodes.find((n) => n.address === failed)!;
      node.child.kill("SIGKILL");
      await node.exited;
      let promoted = failed;
      await waitFor(timeoutMs, `a replica of ${failed} to be promoted`, async () => {
        promoted = await primaryFor(key);
        if (promoted === failed) return false;
        const info = await query(promoted, (r) => r.cluster("INFO"));
        return info.includes("cluster_state:ok");
      });
      return { failed, promoted };
    },
    stop,
  };
}

/** Starts one cluster-enabled redis-server on `port` (or a free one, retried on a clash) in a new temp dir. */
async function startNode(port?: number): Promise<ClusterNode> {
  for (let attempt = 0; ; attempt++) {
    const candidate = port ?? (await freePortPair());
    const dir = await mkdtemp(join(tmpdir(), "redis-cluster-"));
    const child = spawn(
      "redis-server",
      [
        ...["--port", String(candidate), "--bind", HOST, "--dir", dir, "--save", "", "--appendonly", "no"],
        ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", String(CLUSTER_NODE_TIMEOUT_MS)],
        ...["--cluster-require-full-coverage", "no", "--cluster-replica-validity-factor", "0"],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let output = "";
    child.stderr!.on("data", (d) => (output += d));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
      child.stdout!.on("data", (d) => {
        output += d;
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) {
      child.stdout!.resume();
      return { address: `${HOST}:${candidate}`, child, exited, dir };
    }
    child.kill("SIGKILL");
    await exited;
    await rm(dir, { recursive: true, force: true });
    // a random port may have been taken since it was probed (another cluster starting): try another
    if (port !== undefined || attempt >= 4) throw new Error(`redis-server on port ${candidate} did not start:\n${output}`);
  }
}

/** A port that was free a moment ago, its cluster bus port (+10000) too; see LOW_PORT. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = LOW_PORT + Math.floor(Math.random() * PORT_SPAN);
    if ((await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
      .once("error", () => resolve(false))
      .listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

/** Runs `command` on a short-lived connection to one node (no cluster redirection). */
async function query<T>(address: string, command: (redis: Redis) => Promise<T>): Promise<T> {
  const [host, port] = address.split(":");
  const redis = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    return await command(redis);
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` every 100 ms (an error counts as not yet) until it is true. @throws after `timeoutMs`. */
async function waitFor(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// `npm run redis-cluster`: REDIS_CLUSTER_PRIMARIES (default 3), REDIS_CLUSTER_REPLICAS (per primary, default 1) and
// REDIS_CLUSTER_PORT (first node port, default free ones) choose the shape; it prints REDIS_CLUSTER_NODES and runs
// until SIGINT/SIGTERM, then removes every node.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = process.env;
  const cluster = await startRedisCluster({
    primaries: Number(env.REDIS_CLUSTER_PRIMARIES ?? 3),
    replicasPerPrimary: Number(env.REDIS_CLUSTER_REPLICAS ?? 1),
    basePort: env.REDIS_CLUSTER_PORT ? Number(env.REDIS_CLUSTER_PORT) : undefined,
  });
  console.log(
    `Redis Cluster ready (primaries ${(await cluster.primaries()).join(", ")}); Ctrl-C stops it\nREDIS_CLUSTER_NODES=${cluster.nodesEnv}`,
  );
  const shutdown = () => void cluster.stop().then(() => process.exit(0));
  process.once("SIGINT", shutdown).once("SIGTERM", shutdown);
}
