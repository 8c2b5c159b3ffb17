import { PubSub, type PubSubEngine } from "graphql-subscriptions";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { Redis } from "ioredis";

/** The pub/sub engine and, when Redis backs it, a command connection for shared state. */
export interface Bus {
  pubsub: PubSubEngine;
  /** Redis connection for presence and typing state, its keys under the deployment's prefix; null in-process. */
  redis: Redis | null;
  close(): Promise<void>;
}

/**
 * `redisUrl` set → graphql-redis-subscriptions over two ioredis connections (a
 * subscriber connection cannot issue commands), so every node sees every publish,
 * plus a third for presence and typing state with every key under `keyPrefix`.
 * Unset → graphql-subscriptions' in-process PubSub: one node only.
 * ioredis reconnects by itself; subscriptions are restored on reconnect.
 */
export function makeBus(redisUrl: string | undefined, keyPrefix: string): Bus {
  if (!redisUrl) return { pubsub: new PubSub(), redis: null, close: async () => {} };
  const pubsub = new RedisPubSub({ publisher: new Redis(redisUrl, { maxRetriesPerRequest: 3 }), subscriber: new Redis(redisUrl) });
  const redis = new Redis(redisUrl, { keyPrefix, maxRetriesPerRequest: 3 });
  return {
    pubsub,
    redis,
    close: async () => {
      await pubsub.close();
      await redis.quit();
    },
  };
}
