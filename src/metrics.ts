import type { PubSubEngine } from "graphql-subscriptions";
import type { Plugin } from "graphql-yoga";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Admission } from "./db/admission.js";

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
 *   (pub/sub lag plus queueing; replayed events are not observed), one sample per event and
 *   fan-out group (realtime/fanout.ts), whatever its number of members;
 * - `chat_shared_executions_total` / `chat_shared_results_total`: subscription events executed
 *   once for all their subscribers on this node, and the results handed out from them
 *   (realtime/shared-execution.ts); results ÷ executions is the sharing factor.
 * - `chat_ws_closed_total{reason}`: WebSockets closed by a limit (limits/socket-guard.ts): `message_rate` and
 *   `subscriptions` (4429), `payload_too_large` (1009), `slow_consumer` (1013).
 * - `chat_db_admission_active` / `chat_db_admission_waiting`: subscription set-ups, authentications,
 *   presence and sweep jobs using the database now, and waiting for their turn (db/admission.ts).
 * Rates (events per second) come from the counters in PromQL: `rate(chat_events_published_total[1m])`.
 * Plus prom-client's process and Node.js metrics (`process_cpu_seconds_total`,
 * `nodejs_heap_size_used_bytes`, event-loop lag, …).
 */
export class Metrics {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  readonly connections = new Gauge({
    name: "chat_websocket_connections",
    help: "Authenticated graphql-ws sockets open on this node",
    registers: [this.registry],
  });
  readonly subscriptions = new Gauge({
    name: "chat_subscriptions_active",
    help: "GraphQL subscriptions running on this node",
    registers: [this.registry],
  });
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
  readonly sharedExecutions = new Counter({
    name: "chat_shared_executions_total",
    help: "Subscription events executed once for all their subscribers on this node",
    registers: [this.registry],
  });
  readonly sharedResults = new Counter({
    name: "chat_shared_results_total",
    help: "Subscription results handed out from shared executions on this node",
    registers: [this.registry],
  });
  readonly wsClosed = new Counter({
    name: "chat_ws_closed_total",
    help: "WebSockets closed by a limit on this node, by reason",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly lag = new Histogram({
    name: "chat_event_delivery_lag_seconds",
    help: "From an event's time to its hand-over to a subscriber on this node, in seconds",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  /** Reports `admission`'s running and waiting jobs as `chat_db_admission_active` and `chat_db_admission_waiting`, read at each scrape. */
  watchAdmission(admission: Admission): void {
    new Gauge({
      name: "chat_db_admission_active",
      help: "Database jobs that can wait (subscription set-up, authentication, presence, sweeps) running now",
      registers: [this.registry],
      collect() {
        this.set(admission.active);
      },
    });
    new Gauge({
      name: "chat_db_admission_waiting",
      help: "Database jobs that can wait, waiting for a permit",
      registers: [this.registry],
      collect() {
        this.set(admission.waiting);
      },
    });
  }

  /** Makes every publish on `pubsub`, whoever publishes, count in `chat_events_published_total` by topic kind (the part after the id). */
  countPublishes(pubsub: PubSubEngine): void {
    const publish = pubsub.publish.bind(pubsub);
    pubsub.publish = (topic, payload) => {
      this.published.inc({ topic: topic.split(":").at(-1) ?? topic });
      return publish(topic, payload);
    };
  }

  /**
   * Counts one event handed to `count` subscribers of `stream` (a fan-out group hands it
   * to all its members at once), and observes its lag once when it is live (`at`:
   * ISO-8601 time, or a Date).
   */
  deliveredOn(stream: "roomEvents" | "messageAdded", at: string | Date, live: boolean, count = 1): void {
    this.delivered.inc({ stream }, count);
    if (live) this.lag.observe(Math.max(0, Date.now() - new Date(at).getTime()) / 1000);
  }
}

/** An envelop (Yoga) plugin keeping `metrics`' `chat_subscriptions_active`: up when a subscription starts streaming, down when it ends. */
export function useSubscriptionMetrics(metrics: Metrics): Plugin {
  // the same hook objects for every subscription: an idle one keeps no closure of its own here
  const ended = { onEnd: () => metrics.subscriptions.dec() };
  const hooks: ReturnType<NonNullable<Plugin["onSubscribe"]>> = {
    onSubscribeResult: ({ result }) => {
      if (!(result && typeof result === "object" && Symbol.asyncIterator in result)) return;
      metrics.subscriptions.inc();
      return ended;
    },
  };
  return { onSubscribe: () => hooks };
}
