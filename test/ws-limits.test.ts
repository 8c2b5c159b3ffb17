import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { subscribe, untilReceived } from "./helpers/client.js";
import { metricsOf } from "./helpers/metrics.js";
import { type RawSocket, rawSocket } from "./helpers/raw-socket.js";
import { useTestServer } from "./helpers/server.js";

const MESSAGE_ADDED = `subscription($roomId: ID!) { messageAdded(roomId: $roomId) { id seq content } }`;
const SEND = `mutation($roomId: ID!, $content: String!) { sendMessage(input: { roomId: $roomId, content: $content }) { id seq } }`;

/** V8's full garbage collection, enabled at run time (vitest's workers run without --expose-gc). */
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const opened = (socket: RawSocket) => new Promise<void>((resolve) => socket.ws.once("open", () => resolve()));

/**
 * The per-socket limits of limits/socket-guard.ts and server.ts, driven by raw
 * `ws` clients that misbehave frame by frame, next to a well-behaved graphql-ws
 * client whose messages must keep arriving. Each limit close is also checked in
 * /metrics (`chat_ws_closed_total{reason}`).
 */
describe("WebSocket abuse limits", () => {
  const MAX_BUFFERED = 256 * 1024;
  const MAX_PAYLOAD = 64 * 1024;
  // the default subscription cap and message rate; the others small enough to test; no sendMessage rate limit (it sends 200 messages)
  const {
    server,
    api,
    users: [alice, bob, carol, mallory],
    client,
  } = useTestServer(["alice", "bob", "carol", "mallory"], {
    env: {
      WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED),
      WS_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
      WS_CONNECTION_INIT_TIMEOUT_MS: "500",
      RATE_LIMITS: "off",
    },
  });
  const metrics = () => metricsOf(server.url);
  const closedBy = (reason: string) => `chat_ws_closed_total{reason="${reason}"}`;

  /** A room of alice, bob and carol, and alice's live messageAdded subscription on it. */
  async function liveRoom(name: string) {
    const roomId = (
      await api.ok(alice, `mutation($m: [ID!], $n: String!) { createRoom(input: { name: $n, type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id, carol.id],
        n: name,
      })
    ).createRoom.id as string;
    const send = (content: string) => api.ok(bob, SEND, { roomId, content }).then((d) => d.sendMessage as { id: string; seq: number });
    const watcher = subscribe(client(alice), MESSAGE_ADDED, { roomId });
    await untilReceived(watcher, () => send("warm-up"));
    return { roomId, send, watcher };
  }

  it("closes a subscribe storm and a ping flood with 4429 while another client keeps receiving", async () => {
    const { send, watcher } = await liveRoom("Flooded");
    const stormer = rawSocket(server.wsUrl, mallory.accessToken);
    const flooder = rawSocket(server.wsUrl, mallory.accessToken);
    await Promise.all([stormer.acked, flooder.acked]);

    // 150 subscriptions: over the cap of 100, within the burst of 200 messages
    for (let i = 0; i < 150; i++)
      stormer.send({ id: `s${i}`, type: "subscribe", payload: { query: "subscription { myEvents { __typename } }" } });
    // pings until the server closes the socket
    let pings = 0;
    const flood = () => {
      if (flooder.ws.readyState !== WebSocket.OPEN) return;
      for (let i = 0; i < 100; i++, pings++) flooder.send({ type: "ping" });
      setImmediate(flood);
    };
    flood();
    const sent = await send("during the flood");

    expect((await watcher.nextWhere((e) => e.data?.messageAdded.id === sent.id)).data.messageAdded.content).toBe("during the flood");
    expect(await stormer.closed).toEqual({ code: 4429, reason: "Too many requests: more than 100 subscriptions on one socket" });
    expect(await flooder.closed).toEqual({ code: 4429, reason: "Too many requests: more than 200 messages at once or 20 per second" });
    expect(pings).toBeGreaterThan(200);
    expect(await metrics().sample(closedBy("subscriptions"))).toBe(1);
    expect(await metrics().sample(closedBy("message_rate"))).toBe(1);
  });

  it("closes a socket whose frame is above WS_MAX_PAYLOAD_BYTES with 1009 and keeps serving", async () => {
    const { send, watcher } = await liveRoom("Big frames");
    const big = rawSocket(server.wsUrl, mallory.accessToken);
    await big.acked;
    big.send({ type: "ping", payload: { junk: "x".repeat(MAX_PAYLOAD) } });
    expect((await big.closed).code).toBe(1009);

    const sent = await send("after the big frame");
    expect((await watcher.nextWhere((e) => e.data?.messageAdded.id === sent.id)).data.messageAdded.content).toBe("after the big frame");
    expect(await metrics().sample(closedBy("payload_too_large"))).toBe(1);
  });

  it("closes a socket without connection_init within WS_CONNECTION_INIT_TIMEOUT_MS with 4408, and a second connection_init with 4429", async () => {
    const opening = Date.now();
    const silent = rawSocket(server.wsUrl);
    expect(await silent.closed).toEqual({ code: 4408, reason: "Connection initialisation timeout" });
    expect(Date.now() - opening).toBeLessThan(10_000); // the configured 500 ms, not the default 10 s

    const twice = rawSocket(server.wsUrl);
    await opened(twice);
    const init = { type: "connection_init", payload: { authorization: `Bearer ${mallory.accessToken}` } };
    twice.send(init);
    twice.send(init);
    expect(await twice.closed).toEqual({ code: 4429, reason: "Too many initialisation requests" });
  });

  it("closes a subscriber that stops reading with 1013 once WS_MAX_BUFFERED_BYTES are queued, without growing the heap, while others get everything", async () => {
    const { roomId, send, watcher } = await liveRoom("Slow reader");
    // 20 subscriptions on one socket, so each message is about 300 KB to it (3-byte characters): unbounded,
    // the server would keep far more than the noise of a heap measurement (a few MB)
    const SUBSCRIPTIONS = 20;
    const MESSAGES = 200;
    const slow = rawSocket(server.wsUrl, carol.accessToken);
    await slow.acked;
    for (let i = 0; i < SUBSCRIPTIONS; i++)
      slow.send({ id: `m${i}`, type: "subscribe", payload: { query: MESSAGE_ADDED, variables: { roomId } } });
    // the protocol has no "subscribed" acknowledgement: send until each subscription had an event
    for (const deadline = Date.now() + 10_000; slow.nexts.size < SUBSCRIPTIONS; await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > deadline) throw new Error(`${slow.nexts.size} of ${SUBSCRIPTIONS} subscriptions live`);
      await send("warm-up");
    }
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const memory = async () => {
      collectGarbage(); // the server runs in this process: count what is kept, not garbage
      return (await metrics().sample("nodejs_heap_size_used_bytes")) + (await metrics().sample("nodejs_external_memory_bytes"));
    };
    const before = await memory();
    const content = "€".repeat(4900);
    const sending = (async () => {
      const sent: number[] = [];
      for (let i = 0; i < MESSAGES; i += 10)
        sent.push(...(await Promise.all([...Array(10).keys()].map((j) => send(`${i + j} ${content}`)))).map((m) => m.seq));
      return sent.sort((x, y) => x - y);
    })();
    await metrics().until(closedBy("slow_consumer"), 1, 20_000);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await slow.closed).toEqual({ code: 1013, reason: `Try again later: more than ${MAX_BUFFERED} bytes unread` });

    const seqs = await sending;
    for (const seq of seqs) expect((await watcher.nextWhere((e) => e.data?.messageAdded.seq >= seq)).data.messageAdded.seq).toBe(seq);
    // measured once the watcher (a client in this process too) has taken its events, so they do not count
    const grown = (await memory()) - before;
    // unbounded, the slow socket's queue would hold MESSAGES × SUBSCRIPTIONS × ~15 KB ≈ 59 MB, less what the kernel's
    // buffers take (with 10 subscriptions: +24 MB measured unbounded; with 20, bounded: +3 to +13 MB in 3 runs)
    expect(grown).toBeLessThan(24 * 1024 * 1024);
  }, 60_000);
});
