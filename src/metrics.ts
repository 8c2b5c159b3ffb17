import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The node's Prometheus metrics, in a registry of its own (several apps can
 * live in one process, as in the tests). Served at `GET /metrics` with Yoga's
 * GraphQL metrics (@graphql-yoga/plugin-prometheus: request, parse, validate,
 * execute and subscribe timings, errors) on the same registry. Ours:
 * - `chat_websocket_connections`: graphql-ws sockets open on this node (authenticated);
 * - `chat_subscriptions_active`: subscriptions running on this node (WebSocket and SSE);
 * - `chat_events_published_total{topic}`: events this node published (room events, messages, typing, presence, user events);
 * - `chat_events_delivered_total{stream}`: room events and messages this node handed to subscribers;
 * - `chat_event_delivery_lag_seconds`: from an event's time to its hand-over to a subscriber here
 *   (pub/sub lag plus queueing; replayed events are not observed).
 * Rates (events per second) come from the counters in PromQL: `rate(chat_events_published_total[1m])`.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: "chat_websocket_connections", help: "Authenticated graphql-ws sockets open on this node", registers: [this.registry] });
  readonly subscriptions = new Gauge({ name: "chat_subscriptions_active", help: "GraphQL subscriptions running on this node", registers: [this.registry] });
  readonly published = new Counter({
    name: "chat_events_published_total",
    help: "Events published by this node, by topic kind",
    labelNames: ["topic"] as const,
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: "chat_events_delivered_total",
    help: "Room events and messages handed to subscribers on this node",
    labelNames: ["stream"] as const,
    registers: [this.registry],
  });
  readonly lag = new Histogram({
    name: "chat_event_delivery_lag_seconds",
    help: "From an event's time to its hand-over to a subscriber on this node, in seconds",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  /** Counts one published event on `topic` (its kind is the part after the id: message, events, typing, …). */
  publishedOn(topic: string): void {
    this.published.inc({ topic: topic.split(":").at(-1) ?? topic });
  }

  /** Counts one event handed to a subscriber of `stream`, and its lag when it is live (`at`: ISO-8601 time, or a Date). */
  deliveredOn(stream: "roomEvents" | "messageAdded", at: string | Date, live: boolean): void {
    this.delivered.inc({ stream });
    if (live) this.lag.observe(Math.max(0, Date.now() - new Date(at).getTime()) / 1000);
  }
}
