/**
 * Fan-out groups (src/realtime/fanout.ts): WebSocket subscriptions to messageAdded
 * and roomEvents are delivered by one loop per node and (topic, document, operation
 * name, variables), which writes each member's frame itself. Real servers, real
 * graphql-ws clients (and raw sockets where bytes or back-pressure matter):
 * - members joining and leaving mid-stream, one completing while an event is delivered;
 * - a resuming subscriber (`after:`) joins the group, the one of subscribers with no cursor, with no gap and no duplicate;
 * - the group's gap fills go on when the member whose socket started it has gone;
 * - frames byte-identical for members of one group, shared and per-viewer, with their own ids
 *   (test/ws-server.test.ts compares them with graphql-ws's own use/ws server);
 * - a slow consumer is cut with 1013 while its group keeps delivering;
 * - 1,000 subscriptions with mixed selections and variables on two nodes each get exactly their own events.
 */
import { describe, expect, it } from "vitest";
import { gqlOk, registerUsers, subscribe, wsClient } from "./helpers/client.js";
import { metricsOf } from "./helpers/metrics.js";
import { startNodes } from "./helpers/node-process.js";
import { rawSocket } from "./helpers/raw-socket.js";
import { useTestServer } from "./helpers/server.js";

const SHARED = `subscription($r: ID!) { messageAdded(roomId: $r) { id seq content sender { id } } }`;
const RESUMING = `subscription($r: ID!, $a: String) { messageAdded(roomId: $r, after: $a) { seq content } }`;
const PER_VIEWER = `subscription($r: ID!) { messageAdded(roomId: $r) { seq content deliveryState } }`;
const EVENTS = `subscription($r: ID!) { roomEvents(roomId: $r) { __typename ... on SequencedEvent { seq } ... on MessageAdded { message { content } } } }`;

describe("fan-out groups on one node", () => {
  const { server, api, users, client } = useTestServer(["alice", "bob", "carol"], {
    env: { WS_MAX_BUFFERED_BYTES: "65536", RATE_LIMITS: "off" },
  });
  const [alice, bob, carol] = users;

  async function room() {
    const roomId = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Fan", type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id, carol.id],
      })
    ).createRoom.id as string;
    const send = async (content: string) =>
      (await api.ok(alice, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { seq } }`, { i: { roomId, content } })).sendMessage
        .seq as number;
    return { roomId, send };
  }
  const running = async (count: number) => metricsOf(server.url).until("chat_subscriptions_active", count, 10_000);
  const contents = (events: { data?: { messageAdded: { content: string } } | null }[]) => events.map((e) => e.data!.messageAdded.content);

  it("serves members that join and leave mid-stream, one of them completing while an event is delivered", async () => {
    const { roomId, send } = await room();
    const base = await metricsOf(server.url).sample("chat_subscriptions_active");
    const [a, b] = [subscribe(client(alice), SHARED, { r: roomId }), subscribe(client(bob), PER_VIEWER, { r: roomId })];
    const leaving = subscribe(client(bob), SHARED, { r: roomId });
    await running(base + 3);
    await send("1");
    await leaving.nextWhere((e) => e.data?.messageAdded.content === "1");
    // completes (client `complete`) while "2" is being executed and written
    const second = send("2");
    leaving.stop();
    await second;
    const c = subscribe(client(carol), SHARED, { r: roomId });
    await running(base + 3);
    for (const n of ["3", "4"]) await send(n);
    await a.nextWhere((e) => e.data?.messageAdded.content === "4");
    await b.nextWhere((e) => e.data?.messageAdded.content === "4");
    await c.nextWhere((e) => e.data?.messageAdded.content === "4");
    expect(contents(a.events)).toEqual(["1", "2", "3", "4"]);
    expect(contents(b.events)).toEqual(["1", "2", "3", "4"]);
    expect(contents(c.events)).toEqual(["3", "4"]);
    expect(contents(leaving.events).slice(0, 1)).toEqual(["1"]);
    expect(contents(leaving.events).length).toBeLessThanOrEqual(2);
    expect(a.events.map((e) => e.data!.messageAdded.seq)).toEqual([1, 2, 3, 4]);
    // everyone leaves: the group lets go of the room's topic, a new subscriber starts a new one
    for (const s of [a, b, c]) s.stop();
    await running(base);
    const d = subscribe(client(carol), SHARED, { r: roomId });
    await running(base + 1);
    await send("5");
    expect(contents([await d.nextWhere(() => true)])).toEqual(["5"]);
  });

  it("lets a resuming subscriber join with no gap and no duplicate while messages keep coming", async () => {
    const { roomId, send } = await room();
    const base = await metricsOf(server.url).sample("chat_subscriptions_active");
    const steady = subscribe(client(alice), RESUMING, { r: roomId });
    await running(base + 1);
    for (let i = 1; i <= 5; i++) await send(String(i));
    // bob resumes after 2 while 6…15 are being sent
    const sending = (async () => {
      for (let i = 6; i <= 15; i++) await send(String(i));
    })();
    const resumed = subscribe(client(bob), RESUMING, { r: roomId, a: "2" });
    await sending;
    await resumed.nextWhere((e) => e.data?.messageAdded.seq === 15);
    await steady.nextWhere((e) => e.data?.messageAdded.seq === 15);
    const seqs = (s: typeof steady) => s.events.map((e) => e.data!.messageAdded.seq);
    expect(seqs(resumed)).toEqual(Array.from({ length: 13 }, (_, i) => i + 3));
    expect(seqs(steady)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    // resumed from a cursor, bob is in alice's group all the same: one execution, two deliveries per message
    const metrics = metricsOf(server.url);
    const [executions, delivered] = [
      await metrics.sample("chat_shared_executions_total"),
      await metrics.sample(`chat_events_delivered_total{stream="messageAdded"}`),
    ];
    await send("16");
    await resumed.nextWhere((e) => e.data?.messageAdded.seq === 16);
    await steady.nextWhere((e) => e.data?.messageAdded.seq === 16);
    expect(await metrics.sample("chat_shared_executions_total")).toBe(executions + 1);
    expect(await metrics.sample(`chat_events_delivered_total{stream="messageAdded"}`)).toBe(delivered + 2);
  });

  it("keeps filling gaps for the others once the member whose socket started the group has gone", async () => {
    const { roomId, send } = await room();
    const base = await metricsOf(server.url).sample("chat_subscriptions_active");
    const starter = wsClient(server.wsUrl, alice.accessToken);
    subscribe(starter, SHARED, { r: roomId });
    await running(base + 1);
    const staying = subscribe(client(bob), SHARED, { r: roomId });
    await running(base + 2);
    await starter.dispose();
    await running(base + 1);
    // one lost publish: "lost" reaches the group only through the gap fill that "after" starts, read from storage
    const { pubsub } = server.app;
    const publish = pubsub.publish.bind(pubsub);
    let dropping = true;
    pubsub.publish = async (topic, payload) => {
      if (dropping && topic === `room:{${roomId}}:message`) dropping = false;
      else await publish(topic, payload);
    };
    try {
      await send("lost");
      await send("after");
    } finally {
      pubsub.publish = publish;
    }
    await staying.nextWhere((e) => e.data?.messageAdded.content === "after");
    expect(contents(staying.events)).toEqual(["lost", "after"]);
  });

  it("writes one group's frames with each member's own id, byte for byte alike, and per-viewer frames per viewer", async () => {
    const { roomId } = await room();
    const base = await metricsOf(server.url).sample("chat_subscriptions_active");
    const id = '"\u0000payload"}';
    const [x, y, z] = [
      rawSocket(server.wsUrl, alice.accessToken, { a: [SHARED, { r: roomId }], p: [PER_VIEWER, { r: roomId }] }),
      rawSocket(server.wsUrl, bob.accessToken, { [id]: [SHARED, { r: roomId }] }),
      rawSocket(server.wsUrl, carol.accessToken, { p: [PER_VIEWER, { r: roomId }] }),
    ];
    await running(base + 4);
    const content = 'q "\\u0000payload"} ✓ \u2028';
    await api.ok(alice, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { roomId, content } });
    await expect.poll(() => x.frames.length + y.frames.length + z.frames.length).toBe(4);
    const shared = x.frames.find((f) => f.startsWith('{"id":"a"'))!;
    expect(y.frames[0]).toBe(shared.replace('{"id":"a"', `{"id":${JSON.stringify(id)}`));
    for (const frame of [...x.frames, ...y.frames, ...z.frames]) {
      const message = JSON.parse(frame) as { id: string; payload: unknown };
      expect(frame).toBe(JSON.stringify({ id: message.id, type: "next", payload: message.payload }));
    }
    const perViewer = (frames: string[]) =>
      JSON.parse(frames.find((f) => f.startsWith('{"id":"p"'))!).payload.data.messageAdded.deliveryState;
    expect([perViewer(x.frames), perViewer(z.frames)]).toEqual(["SENT", null]);
    for (const s of [x, y, z]) s.ws.close();
  });

  it("cuts a slow consumer with 1013 while its group keeps delivering to the others", async () => {
    const { roomId, send } = await room();
    const base = await metricsOf(server.url).sample("chat_subscriptions_active");
    const SUBSCRIPTIONS = 90;
    const slow = rawSocket(
      server.wsUrl,
      carol.accessToken,
      Object.fromEntries(Array.from({ length: SUBSCRIPTIONS }, (_, i) => [`s${i}`, [SHARED, { r: roomId }]])),
    );
    const fast = subscribe(client(bob), SHARED, { r: roomId });
    await running(base + SUBSCRIPTIONS + 1);
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = "x".repeat(4900);
    const started = Date.now();
    for (let i = 0; i < 60; i++) {
      await send(`${i} ${big}`);
      expect((await fast.next(5000)).data.messageAdded.content).toBe(`${i} ${big}`);
    }
    // 60 × 90 frames of 5 KB ≈ 27 MB for the paused socket: more than the kernel's buffers take, far over its 64 KB bound
    expect(Date.now() - started).toBeLessThan(60_000);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await slow.closed).toEqual({ code: 1013, reason: "Try again later: more than 65536 bytes unread" });
    await send("after");
    expect((await fast.next(5000)).data.messageAdded.content).toBe("after");
  }, 90_000);
});

describe("fan-out groups on two nodes", () => {
  it("hands 1,000 subscriptions with mixed selections and variables exactly their own events", async () => {
    const group = await startNodes(2);
    try {
      const [a, b] = group.nodes;
      const users = await registerUsers(a.url, ["u0", "u1", "u2", "u3"] as const);
      const memberIds = users.slice(1).map((u) => u.id);
      const rooms: string[] = [];
      for (let i = 0; i < 4; i++) {
        rooms.push(
          (
            await gqlOk(
              a.url,
              `mutation($m: [ID!]) { createRoom(input: { name: "R${i}", type: GROUP, memberIds: $m }) { id } }`,
              { m: memberIds },
              users[0].accessToken,
            )
          ).createRoom.id,
        );
      }
      const selections = [SHARED, PER_VIEWER, EVENTS];
      // 20 sockets (10 per node), 50 subscriptions each: every (room, selection) pair on every node
      const subs: { room: number; selection: number; user: number; sub: ReturnType<typeof subscribe> }[] = [];
      const clients = Array.from({ length: 20 }, (_, c) => wsClient((c % 2 ? b : a).wsUrl, users[c % 4]!.accessToken));
      clients.forEach((client, c) => {
        for (let k = 0; k < 50; k++) {
          const room = (c + k) % 4;
          const selection = k % 3;
          subs.push({ room, selection, user: c % 4, sub: subscribe(client, selections[selection]!, { r: rooms[room] }) });
        }
      });
      await Promise.all([
        metricsOf(a.url).until("chat_subscriptions_active", 500, 90_000),
        metricsOf(b.url).until("chat_subscriptions_active", 500, 90_000),
      ]);
      for (let i = 0; i < 4; i++)
        await gqlOk(
          b.url,
          `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`,
          { i: { roomId: rooms[i], content: `to R${i}` } },
          users[0].accessToken,
        );
      for (const { room, selection, user, sub } of subs) {
        const event = (await sub.next(15_000)).data as any;
        if (selection === 2)
          expect(event.roomEvents).toEqual({ __typename: "MessageAdded", seq: expect.any(Number), message: { content: `to R${room}` } });
        else expect(event.messageAdded.content).toBe(`to R${room}`);
        if (selection === 1) expect(event.messageAdded.deliveryState).toBe(user === 0 ? "SENT" : null);
      }
      // and nothing else
      await new Promise((r) => setTimeout(r, 500));
      for (const { sub } of subs) expect(sub.drain()).toEqual([]);
      for (const client of clients) await client.dispose();
    } finally {
      await group.stop();
    }
  }, 180_000);
});
