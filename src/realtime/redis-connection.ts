import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import type { Config } from "../config.js";

/** A command connection to one Redis or to a Redis Cluster (same commands; a cluster refuses multi-key ones across slots). */
export type RedisClient = Redis | Cluster;

/** Where Redis is: REDIS_URL (one server) or REDIS_CLUSTER (a cluster); one of them is set. */
export type RedisSettings = Pick<Config, "REDIS_URL" | "REDIS_CLUSTER">;

/**
 * A connection per `settings`: an ioredis Redis on REDIS_URL, or an ioredis Cluster on
 * REDIS_CLUSTER's seed nodes with `options` applied to each node's connection
 * (credentials from the cluster's URL); `keyPrefix` and `enableAutoPipelining` are the
 * Cluster's own there, as is anything in `cluster` (e.g. `shardedSubscribers`).
 */
export function connectRedis(settings: RedisSettings, options: RedisOptions = {}, cluster: ClusterOptions = {}): RedisClient {
  if (settings.REDIS_URL) return new Redis(settings.REDIS_URL, options);
  const { nodes, username, password } = settings.REDIS_CLUSTER!;
  const { keyPrefix, enableAutoPipelining, ...redisOptions } = options;
  return new Cluster(nodes, { keyPrefix, enableAutoPipelining, ...cluster, redisOptions: { ...redisOptions, username, password } });
}
