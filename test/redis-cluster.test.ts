import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { topics } from "../src/realtime/topics.js";
import { subscribe, warmUp } from "./helpers/client.js";
import { useRedisCluster } from "./helpers/redis-cluster.js";
import { makeRoom, sendMessage } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

/** PUBSUB `subcommand` (SHARDCHANNELS, SHARDNUMSUB) on one node only, `address` as host:port. */
async function pubsubOn(address: string, ...args: string[]): Promise<unknown> {
  const [host, port] = address.split(":");
  const redis = new Redis({ host, port: Number(port) });
  try {
    return await redis.call("PUBSUB", ...args);
  } finally {
    redis.disconnect();
  }
}

/**
 * A server on a Redis Cluster of its own (REDIS_CLUSTER_NODES; 3 primaries, a
 * replica each): sharded pub/sub puts a room's channels on the one shard that
 * owns their slot, and a room's subscriber misses nothing when that shard's
 * primary dies and its replica takes over. The two-node suite runs on a cluster
 * too (two-nodes.test.ts).
 */
describe("Redis Cluster: sharded pub/sub", () => {
  const { cluster, env } = useRedisCluster();
  const {
    api,
    users: [alice],
    client,
  } = useTestServer(["alice"], () => ({ env: { ...env(), RATE_LIMITS: "off" } }));
  const MESSAGE_ADDED = `subscription($r: ID!, $after: String) { messageAdded(roomId: $r, after: $after) { seq } }`;

  it("subscribes a node only on the shards that own its rooms, once per channel however many subscribers", async () => {
    const rooms = await Promise.all(Array.from({ length: 6 }, (_, i) => makeRoom(api, alice, { name: `Shard ${i}` })));
    // two subscribers on the first room, one on each other
    for (const roomId of [rooms[0]!, ...rooms]) {
      const sub = subscribe(client(alice), MESSAGE_ADDED, { r: roomId });
      await warmUp(sub, () => sendMessage(api, alice, roomId, "warm-up"));
    }
    const primaries = await cluster().primaries();
    const owners = new Map(
      await Promise.all(rooms.map(async (roomId) => [roomId, await cluster().primaryFor(topics.messageAdded(roomId))] as const)),
    );
    expect(new Set(owners.values()).size, "6 rooms spread over more than one shard").toBeGreaterThan(1);
    for (const primary of primaries) {
      const channels = ((await pubsubOn(primary, "SHARDCHANNELS")) as string[]).filter((c) => rooms.some((r) => c.includes(`{${r}}`)));
      const mine = rooms.filter((roomId) => owners.get(roomId) === primary);
      // every channel here belongs to a room this shard owns (a room's channels share its slot), and each such room has one
      expect(new Set(channels.map((c) => /\{(.+)\}/.exec(c)![1]))).toEqual(new Set(mine));
      for (const roomId of mine) {
        const [, count] = (await pubsubOn(primary, "SHARDNUMSUB", topics.messageAdded(roomId))) as [string, number];
        expect(count, `${roomId}: one SSUBSCRIBE per channel per node`).toBe(1);
      }
    }
  });

  it("keeps a messageAdded(after:) subscriber gap-free and duplicate-free while the room's primary fails over", async () => {
    const roomId = await makeRoom(api, alice, { name: "Failover" });
    const sub = subscribe(client(alice), MESSAGE_ADDED, { r: roomId, after: "0" });
    await warmUp(sub, () => sendMessage(api, alice, roomId, "before"));
    // sends go on throughout; one refused while the shard has no primary is not a message
    const sent: number[] = [];
    let sending = true;
    const sender = (async () => {
      while (sending) {
        const result = await api.run(alice, `mutation($r: ID!) { sendMessage(input: { roomId: $r, content: "during" }) { seq } }`, {
          r: roomId,
        });
        if (result.data?.sendMessage) sent.push(result.data.sendMessage.seq);
      }
    })();
    const { failed, promoted } = await cluster().failover(topics.messageAdded(roomId));
    expect(promoted).not.toBe(failed);
    const afterFailover = sent.length;
    await sub.nextWhere(() => sent.length >= afterFailover + 5, 20_000);
    sending = false;
    await sender;
    const last = Math.max(...sent);
    await sub.nextWhere((e) => e.data?.messageAdded.seq === last, 20_000);
    const seqs = sub.events.map((e) => e.data.messageAdded.seq);
    expect(seqs).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  }, 60_000);
});
