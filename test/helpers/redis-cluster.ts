import { afterAll, beforeAll } from "vitest";
import { type RedisCluster, startRedisCluster } from "../../scripts/redis-cluster.js";

/**
 * Registers the hooks of a suite that runs against a Redis Cluster of its own
 * (scripts/redis-cluster.ts: 3 primaries with a replica each, free ports) in the
 * current `describe`: `beforeAll` starts it, `afterAll` stops it. Register it
 * before the servers' hooks, so it starts before and stops after them. `cluster()`
 * is the running cluster; `env()` the server variables that point at it
 * (REDIS_CLUSTER_NODES, REDIS_URL unset). Both throw before `beforeAll` has run.
 */
export function useRedisCluster(): { cluster(): RedisCluster; env(): Record<string, string> } {
  let started: RedisCluster | undefined;
  beforeAll(async () => {
    started = await startRedisCluster();
  });
  afterAll(() => started?.stop());
  const cluster = () => {
    if (!started) throw new Error("useRedisCluster: the cluster is not started yet (use it inside a test or hook)");
    return started;
  };
  return { cluster, env: () => ({ REDIS_URL: "", REDIS_CLUSTER_NODES: cluster().nodesEnv }) };
}
