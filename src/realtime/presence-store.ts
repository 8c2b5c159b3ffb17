import type { RedisClient } from "./redis-connection.js";

/**
 * Where presence lives: which graphql-ws connections each user has open.
 * A user is ONLINE while at least one is open on any node.
 */
export interface PresenceStore {
  /** Records connection `connId` of `userId`. Resolves true when the user was offline before (first connection anywhere). */
  connect(userId: string, connId: string): Promise<boolean>;
  /** Forgets connection `connId`. Resolves true when it was the user's last one (now offline). */
  disconnect(userId: string, connId: string): Promise<boolean>;
  /** The subset of `userIds` that is online. */
  online(userIds: readonly string[]): Promise<Set<string>>;
  /** Keeps this node's connections alive; no-op where nothing expires. */
  heartbeat(connections: ReadonlyMap<string, string>): Promise<void>;
  /** Takes offline the users whose connections all expired (their node died); resolves their ids. */
  sweep(): Promise<string[]>;
}

/** Single-process store: connections counted in memory, nothing expires. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly connections = new Map<string, Set<string>>();

  async connect(userId: string, connId: string) {
    const set = this.connections.get(userId) ?? new Set();
    this.connections.set(userId, set.add(connId));
    return set.size === 1;
  }

  async disconnect(userId: string, connId: string) {
    const set = this.connections.get(userId);
    if (!set?.delete(connId)) return false;
    if (set.size > 0) return false;
    this.connections.delete(userId);
    return true;
  }

  async online(userIds: readonly string[]) {
    return new Set(userIds.filter((id) => this.connections.has(id)));
  }

  async heartbeat() {}

  async sweep() {
    return [];
  }
}

// every presence key carries the hash tag {presence}: the scripts below touch a user's key and ONLINE
// at once, which a Redis Cluster allows only within one slot; so presence lives on one shard
const ONLINE = "{presence}:online";
const userKey = (userId: string) => `{presence}:user:${userId}`;

// KEYS[1] user's connection zset, KEYS[2] online zset; ARGV connId, expiry ms, now ms, userId
const CONNECT = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
local was = redis.call('ZSCORE', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
if was then return 0 end
return 1`;
const DISCONNECT = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[4])`;
// ARGV[1] now ms, ARGV[2] userId
const SWEEP = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] then
  redis.call('ZADD', KEYS[2], newest[2], ARGV[2])
  return 0
end
return redis.call('ZREM', KEYS[2], ARGV[2])`;

// KEYS[1] online zset, KEYS[2..] connection zsets; ARGV[1] expiry ms, then for each KEYS[i] (i ≥ 2): its connId, its userId
const HEARTBEAT = `
local expiry = ARGV[1]
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], expiry, ARGV[2 * i - 2])
  redis.call('PEXPIREAT', KEYS[i], expiry)
  redis.call('ZADD', KEYS[1], 'GT', expiry, ARGV[2 * i - 1])
end
return 0`;

/**
 * Connections refreshed by one heartbeat script call. The calls of one heartbeat run one
 * after the other, so neither this node's event loop nor Redis is held for long: building
 * and parsing one pipeline for every connection of a busy node holds the event loop long
 * enough to set the p99 of message delivery (docs/performance.md).
 */
const HEARTBEAT_CHUNK = 500;

/**
 * Presence shared by all nodes through Redis. Each user has a sorted set of
 * connection ids scored by expiry time; `{presence}:online` holds each online
 * user scored by their latest expiry. Nodes refresh their connections every
 * ttl/3 ({@link heartbeat}); a node that dies stops refreshing, and any
 * node's {@link sweep} takes its users offline once `ttlMs` has passed.
 * Each transition runs as one Lua script, so exactly one node observes it.
 */
export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: RedisClient,
    /** How long a connection counts as open without a heartbeat, in ms. */
    private readonly ttlMs: number,
  ) {}

  async connect(userId: string, connId: string) {
    const now = Date.now();
    const result = await this.redis.eval(CONNECT, 2, userKey(userId), ONLINE, connId, now + this.ttlMs, now, userId);
    return result === 1;
  }

  async disconnect(userId: string, connId: string) {
    const now = Date.now();
    const result = await this.redis.eval(DISCONNECT, 2, userKey(userId), ONLINE, connId, 0, now, userId);
    return result === 1;
  }

  async online(userIds: readonly string[]) {
    if (userIds.length === 0) return new Set<string>();
    const scores = await this.redis.zmscore(ONLINE, ...userIds);
    const now = Date.now();
    return new Set(userIds.filter((_, i) => Number(scores[i] ?? 0) > now));
  }

  /** One script call per {@link HEARTBEAT_CHUNK} connections, in turn. */
  async heartbeat(connections: ReadonlyMap<string, string>) {
    const expiry = Date.now() + this.ttlMs;
    const entries = [...connections];
    for (let i = 0; i < entries.length; i += HEARTBEAT_CHUNK) {
      const chunk = entries.slice(i, i + HEARTBEAT_CHUNK);
      await this.redis.eval(HEARTBEAT, chunk.length + 1, ONLINE, ...chunk.map(([, userId]) => userKey(userId)), expiry, ...chunk.flat());
    }
  }

  async sweep() {
    const now = Date.now();
    const stale = await this.redis.zrangebyscore(ONLINE, "-inf", now);
    const offline: string[] = [];
    for (const userId of stale) {
      if ((await this.redis.eval(SWEEP, 2, userKey(userId), ONLINE, now, userId)) === 1) offline.push(userId);
    }
    return offline;
  }
}
