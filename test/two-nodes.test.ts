import { describe, expect, it } from "vitest";
import { connected, gqlOk, subscribe, untilReceived, wsClient } from "./helpers/client.js";
import { useRoomAcrossNodes } from "./helpers/nodes.js";
import { useRedisCluster } from "./helpers/redis-cluster.js";

/**
 * Two server processes sharing one PostgreSQL and one Redis, as behind a load
 * balancer: what a client does through node B reaches subscribers on node A.
 * Again with a Redis Cluster of 3 primaries instead (sharded pub/sub, presence on one slot).
 */
describe.each([
  { redis: "one Redis", cluster: false },
  { redis: "a Redis Cluster", cluster: true },
])("two nodes sharing PostgreSQL and $redis", ({ cluster }) => {
  const PRESENCE_TTL_MS = 3000;
  const env = { PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) };
  const redisCluster = cluster ? useRedisCluster() : null;
  const {
    group,
    users: [alice, bob, carol],
    room,
  } = useRoomAcrossNodes(redisCluster ? () => ({ ...env, ...redisCluster.env() }) : env, "Across");
  const [a, b] = group.nodes;

  it("delivers messageAdded on A for a message sent through B", async () => {
    const client = wsClient(a.wsUrl, alice.accessToken);
    const sub = subscribe(client, `subscription($r: ID!) { messageAdded(roomId: $r) { id content sender { id } } }`, { r: room.id });
    const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
    await untilReceived(sub, () => gqlOk(b.url, SEND, { r: room.id, c: "warm-up" }, bob.accessToken));
    const sent = (await gqlOk(b.url, SEND, { r: room.id, c: "from node B" }, bob.accessToken)).sendMessage;
    const event = await sub.nextWhere((e) => e.data?.messageAdded.id === sent.id);
    expect(event.data.messageAdded).toEqual({ id: sent.id, content: "from node B", sender: { id: bob.id } });
    await client.dispose();
  });

  it("delivers typing on A for setTyping through B, including B's expiry", async () => {
    const client = wsClient(a.wsUrl, alice.accessToken);
    const sub = subscribe(client, `subscription($r: ID!) { typing(roomId: $r) { isTyping user { id } } }`, { r: room.id });
    const typing = (on: boolean) =>
      gqlOk(b.url, `mutation($r: ID!, $on: Boolean!) { setTyping(roomId: $r, isTyping: $on) }`, { r: room.id, on }, bob.accessToken);
    const first = await untilReceived(sub, async () => {
      await typing(false);
      await typing(true);
    });
    if (!first.data.typing.isTyping) await sub.nextWhere((e) => e.data?.typing.isTyping === true);
    expect((await sub.next(6000)).data.typing).toEqual({ isTyping: false, user: { id: bob.id } });
    await client.dispose();
  });

  it("delivers presence on A for connections to B, keeps B's users ONLINE past the TTL, and takes a killed node's users OFFLINE within it", async () => {
    const client = wsClient(a.wsUrl, alice.accessToken);
    const sub = subscribe(client, `subscription($r: ID!) { presence(roomId: $r) { status user { id } } }`, { r: room.id });
    const bobsNext = (timeoutMs?: number) =>
      sub.nextWhere((e) => e.data?.presence.user.id === bob.id, timeoutMs).then((e) => e.data.presence);
    // carol comes and goes until alice's subscription is live
    await untilReceived(sub, async () => (await connected(b.wsUrl, carol)).dispose(), 300);

    const bobOnB = await connected(b.wsUrl, bob);
    expect(await bobsNext()).toEqual({ status: "ONLINE", user: { id: bob.id } });
    await bobOnB.dispose();
    expect(await bobsNext()).toEqual({ status: "OFFLINE", user: { id: bob.id } });

    // node B dies without closing its sockets: node A's sweep notices once the TTL has run out
    const orphan = await connected(b.wsUrl, bob);
    expect((await bobsNext()).status).toBe("ONLINE");
    // while B lives, its heartbeats keep bob ONLINE well past the TTL
    await expect(bobsNext(PRESENCE_TTL_MS * 2)).rejects.toThrow();
    const killedAt = Date.now();
    await b.stop("SIGKILL");
    expect(await bobsNext(PRESENCE_TTL_MS * 3)).toEqual({ status: "OFFLINE", user: { id: bob.id } });
    expect(Date.now() - killedAt).toBeLessThanOrEqual(PRESENCE_TTL_MS * 2);
    await orphan.dispose();
    await client.dispose();
  }, 60_000);
});
