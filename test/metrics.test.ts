/**
 * GET /metrics (Prometheus text): Yoga's GraphQL metrics and ours — open
 * WebSocket connections, active subscriptions, events published and delivered,
 * delivery lag — moving as a client connects, subscribes, receives and leaves.
 */
import { describe, expect, it } from "vitest";
import { subscribe, warmUp, wsClient } from "./helpers/client.js";
import { metricsOf } from "./helpers/metrics.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api,
  users: [alice, bob],
} = useTestServer(["alice", "bob"], { redis: true });

const sample = (name: string) => metricsOf(server.url).sample(name);
const until = (name: string, value: number) => metricsOf(server.url).until(name, value);

describe("GET /metrics", () => {
  it("exposes Prometheus text with Yoga's metrics and ours", async () => {
    const res = await fetch(server.url.replace(/\/graphql$/, "/metrics"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of [
      "chat_websocket_connections",
      "chat_subscriptions_active",
      "chat_events_published_total",
      "chat_events_delivered_total",
      "chat_event_delivery_lag_seconds",
      "chat_shared_executions_total",
      "chat_shared_results_total",
      "chat_db_admission_active",
      "chat_db_admission_waiting",
      "nodejs_heap_size_used_bytes",
      "process_cpu_seconds_total",
      "graphql_envelop_phase_parse",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it("counts sockets, subscriptions, published and delivered events, and their lag", async () => {
    const roomId = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "M", type: GROUP, memberIds: $m }) { id } }`, { m: [bob.id] })
    ).createRoom.id;
    const published = await sample('chat_events_published_total{topic="message"}');
    const delivered = await sample('chat_events_delivered_total{stream="messageAdded"}');
    const lagged = await sample("chat_event_delivery_lag_seconds_count");

    const client = wsClient(server.wsUrl, bob.accessToken);
    const sub = subscribe(client, `subscription($r: ID!) { messageAdded(roomId: $r) { content } }`, { r: roomId });
    await warmUp(sub, () =>
      api.ok(alice, `mutation($r: ID!) { sendMessage(input: { roomId: $r, content: "hello" }) { id } }`, { r: roomId }),
    );
    await until("chat_websocket_connections", 1);
    await until("chat_subscriptions_active", 1);
    const sent = (await sample('chat_events_published_total{topic="message"}')) - published;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect((await sample('chat_events_delivered_total{stream="messageAdded"}')) - delivered).toBe(sub.events.length);
    expect((await sample("chat_event_delivery_lag_seconds_count")) - lagged).toBe(sub.events.length);

    await client.dispose();
    await until("chat_subscriptions_active", 0);
    await until("chat_websocket_connections", 0);
  });
});
