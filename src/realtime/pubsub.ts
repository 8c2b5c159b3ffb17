import { EventEmitter } from "node:events";
import { PubSub, type PubSubEngine } from "graphql-subscriptions";
import type { Cluster, Redis } from "ioredis";
import type { RedisClient, RedisSettings } from "./redis-connection.js";

/** The pub/sub engine and, when Redis backs it, a command connection for shared state. */
export interface Bus {
  pubsub: PubSubEngine;
  /**
   * Redis connection for presence, typing and rate-limit state, its keys under the
   * deployment's prefix; a Cluster with REDIS_CLUSTER (no multi-key command across
   * slots: presence-store.ts); null in-process.
   */
  redis: RedisClient | null;
  /**
   * Calls `listener(true)` once this node hears every publish on the topics it
   * has subscribed (in-process: at once), `listener(false)` whenever it may miss
   * some (the Redis subscriber connection closed; in a cluster: any shard's), and
   * `listener(true)` again once it is back and its subscriptions are active again
   * (ioredis re-sends them on reconnecting, in a cluster once the slots' new
   * owners are known; the answer to a PING sent after them means Redis has
   * applied them). Caches kept fresh by a topic (auth/session-cache.ts) use it
   * to fail closed.
   */
  watchFeed(listener: (up: boolean) => void): void;
  close(): Promise<void>;
}

/**
 * How long a publish or a presence/typing command waits for Redis, in ms, before
 * it fails (ioredis `commandTimeout`). Without it, a command issued while Redis
 * is down waits in ioredis' offline queue until `maxRetriesPerRequest` reconnect
 * attempts have failed: up to 8 s once the reconnect delay has grown to its 2 s
 * cap, and sendMessage publishes twice, so a send would wait that long while Redis
 * is away (figures: docs/performance.md). A timed-out publish is lost or delivered
 * late; sequenced streams fill the gap or drop the duplicate (realtime/stream.ts).
 */
const COMMAND_TIMEOUT_MS = 1000;

/**
 * REDIS_URL set → graphql-redis-subscriptions over two ioredis connections (a
 * subscriber connection cannot issue commands), so every node sees every publish,
 * plus a third for presence and typing state with every key under `keyPrefix`.
 * REDIS_CLUSTER set → the same three on ioredis Clusters, pub/sub sharded
 * (SPUBLISH/SSUBSCRIBE: {@link ShardedPubSub}), so a channel's messages reach
 * only the shard owning its slot and the nodes subscribed there.
 * Neither → graphql-subscriptions' in-process PubSub: one node only; ioredis and
 * graphql-redis-subscriptions are then not loaded.
 * ioredis reconnects by itself; subscriptions are restored on reconnect (in a
 * cluster, on the replica promoted after a primary failed). While Redis is away,
 * commands fail after {@link COMMAND_TIMEOUT_MS}.
 */
export async function makeBus(settings: RedisSettings, keyPrefix: string): Promise<Bus> {
  if (!settings.REDIS_URL && !settings.REDIS_CLUSTER) {
    // one listener per subscriber of a topic: no cap (Node warns past 10 by default)
    const emitter = new EventEmitter().setMaxListeners(0);
    return { pubsub: new PubSub({ eventEmitter: emitter }), redis: null, watchFeed: (listener) => listener(true), close: async () => {} };
  }
  const { connectRedis } = await import("./redis-connection.js");
  const commands = { maxRetriesPerRequest: 3, commandTimeout: COMMAND_TIMEOUT_MS };
  // the subscriber has no command timeout: its SUBSCRIBEs wait for Redis to come back;
  // the publisher pipelines the publishes issued in one tick (EventLog.afterCommit: a send's events) into one write
  const publisher = connectRedis(settings, { ...commands, enableAutoPipelining: true });
  const redis = connectRedis(settings, { ...commands, keyPrefix });
  if (settings.REDIS_CLUSTER) {
    const { ShardedPubSub } = await import("./sharded-pubsub.js");
    const subscriber = connectRedis(settings, {}, { shardedSubscribers: true }) as Cluster;
    // ioredis emits a shard subscriber's failed (re)connection as 'error' (an EventEmitter error: fatal
    // unless listened to); it retries by itself and watchShardedFeed reports the feed down meanwhile
    subscriber.on("error", () => {});
    const pubsub = new ShardedPubSub(publisher as Cluster, subscriber);
    return { pubsub, redis, watchFeed: (listener) => watchShardedFeed(subscriber, listener), close: () => closeAll(pubsub, redis) };
  }
  const { RedisPubSub } = await import("graphql-redis-subscriptions");
  const subscriber = connectRedis(settings) as Redis;
  const pubsub = new RedisPubSub({ publisher: publisher as Redis, subscriber });
  return {
    pubsub,
    redis,
    watchFeed: (listener) => {
      // 'ready' is emitted on the next tick, after ioredis has queued its re-SUBSCRIBEs: the PING goes after them
      const up = () =>
        void subscriber.ping().then(
          () => subscriber.status === "ready" && listener(true),
          () => {},
        );
      subscriber.on("ready", up);
      subscriber.on("close", () => listener(false));
      if (subscriber.status === "ready") up();
    },
    close: () => closeAll(pubsub, redis),
  };
}

async function closeAll(pubsub: { close(): Promise<unknown> }, redis: RedisClient): Promise<void> {
  await pubsub.close();
  await redis.quit();
}

/**
 * The part of ioredis' internal ClusterSubscriberGroup (ioredis 5.11,
 * built/cluster/ClusterSubscriberGroup.js) read by {@link watchShardedFeed}: ioredis
 * tells when it has re-sent the SSUBSCRIBEs (`subscribersReady`), not whether every
 * shard's subscriber connected, nor when Redis has applied them.
 */
interface SubscriberGroup {
  hasUnhealthySubscribers(): boolean;
  shardedSubscribers: Map<string, { isStarted(): boolean; getInstance(): Redis | null }>;
}

/**
 * {@link Bus.watchFeed} on a sharded subscriber Cluster: down when a shard's
 * subscriber connection ends ('-node' with the node's key: the connection pool's
 * own '-node' has none) or the cluster connection closes; up after ioredis has
 * re-subscribed ('subscribersReady'), every shard that should have a subscriber
 * has a healthy one, and each has answered a PING sent after its SSUBSCRIBEs.
 * Only changes are reported (ioredis retries a dead primary's subscriber until
 * its replica is promoted, each retry ending with '-node').
 */
function watchShardedFeed(subscriber: Cluster, listener: (up: boolean) => void): void {
  const group = (subscriber as unknown as { shardedSubscribers: SubscriberGroup }).shardedSubscribers;
  let reported: boolean | null = null;
  const report = (up: boolean) => {
    if (up !== reported) listener((reported = up));
  };
  const healthy = () => subscriber.status === "ready" && !group.hasUnhealthySubscribers();
  const up = () => {
    if (!healthy()) return;
    const started = [...group.shardedSubscribers.values()].filter((s) => s.isStarted()).map((s) => s.getInstance());
    void Promise.all(started.map((instance) => instance?.ping())).then(
      () => healthy() && report(true),
      () => {},
    );
  };
  subscriber.on("subscribersReady", up);
  subscriber.on("ready", up);
  subscriber.on("-node", (_redis: unknown, nodeKey?: string) => nodeKey !== undefined && report(false));
  subscriber.on("close", () => report(false));
  up();
}

/**
 * True when `e` is ioredis saying Redis did not answer: a command that waited
 * {@link COMMAND_TIMEOUT_MS} ("Command timed out"), ran out of reconnect attempts
 * (MaxRetriesPerRequestError) or met a closed connection; in a cluster also no
 * node answering (ClusterAllFailedError) and a slot without a primary (CLUSTERDOWN,
 * during a failover). The server's maskError turns these into SERVICE_UNAVAILABLE
 * (src/server.ts), as it does PostgreSQL's.
 */
export function isRedisUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return (
    e.name === "MaxRetriesPerRequestError" ||
    e.name === "ClusterAllFailedError" ||
    /^(Command timed out|Connection is closed|CLUSTERDOWN)/.test(e.message)
  );
}
