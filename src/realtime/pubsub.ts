import { PubSub, type PubSubEngine } from "graphql-subscriptions";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { Redis } from "ioredis";

/** The pub/sub engine and, when Redis backs it, a command connection for shared state. */
export interface Bus {
  pubsub: PubSubEngine;
  /** Redis connection for presence and typing state; null in-process. */
  redis: Redis | null;
  close(): Promise<void>;
}

/**
 * `redisUrl` set → graphql-redis-subscriptions over two ioredis connections (a
 * subscriber connection cannot issue commands), so every node sees every publish.
 * Unset → graphql-subscriptions' in-process PubSub: one node only.
 * ioredis reconnects by itself; subscriptions are restored on reconnect.
 */
export function makeBus(redisUrl: string | undefined): Bus {
  if (!redisUrl) return { pubsub: new PubSub(), redis: null, close: async () => {} };
  const publisher = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const subscriber = new Redis(redisUrl);
  const pubsub = new RedisPubSub({ publisher, subscriber });
  return {
    pubsub,
    redis: publisher,
    close: async () => {
      await pubsub.close();
    },
  };
}
