import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import {
  type Context,
  context,
  DiagLogLevel,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  type Tracer,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { Logger } from "pino";
import type { Config } from "./config.js";

/**
 * The W3C trace context a bus payload carries when tracing is on (realtime/event-log.ts
 * puts the publish span's there): `traceparent` as in the HTTP header
 * (`00-<trace id>-<span id>-<flags>`), and `tracestate` when the trace has one.
 */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/**
 * A node's OpenTelemetry tracing, when it is configured ({@link makeTracing}). A
 * message's trace (docs/architecture.md, "How a message reaches every subscriber"):
 * `sendMessage` (chat/messages.ts; child of the client's `traceparent` header when it
 * sends one) with its children `commit` (the SQL statement or transaction) and
 * `publish` (realtime/event-log.ts, after the commit), whose context each published
 * payload carries across Redis; on every node, `delivery` (realtime/fanout.ts), a
 * child of `publish`: one per event and fan-out group, whatever its member count.
 * Spans go to the OTLP collector in batches (every 5 s, and at {@link shutdown}).
 *
 * Callers hold a `Tracing | null` and test it before anything else: with tracing
 * off, the hot paths make no span, context or carrier, only that null check.
 */
export class Tracing {
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(private readonly provider: TracerProvider) {
    this.tracer = provider.getTracer("chat-graphql");
  }

  /**
   * Runs `work` in a new span `name`, active while it runs (so spans started inside are
   * its children), child of `parent` or else of the active span (none: a new trace).
   * The span ends when `work` settles; a rejection is recorded on it (status ERROR,
   * exception event) and rethrown.
   */
  inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>, parent: Context = context.active()): Promise<T> {
    return this.tracer.startActiveSpan(name, options, parent, async (span) => {
      try {
        return await work(span);
      } catch (err) {
        this.failed(span, err);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /** Records `err` on `span` (status ERROR and an exception event), for a failure its work does not throw. */
  failed(span: Span, err: unknown): void {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }

  /** Runs `serve` with the trace context of an HTTP request's `traceparent`/`tracestate` headers active (none: a new trace starts inside). */
  continueRequest<T>(headers: IncomingHttpHeaders, serve: () => T): T {
    return context.with(this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter), serve);
  }

  /** A copy of `payload` carrying the active span's context ({@link TraceCarrier}), for the bus. */
  carrying<P extends object>(payload: P): P & TraceCarrier {
    const carrier: P & TraceCarrier = { ...payload };
    this.propagator.inject(context.active(), carrier, defaultTextMapSetter);
    return carrier;
  }

  /** The context a bus payload carries, to parent its delivery span; undefined when it carries none (e.g. an event read from storage). */
  contextOf(payload: TraceCarrier): Context | undefined {
    return payload.traceparent === undefined ? undefined : this.propagator.extract(ROOT_CONTEXT, payload, defaultTextMapGetter);
  }

  /**
   * Exports the spans still batched, stops the exporter, and unregisters what
   * {@link makeTracing} registered globally (graceful shutdown: app.ts close).
   */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
    context.disable();
    diag.disable();
  }
}

/**
 * The node's tracing from its configuration, or null when it is off (OTEL_TRACES_EXPORTER
 * "none", or unset with no OTLP endpoint: config.ts). When on, it registers the global
 * OpenTelemetry context manager (AsyncLocalStorage, so the active span follows awaits) and
 * sends the SDK's own warnings and errors (a collector that cannot be reached…) to `logger`:
 * one tracing per process at a time, until its {@link Tracing.shutdown}.
 * Spans are exported as OTLP/HTTP JSON to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
 * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`, or the exporter's default
 * http://localhost:4318/v1/traces; the exporter reads the other standard
 * OTEL_EXPORTER_OTLP_* variables itself (headers, timeout, compression, certificates).
 * Each span's resource: `service.name` (OTEL_SERVICE_NAME), a `service.instance.id`
 * of its own per process, and `process.pid`.
 */
export function makeTracing(config: Config, logger: Logger): Tracing | null {
  const base = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base && `${base.replace(/\/$/, "")}/v1/traces`);
  if ((config.OTEL_TRACES_EXPORTER ?? (url ? "otlp" : "none")) === "none") return null;
  const log = logger.child({ component: "tracing" });
  diag.setLogger(
    { error: (message) => log.error(message), warn: (message) => log.warn(message), info: () => {}, debug: () => {}, verbose: () => {} },
    DiagLogLevel.WARN,
  );
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const root =
    config.OTEL_TRACES_SAMPLER === "parentbased_traceidratio"
      ? new TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLER_ARG)
      : new AlwaysOnSampler();
  return new Tracing(
    new TracerProvider({
      resource: defaultResource().merge(
        resourceFromAttributes({
          "service.name": config.OTEL_SERVICE_NAME,
          "service.instance.id": randomUUID(),
          "process.pid": process.pid,
        }),
      ),
      sampler: new ParentBasedSampler({ root }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(url ? { url } : {}) })],
    }),
  );
}
