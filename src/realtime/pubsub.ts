import { EventEmitter } from "node:events";
import { PubSub, type PubSubEngine } from "graphql-subscriptions";
import type { Redis } from "ioredis";

/** The pub/sub engine and, when Redis backs it, a command connection for shared state. */
export interface Bus {
  pubsub: PubSubEngine;
  /** Redis connection for presence and typing state, its keys under the deployment's prefix; null in-process. */
  redis: Redis | null;
  /**
   * Calls `listener(true)` once this node hears every publish on the topics it
   * has subscribed (in-process: at once), `listener(false)` whenever it may miss
   * some (the Redis subscriber connection closed), and `listener(true)` again
   * once it is back and its subscriptions are active again (ioredis re-sends
   * them on reconnecting; the answer to a PING sent after them means Redis has
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
 * `redisUrl` set → graphql-redis-subscriptions over two ioredis connections (a
 * subscriber connection cannot issue commands), so every node sees every publish,
 * plus a third for presence and typing state with every key under `keyPrefix`.
 * Unset → graphql-subscriptions' in-process PubSub: one node only; ioredis and
 * graphql-redis-subscriptions are then not loaded.
 * ioredis reconnects by itself; subscriptions are restored on reconnect. While
 * Redis is away, commands fail after {@link COMMAND_TIMEOUT_MS}.
 */
export async function makeBus(redisUrl: string | undefined, keyPrefix: string): Promise<Bus> {
  if (!redisUrl) {
    // one listener per subscriber of a topic: no cap (Node warns past 10 by default)
    const emitter = new EventEmitter().setMaxListeners(0);
    return { pubsub: new PubSub({ eventEmitter: emitter }), redis: null, watchFeed: (listener) => listener(true), close: async () => {} };
  }
  const [{ Redis }, { RedisPubSub }] = await Promise.all([import("ioredis"), import("graphql-redis-subscriptions")]);
  // the subscriber has no command timeout: its SUBSCRIBEs wait for Redis to come back;
  // the publisher pipelines the publishes issued in one tick (EventLog.afterCommit: a send's events) into one write
  const publisher = new Redis(redisUrl, { maxRetriesPerRequest: 3, commandTimeout: COMMAND_TIMEOUT_MS, enableAutoPipelining: true });
  const subscriber = new Redis(redisUrl);
  const pubsub = new RedisPubSub({ publisher, subscriber });
  const redis = new Redis(redisUrl, { keyPrefix, maxRetriesPerRequest: 3, commandTimeout: COMMAND_TIMEOUT_MS });
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
    close: async () => {
      await pubsub.close();
      await redis.quit();
    },
  };
}

/**
 * True when `e` is ioredis saying Redis did not answer: a command that waited
 * {@link COMMAND_TIMEOUT_MS} ("Command timed out"), ran out of reconnect attempts
 * (MaxRetriesPerRequestError) or met a closed connection. The server's maskError
 * turns these into SERVICE_UNAVAILABLE (src/server.ts), as it does PostgreSQL's.
 */
export function isRedisUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return e.name === "MaxRetriesPerRequestError" || /^(Command timed out|Connection is closed)/.test(e.message);
}
