/**
 * OpenTelemetry traces (src/tracing.ts). With an OTLP endpoint configured, a
 * message's trace is `sendMessage` (child of the client's `traceparent`) with
 * `commit` and `publish` in it on the node that took the send; the bus payload
 * carries the publish span's context across Redis, and every node with
 * subscribers delivers the event in one `delivery` span per fan-out group, child of
 * `publish`, with its member count. Two server processes export to a collector
 * stand-in in this process and flush their batched spans when stopped (SIGTERM).
 * Unconfigured, tracing is off: no tracer at all, and nothing added to the payloads.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { makeTracing, Tracing } from "../src/tracing.js";
import { gqlOk, registerUser, registerUsers, type Subscription, subscribe, untilReceived, wsClient } from "./helpers/client.js";
import { REDIS_URL } from "./helpers/env.js";
import { useNodes } from "./helpers/nodes.js";
import { type CollectedSpan, startOtlpCollector } from "./helpers/otlp-collector.js";
import { startTestServer } from "./helpers/server.js";

const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
const MESSAGE_ADDED = `subscription($r: ID!) { messageAdded(roomId: $r) { id content } }`;

/** The next message published on `channel` in Redis, parsed, once `action` has run (subscribed before it). */
async function publishedOn(channel: string, action: () => Promise<unknown>): Promise<Record<string, unknown>> {
  const listener = new Redis(REDIS_URL);
  try {
    await listener.subscribe(channel);
    const message = new Promise<string>((resolve) => listener.once("message", (_channel, text: string) => resolve(text)));
    await action();
    return JSON.parse(await message) as Record<string, unknown>;
  } finally {
    listener.disconnect();
  }
}

describe("traces, with OTEL_EXPORTER_OTLP_ENDPOINT set, on two nodes", () => {
  let collector: Awaited<ReturnType<typeof startOtlpCollector>>;
  beforeAll(async () => {
    collector = await startOtlpCollector();
  });
  afterAll(() => collector?.close());
  const group = useNodes(2, () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }));

  it("link sendMessage → commit → publish → one delivery per fan-out group on each node, one trace across Redis", async () => {
    const [a, b] = group.nodes;
    const [alice, carol] = await registerUsers(a.url, ["alice", "carol"]);
    const bob = await registerUser(b.url, "bob");
    const roomId = (
      await gqlOk(
        a.url,
        `mutation($m: [ID!]) { createRoom(input: { name: "Traced", type: GROUP, memberIds: $m }) { id } }`,
        { m: [bob.id, carol.id] },
        alice.accessToken,
      )
    ).createRoom.id;
    // alice and carol on A share one fan-out group (same selection), bob is alone in his on B
    const clients = [wsClient(a.wsUrl, alice.accessToken), wsClient(a.wsUrl, carol.accessToken), wsClient(b.wsUrl, bob.accessToken)];
    const subs: Subscription[] = clients.map((client) => subscribe(client, MESSAGE_ADDED, { r: roomId }));
    for (const sub of subs) await untilReceived(sub, () => gqlOk(b.url, SEND, { r: roomId, c: "warm-up" }, bob.accessToken));

    // the client's own span: the send continues its trace
    const traceId = randomBytes(16).toString("hex");
    const clientSpanId = randomBytes(8).toString("hex");
    let sentId = "";
    const payload = await publishedOn(`room:{${roomId}}:message`, async () => {
      const response = await fetch(b.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${bob.accessToken}`,
          traceparent: `00-${traceId}-${clientSpanId}-01`,
        },
        body: JSON.stringify({ query: SEND, variables: { r: roomId, c: "traced" } }),
      });
      sentId = ((await response.json()) as { data: { sendMessage: { id: string } } }).data.sendMessage.id;
    });
    for (const sub of subs) await sub.nextWhere((e) => e.data?.messageAdded.id === sentId);
    await Promise.all(clients.map((client) => client.dispose()));
    await group.stop(); // each node exports the spans it still has batched before it exits

    const spans = collector.spans.filter((s) => s.traceId === traceId);
    const named = (name: string) => spans.filter((s) => s.name === name);
    const pid = (span: CollectedSpan) => span.resource["process.pid"];
    const [send] = named("sendMessage");
    expect(named("sendMessage")).toHaveLength(1);
    expect(send).toMatchObject({ parentSpanId: clientSpanId, attributes: { "chat.room.id": roomId, "chat.message.id": sentId } });
    expect(pid(send!)).toBe(b.child.pid);
    const [commit] = named("commit");
    expect(named("commit")).toHaveLength(1);
    expect(commit).toMatchObject({ parentSpanId: send!.spanId, attributes: { "db.system.name": "postgresql" } });
    const [publish] = named("publish");
    expect(named("publish")).toHaveLength(1);
    expect(publish).toMatchObject({ parentSpanId: send!.spanId, kind: 4, attributes: { "messaging.batch.message_count": 2 } });
    expect(pid(publish!)).toBe(b.child.pid);
    // what crossed Redis: the publish span's context, in the payload
    expect(payload.traceparent).toBe(`00-${traceId}-${publish!.spanId}-01`);

    const deliveries = named("delivery");
    expect(deliveries).toHaveLength(2);
    for (const delivery of deliveries) {
      expect(delivery).toMatchObject({
        parentSpanId: publish!.spanId,
        kind: 5,
        attributes: { "messaging.destination.name": `room:{${roomId}}:message` },
      });
    }
    const membersByNode = Object.fromEntries(deliveries.map((d) => [pid(d), d.attributes["chat.fanout.members"]]));
    expect(membersByNode).toEqual({ [a.child.pid!]: 2, [b.child.pid!]: 1 });
  }, 60_000);
});

describe("traces, on or off", () => {
  it("are on with an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp, off without them or with OTEL_TRACES_EXPORTER=none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tracing-"));
    const tracingOf = (env: Record<string, string>) => makeTracing(loadConfig({ DATA_DIR: dir, ...env }), pino({ level: "silent" }));
    expect(tracingOf({})).toBeNull();
    expect(tracingOf({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })).toBeNull();
    const configured: Record<string, string>[] = [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" },
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" },
      { OTEL_TRACES_EXPORTER: "otlp" },
    ];
    for (const env of configured) {
      const tracing = tracingOf(env);
      expect(tracing, JSON.stringify(env)).toBeInstanceOf(Tracing);
      await tracing!.shutdown();
    }
  });

  it("are off unconfigured: no tracer, and the bus payloads carry no trace context", async () => {
    const server = await startTestServer({ redis: true });
    try {
      expect(server.app.tracing).toBeNull();
      const alice = await registerUser(server.url, "untraced");
      const roomId = (
        await gqlOk(server.url, `mutation { createRoom(input: { name: "Plain", type: GROUP }) { id } }`, {}, alice.accessToken)
      ).createRoom.id;
      const payload = await publishedOn(`room:{${roomId}}:message`, () =>
        gqlOk(server.url, SEND, { r: roomId, c: "plain" }, alice.accessToken),
      );
      expect(Object.keys(payload)).toEqual(["message"]);
    } finally {
      await server.close();
    }
  });
});
