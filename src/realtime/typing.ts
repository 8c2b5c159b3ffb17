import { randomUUID } from "node:crypto";
import type { PubSubEngine } from "graphql-subscriptions";
import type { RedisClient } from "./redis-connection.js";
import { type TypingPayload, topics } from "./topics.js";

/**
 * Who is typing where. Each `isTyping: true` stores a fresh token for
 * (room, user); the expiry timer of that call clears the state only if its token
 * is still the current one, so a refresh on any node postpones the expiry.
 */
export interface TypingStore {
  /** Stores a new token; resolves whether the user was already typing. */
  start(key: string, token: string): Promise<boolean>;
  /** Clears the state; resolves whether the user was typing. */
  stop(key: string): Promise<boolean>;
  /** Clears the state if `token` is still current; resolves whether it did. */
  expire(key: string, token: string): Promise<boolean>;
}

export class MemoryTypingStore implements TypingStore {
  private readonly tokens = new Map<string, string>();
  async start(key: string, token: string) {
    const was = this.tokens.has(key);
    this.tokens.set(key, token);
    return was;
  }
  async stop(key: string) {
    return this.tokens.delete(key);
  }
  async expire(key: string, token: string) {
    return this.tokens.get(key) === token && this.tokens.delete(key);
  }
}

const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Typing state shared by all nodes; keys carry a safety TTL of 10 × the typing TTL. */
export class RedisTypingStore implements TypingStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly ttlMs: number,
  ) {}
  async start(key: string, token: string) {
    return (await this.redis.set(`typing:${key}`, token, "PX", this.ttlMs * 10, "GET")) !== null;
  }
  async stop(key: string) {
    return (await this.redis.del(`typing:${key}`)) === 1;
  }
  async expire(key: string, token: string) {
    return (await this.redis.eval(COMPARE_AND_DELETE, 1, `typing:${key}`, token)) === 1;
  }
}

/**
 * Typing indicators with server-side expiry: without a refresh within `ttlMs`
 * (TYPING_TTL_MS, 3 s: typing expires 3 s after the last update) subscribers get
 * `isTyping: false`. Events are published on changes only, not on refreshes.
 */
export class Typing {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: TypingStore,
    private readonly pubsub: PubSubEngine,
    /** Typing expiry in ms. */
    private readonly ttlMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Sets whether `userId` is typing in `roomId` (membership is checked by the caller). */
  async set(roomId: string, userId: string, isTyping: boolean): Promise<void> {
    const key = `${roomId}:${userId}`;
    if (!isTyping) {
      if (await this.store.stop(key)) await this.publish({ roomId, userId, isTyping: false });
      return;
    }
    const token = randomUUID();
    const was = await this.store.start(key, token);
    this.schedule(key, token, { roomId, userId, isTyping: false });
    if (!was) await this.publish({ roomId, userId, isTyping: true });
  }

  /** Cancels pending expiry timers (shutdown). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(key: string, token: string, expired: TypingPayload): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.store
        .expire(key, token)
        .then((cleared) => (cleared ? this.publish(expired) : undefined))
        .catch(this.onError);
    }, this.ttlMs);
    this.timers.add(timer.unref());
  }

  private publish(payload: TypingPayload): Promise<void> {
    return this.pubsub.publish(topics.typing(payload.roomId), payload);
  }
}
