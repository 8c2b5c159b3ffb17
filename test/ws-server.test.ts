/**
 * Our graphql-ws binding for `ws` (src/ws-server.ts): graphql-ws's protocol core
 * with our own socket adapter. What it does that graphql-ws's `use/ws` used to do,
 * or does differently: the frames it writes (a shared result's JSON spliced in,
 * src/realtime/shared-json.ts) are byte for byte the ones graphql-ws's own `use/ws`
 * server sends for the same event; keepalive pings; an exception in the protocol
 * closes with 4500 and is logged as an error; a client's protocol error is logged as
 * a warning. Limits, authentication and revoked sessions: ws-limits, subscriptions
 * and sessions tests.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExecutionResult } from "graphql";
import { GraphQLError } from "graphql";
import { MessageType, stringifyMessage } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import type { Viewer } from "../src/auth/sessions.js";
import { makeContext } from "../src/context.js";
import { markShared, type PayloadSlot, sharedPayload, spliceSharedJson } from "../src/realtime/shared-json.js";
import { schema } from "../src/schema/index.js";
import { metricsOf } from "./helpers/metrics.js";
import { rawSocket } from "./helpers/raw-socket.js";
import { logCapture, useTestServer } from "./helpers/server.js";

const SHARED = `subscription($r: ID!) { messageAdded(roomId: $r) { id seq content createdAt sender { id displayName } room { id name } } }`;
const PER_VIEWER = `subscription($r: ID!) { messageAdded(roomId: $r) { id content deliveryState room { unreadCount } } }`;
/** Content that JSON escapes in every way: quotes, backslashes, NUL as text, U+2028, non-ASCII, an emoji; and the placeholder's look. */
const CONTENT = 'say "\\u0000payload"} \\ ✓ \u2028 😀';

/** The frames graphql-ws builds for `result` itself (its `emit.next`: `{ ...result }`, errors through `toJSON()`) and through our `onNext` and splice. */
function framesOf(result: ExecutionResult) {
  const { errors, ...rest } = result;
  const own = stringifyMessage({
    id: "1",
    type: MessageType.Next,
    payload: { ...rest, ...(errors ? { errors: errors.map((e) => e.toJSON()) } : {}) },
  });
  const slot: PayloadSlot = {};
  const payload = sharedPayload(result, slot) ?? { ...rest, ...(errors ? { errors: errors.map((e) => e.toJSON()) } : {}) };
  const ours = spliceSharedJson(stringifyMessage({ id: "1", type: MessageType.Next, payload }), slot);
  return { own, ours, spliced: sharedPayload(result, {}) !== undefined };
}

describe("shared JSON (src/realtime/shared-json.ts)", () => {
  it("writes a shared result as graphql-ws would, serialized once; leaves anything else to graphql-ws", () => {
    const data = { messageAdded: { id: "m", content: CONTENT, n: 1.5, none: null, list: [1, "two", { three: true }] } };
    const shared: ExecutionResult = { data };
    markShared(shared);
    const first = framesOf(shared);
    expect(first.spliced).toBe(true);
    expect(first.ours).toBe(first.own);
    // a shared result with errors, and a result that is not shared: graphql-ws's own payload, untouched
    const failed: ExecutionResult = { data: null, errors: [new GraphQLError("no", { extensions: { code: "X" } })] };
    markShared(failed);
    expect(framesOf(failed).spliced).toBe(false);
    expect(framesOf(failed).ours).toBe(framesOf(failed).own);
    expect(framesOf({ data }).spliced).toBe(false);
    expect(framesOf({ data }).ours).toBe(framesOf({ data }).own);
    // serialized once: later frames take the cached JSON (which is why a shared result must not change)
    data.messageAdded.content = "changed";
    expect(framesOf(shared).ours).toBe(first.own);
  });

  it("refuses to splice a frame that is not the message it serialized", () => {
    const result: ExecutionResult = { data: { x: 1 } };
    markShared(result);
    const slot: PayloadSlot = {};
    JSON.stringify({ payload: sharedPayload(result, slot) });
    expect(() => spliceSharedJson(`{"type":"complete","id":"1"}`, slot)).toThrow(/not the message/);
    expect(spliceSharedJson(`{"type":"complete","id":"1"}`, slot)).toBe(`{"type":"complete","id":"1"}`);
  });
});

describe("the binding", () => {
  const { sink, lines } = logCapture();
  const {
    server,
    api,
    users: [alice, bob],
  } = useTestServer(["alice", "bob"], { logTo: sink });

  /** graphql-ws's own `use/ws` server on the same app and schema (no Yoga, no shared execution, no splice): the reference. */
  let reference: { http: Server; wss: WebSocketServer; wsUrl: string };
  beforeAll(async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: "/graphql" });
    useServer<Record<string, unknown>, { viewer?: Viewer | null }>(
      {
        schema,
        onConnect: async (ctx) => {
          ctx.extra.viewer = await server.app.sessions.authenticate(String(ctx.connectionParams?.authorization));
          return Boolean(ctx.extra.viewer);
        },
        context: (ctx) => makeContext(server.app, ctx.extra.viewer!, "127.0.0.1"),
      },
      wss,
    );
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    reference = { http, wss, wsUrl: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql` };
  });
  afterAll(async () => {
    for (const socket of reference.wss.clients) socket.terminate();
    await new Promise((resolve) => reference.http.close(resolve));
  });

  it("writes next frames byte-identical to graphql-ws's own use/ws server, for a shared and a per-viewer selection", async () => {
    const roomId = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Frames \\"x\\"", type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id],
      })
    ).createRoom.id as string;
    const send = async (content: string) =>
      (
        await api.ok(alice, `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`, {
          r: roomId,
          c: content,
        })
      ).sendMessage.id as string;
    const ours = rawSocket(server.wsUrl, alice.accessToken, { s: [SHARED, { r: roomId }], p: [PER_VIEWER, { r: roomId }] });
    const oursBob = rawSocket(server.wsUrl, bob.accessToken, { s: [SHARED, { r: roomId }] });
    const theirs = rawSocket(reference.wsUrl, alice.accessToken, { s: [SHARED, { r: roomId }], p: [PER_VIEWER, { r: roomId }] });
    const all = [...ours.nexts.values(), ...oursBob.nexts.values(), ...theirs.nexts.values()];
    // no "subscribed" acknowledgement in the protocol: send until every operation had an event
    for (const deadline = Date.now() + 10_000; all.some((frames) => frames.length === 0); await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > deadline) throw new Error("the subscriptions did not start");
      await send("warm-up");
    }

    const metrics = metricsOf(server.url);
    const executions = await metrics.sample("chat_shared_executions_total");
    const results = await metrics.sample("chat_shared_results_total");
    const id = await send(CONTENT);
    const frameOf = (frames: string[]) => frames.find((f) => f.includes(`"id":"${id}"`));
    await expect.poll(() => all.every((frames) => frameOf(frames))).toBe(true);

    const [shared, perViewer] = [frameOf(ours.nexts.get("s")!)!, frameOf(ours.nexts.get("p")!)!];
    expect(JSON.parse(shared).payload.data.messageAdded.content).toBe(CONTENT);
    expect(shared).toBe(frameOf(theirs.nexts.get("s")!));
    expect(frameOf(oursBob.nexts.get("s")!)).toBe(shared);
    expect(perViewer).toBe(frameOf(theirs.nexts.get("p")!));
    expect(JSON.parse(perViewer).payload.data.messageAdded.deliveryState).toBe("SENT");
    // the shared selection was executed once for both of our sockets; the per-viewer one is not counted
    expect([
      (await metrics.sample("chat_shared_executions_total")) - executions,
      (await metrics.sample("chat_shared_results_total")) - results,
    ]).toEqual([1, 2]);
    for (const socket of [ours, oursBob, theirs]) socket.ws.close();
  });

  it("pings every 12 s and cuts a socket that does not answer by the next ping, keeping one that does", async () => {
    const open = (autoPong: boolean) => {
      const ws = new WebSocket(server.wsUrl, "graphql-transport-ws", { autoPong });
      ws.on("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${alice.accessToken}` } })));
      const pings: number[] = [];
      ws.on("ping", () => pings.push(Date.now()));
      const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
      return { ws, pings, closed };
    };
    const start = Date.now();
    const [answering, silent] = [open(true), open(false)];
    expect(await silent.closed).toBe(1006); // terminated, no close frame
    expect(Date.now() - start).toBeGreaterThan(2 * 12_000 - 1000);
    expect(Date.now() - start).toBeLessThan(2 * 12_000 + 3000);
    expect(silent.pings).toHaveLength(1);
    expect(answering.pings.length).toBeGreaterThanOrEqual(1);
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    answering.ws.close();
  }, 40_000);

  it("closes with 4500 and logs an error when the protocol fails (here authentication throws), and keeps serving", async () => {
    vi.spyOn(server.app.sessions, "authenticate").mockRejectedValueOnce(new Error("boom"));
    const ws = new WebSocket(server.wsUrl, "graphql-transport-ws");
    ws.on("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${alice.accessToken}` } })));
    expect(await new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })))).toEqual({
      code: 4500,
      reason: "boom",
    });
    expect(lines.filter((l) => l.level === 50).map((l) => [l.msg, (l.err as { message: string }).message])).toContainEqual([
      "WebSocket message handling failed",
      "boom",
    ]);
    vi.restoreAllMocks();
    // the next socket is served
    const next = new WebSocket(server.wsUrl, "graphql-transport-ws");
    next.on("open", () =>
      next.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${alice.accessToken}` } })),
    );
    await new Promise<void>((resolve) => next.on("message", (data) => JSON.parse(String(data)).type === "connection_ack" && resolve()));
    next.close();
  });

  it("logs a client's protocol error (a text frame that is not UTF-8: ws closes it with 1007) as a warning, not an error", async () => {
    const errorsBefore = lines.filter((l) => l.level === 50).length;
    const ws = new WebSocket(server.wsUrl, "graphql-transport-ws");
    await new Promise<void>((resolve) => ws.on("open", () => resolve()));
    ws.send(Buffer.from([0xff, 0xfe]), { binary: false });
    expect(await new Promise((resolve) => ws.on("close", (code) => resolve(code)))).toBe(1007);
    await expect.poll(() => lines.some((l) => l.level === 40 && l.msg === "WebSocket protocol error")).toBe(true);
    expect(lines.filter((l) => l.level === 50)).toHaveLength(errorsBefore);
  });
});
