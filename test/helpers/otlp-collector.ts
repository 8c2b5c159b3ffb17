import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** One span as a collector received it, flattened. */
export interface CollectedSpan {
  /** Hex, as OTLP/JSON writes ids. */
  traceId: string;
  spanId: string;
  /** Absent for a trace's root span. */
  parentSpanId?: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  /** Its resource's attributes: service.name, service.instance.id, process.pid… */
  resource: Record<string, unknown>;
}

/** An OTLP/JSON attribute list (`[{ key, value: { stringValue | intValue | … } }]`) → a plain object. */
type OtlpAttribute = { key: string; value: OtlpValue };
type OtlpValue = {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
};

function valueFrom(value: OtlpValue): unknown {
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueFrom);
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.doubleValue ?? value.boolValue;
}

function attributesOf(list: OtlpAttribute[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map((a) => [a.key, valueFrom(a.value)]));
}

/**
 * A stand-in OpenTelemetry collector on a free port of 127.0.0.1: it takes the
 * OTLP/HTTP JSON trace exports (`POST <url>/v1/traces`, as
 * @opentelemetry/exporter-trace-otlp-http sends them), answers 200, and keeps
 * every span in `spans`, in the order received. `url` is what OTEL_EXPORTER_OTLP_ENDPOINT takes.
 */
export async function startOtlpCollector(): Promise<{ url: string; spans: CollectedSpan[]; close(): Promise<void> }> {
  const spans: CollectedSpan[] = [];
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    if (req.method !== "POST" || req.url !== "/v1/traces") return void res.writeHead(404).end();
    const request = JSON.parse(body) as {
      resourceSpans: {
        resource?: { attributes?: OtlpAttribute[] };
        scopeSpans: { spans: (Omit<CollectedSpan, "attributes" | "resource"> & { attributes?: OtlpAttribute[] })[] }[];
      }[];
    };
    for (const { resource, scopeSpans } of request.resourceSpans) {
      for (const { spans: list } of scopeSpans) {
        for (const span of list) {
          const { traceId, spanId, parentSpanId, name, kind } = span;
          spans.push({
            traceId,
            spanId,
            ...(parentSpanId ? { parentSpanId } : {}),
            name,
            kind,
            attributes: attributesOf(span.attributes),
            resource: attributesOf(resource?.attributes),
          });
        }
      }
    }
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  await once(server.listen(0, "127.0.0.1"), "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
