/**
 * The Redis presence store (src/realtime/presence-store.ts) against a real Redis:
 * a heartbeat refreshes every connection it is given, however many chunks it
 * takes, so their users stay online past the TTL; without one they expire.
 * (Presence through the protocols is in test/two-nodes.test.ts and test/privacy.test.ts.)
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisPresenceStore } from "../src/realtime/presence-store.js";
import { REDIS_URL } from "./helpers/env.js";

describe("RedisPresenceStore.heartbeat", () => {
  const redis = new Redis(REDIS_URL, { keyPrefix: `test:presence:${randomBytes(4).toString("hex")}:` });
  afterAll(async () => {
    const keys = await redis.keys(`${redis.options.keyPrefix}*`);
    if (keys.length) await redis.del(...keys.map((k) => k.slice(redis.options.keyPrefix!.length)));
    redis.disconnect();
  });

  it("keeps 1,201 connections (three script calls) of 1,200 users online past the TTL", async () => {
    const ttlMs = 1000;
    const store = new RedisPresenceStore(redis, ttlMs);
    const connections = new Map(Array.from({ length: 1201 }, (_, i) => [`conn-${i}`, `user-${i % 1200}`] as [string, string]));
    const users = [...new Set(connections.values())];
    expect((await store.online(users)).size).toBe(0);
    await store.heartbeat(connections);
    expect((await store.online(users)).size).toBe(1200);
    await new Promise((done) => setTimeout(done, ttlMs / 2));
    await store.heartbeat(connections);
    await new Promise((done) => setTimeout(done, ttlMs * 0.75));
    // 1.25 TTL after the first heartbeat: online thanks to the second one
    expect((await store.online(users)).size).toBe(1200);
    // every connection was refreshed, the last chunk's too: the user with two connections keeps both
    expect(await redis.zcard("{presence}:user:user-0")).toBe(2);
    await new Promise((done) => setTimeout(done, ttlMs));
    expect((await store.online(users)).size).toBe(0);
  });
});
