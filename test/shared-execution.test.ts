/**
 * Shared subscription execution (src/realtime/shared-execution.ts): a
 * viewer-independent selection is executed once per event per node for all its
 * subscribers, who get the same data; a selection with a viewer-dependent field
 * (deliveryState) is executed per subscriber and each viewer gets their own
 * value; different documents are executed apart; SUBSCRIPTION_SHARING=off
 * executes everything per subscriber. Counted by /metrics'
 * chat_shared_executions_total and chat_shared_results_total. A shared result is
 * serialized once (src/realtime/shared-json.ts): every socket still gets the
 * exact bytes of `JSON.stringify({ id, type: "next", payload })`.
 */
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type Subscription, subscribe } from "./helpers/client.js";
import { metricsOf } from "./helpers/metrics.js";
import { useTestServer } from "./helpers/server.js";

const SHARED = `subscription($r: ID!) { messageAdded(roomId: $r) { id seq content sender { id displayName } room { id name } } }`;
const OTHER_SHARED = `subscription($r: ID!) { messageAdded(roomId: $r) { id content } }`;
const PER_VIEWER = `subscription($r: ID!) { messageAdded(roomId: $r) { id content deliveryState } }`;

function suite(sharing: "on" | "off") {
  const { server, api, users, client } = useTestServer(["alice", "bob", "carol"], { env: { SUBSCRIPTION_SHARING: sharing } });
  const [alice, bob, carol] = users;

  /** A room of alice, bob and carol; `send` posts as alice. */
  async function room() {
    const roomId = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Shared", type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id, carol.id],
      })
    ).createRoom.id as string;
    const send = (content: string) =>
      api.ok(alice, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { roomId, content } });
    return { roomId, send };
  }

  /** Subscribes each [user, document] pair and waits until all are running. */
  async function subscribeAll(roomId: string, pairs: [typeof alice, string][]) {
    const metrics = metricsOf(server.url);
    const before = await metrics.sample("chat_subscriptions_active");
    const subs = pairs.map(([user, query]) => subscribe(client(user), query, { r: roomId }));
    await metrics.until("chat_subscriptions_active", before + pairs.length);
    return subs;
  }

  /** Runs `work` and returns how much the shared-execution counters moved. */
  async function counted(work: () => Promise<unknown>) {
    const { sample } = metricsOf(server.url);
    const [executions, results] = [await sample("chat_shared_executions_total"), await sample("chat_shared_results_total")];
    await work();
    return {
      executions: (await sample("chat_shared_executions_total")) - executions,
      results: (await sample("chat_shared_results_total")) - results,
    };
  }

  /** Sends `contents` in order through `send`, waits until each of `subs` has the last, and returns {@link counted}'s moves. */
  function deliver(send: (content: string) => Promise<unknown>, subs: Subscription[], contents: string[]) {
    return counted(async () => {
      for (const content of contents) await send(content);
      for (const sub of subs) await sub.nextWhere((e) => e.data?.messageAdded.content === contents.at(-1));
    });
  }

  /** The raw text of every `next` frame `user` gets on a socket of its own running `query` under operation id `id`. */
  async function rawFrames(user: typeof alice, roomId: string, id: string, query: string) {
    const ws = new WebSocket(server.wsUrl, "graphql-transport-ws");
    const frames: string[] = [];
    await new Promise<void>((resolve) => ws.once("open", () => resolve()));
    ws.on("message", (data) => {
      const text = String(data);
      if (text.includes('"connection_ack"'))
        ws.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables: { r: roomId } } }));
      else frames.push(text);
    });
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${user.accessToken}` } }));
    return { frames, close: () => ws.close() };
  }

  return { server, alice, bob, carol, room, subscribeAll, deliver, rawFrames };
}

describe("SUBSCRIPTION_SHARING=on (the default)", () => {
  const { alice, bob, carol, room, subscribeAll, deliver } = suite("on");

  it("executes a viewer-independent selection once per event for all its subscribers, who get the same data", async () => {
    const { roomId, send } = await room();
    const subs = await subscribeAll(
      roomId,
      [alice, bob, carol].map((user): [typeof alice, string] => [user, SHARED]),
    );
    const moved = await deliver(send, subs, ["one", "two"]);
    expect(moved).toEqual({ executions: 2, results: 6 });
    const [first, ...others] = subs.map((s) => s.events.map((e) => e.data));
    expect(first!.map((d) => d!.messageAdded.content)).toEqual(["one", "two"]);
    expect(first![0]!.messageAdded).toMatchObject({ sender: { id: alice.id }, room: { id: roomId, name: "Shared" } });
    for (const other of others) expect(other).toEqual(first);
  });

  it("executes different documents apart, and a viewer-dependent selection per subscriber with each viewer's own value", async () => {
    const { roomId, send } = await room();
    const [aliceOwn, bobOwn, carolShared, bobOther] = await subscribeAll(roomId, [
      [alice, PER_VIEWER],
      [bob, PER_VIEWER],
      [carol, SHARED],
      [bob, OTHER_SHARED],
    ]);
    const moved = await deliver(send, [aliceOwn!, bobOwn!, carolShared!, bobOther!], ["mine"]);
    // SHARED and OTHER_SHARED: one execution each; PER_VIEWER: not shared
    expect(moved).toEqual({ executions: 2, results: 2 });
    expect(aliceOwn!.events.at(-1)!.data!.messageAdded.deliveryState).toBe("SENT");
    expect(bobOwn!.events.at(-1)!.data!.messageAdded.deliveryState).toBeNull();
    expect(bobOther!.events.at(-1)!.data!.messageAdded).toEqual({ id: carolShared!.events.at(-1)!.data!.messageAdded.id, content: "mine" });
  });
});

describe("next frames on the wire", () => {
  const { server, alice, bob, carol, room, rawFrames } = suite("on");

  it("are the exact JSON of { id, type, payload }, for shared and per-viewer results alike", async () => {
    const { roomId, send } = await room();
    const metrics = metricsOf(server.url);
    const before = await metrics.sample("chat_subscriptions_active");
    // operation ids that look like the serializer's placeholder; content with quotes, escapes and non-ASCII
    const sockets = await Promise.all([
      rawFrames(alice, roomId, "a", SHARED),
      rawFrames(bob, roomId, '"\u0000payload"}', SHARED),
      rawFrames(carol, roomId, "c", PER_VIEWER),
    ]);
    await metrics.until("chat_subscriptions_active", before + 3);
    const content = 'say "\\u0000payload"} \\ ✓ \u2028 😀';
    await send(content);
    await expect.poll(() => sockets.every((s) => s.frames.length === 1)).toBe(true);
    const [sharedA, sharedB, perViewer] = sockets.map((s) => s.frames[0]!);
    for (const frame of [sharedA!, sharedB!, perViewer!]) {
      const message = JSON.parse(frame) as { id: string; type: string; payload: { data: { messageAdded: { content: string } } } };
      expect(message.payload.data.messageAdded.content).toBe(content);
      expect(frame).toBe(JSON.stringify({ id: message.id, type: "next", payload: message.payload }));
    }
    expect(sharedB).toBe(sharedA!.replace('"id":"a"', `"id":${JSON.stringify('"\u0000payload"}')}`));
    for (const s of sockets) s.close();
  });
});

describe("SUBSCRIPTION_SHARING=off", () => {
  const { alice, bob, carol, room, subscribeAll, deliver } = suite("off");

  it("executes every subscriber's selection itself, with the same data", async () => {
    const { roomId, send } = await room();
    const subs = await subscribeAll(
      roomId,
      [alice, bob, carol].map((user): [typeof alice, string] => [user, SHARED]),
    );
    const moved = await deliver(send, subs, ["alone"]);
    expect(moved).toEqual({ executions: 0, results: 0 });
    expect(subs[1]!.events).toEqual(subs[0]!.events);
  });
});
