/**
 * One load-generating process (forked by clients.ts, never the server's):
 * raw `ws` sockets speaking graphql-transport-ws. Driven over IPC, one request
 * at a time, each answered with `{ rid, ... }` (see {@link Request}):
 * - `open`: opens `sockets` (each `{ url, token, roomId }`) with at most
 *   `concurrency` handshakes in flight: connection_init with
 *   `{ authorization: "Bearer <token>" }`, waits for connection_ack, then
 *   subscribes (id "1") to messageAdded of its room. Answers `{ ok, failed, errors }`
 *   once each socket is subscribed or has failed (30 s per socket);
 * - `reset`: forgets deliveries so far (before a measurement);
 * - `progress`: `{ deliveries }` so far;
 * - `report` with `expectedByRoom` (messages each subscriber of a room should
 *   have had): {@link WorkerReport}.
 *   Latency of a delivery = receive time − the send time the sender wrote into
 *   the content as `bench t=<Date.now()>` (same machine, same clock), in ms,
 *   kept as a 1 ms histogram; firstRecv/lastRecv are epoch ms;
 * - `close`: terminates every socket and answers; the parent then disconnects.
 * With BENCH_MY_EVENTS=1 each socket also subscribes (id "2") to myEvents: its
 * `next` frames (RoomActivity) are counted apart (`activity`), never as deliveries.
 * Exits when the parent disconnects, and after BENCH_HARD_TIMEOUT_MS regardless.
 */
import WebSocket from "ws";
import { type HistogramPairs, record } from "./stats.js";

export const SUBSCRIPTION =
  "subscription($roomId: ID!) { messageAdded(roomId: $roomId) { id seq content createdAt sender { id displayName } } }";
/** BENCH_MY_EVENTS=1: what each socket also subscribes to (a room list's fields). */
export const MY_EVENTS_SUBSCRIPTION =
  "subscription { myEvents { __typename ... on RoomActivity { roomId unreadCount lastMessage { id content createdAt } } } }";
const MY_EVENTS = process.env.BENCH_MY_EVENTS === "1";
/** What the sender writes at the start of each message's content, followed by its Date.now(). */
export const STAMP = "bench t=";

export interface SocketSpec {
  url: string;
  token: string;
  roomId: string;
}

export type Request =
  | { rid: number; cmd: "open"; sockets: SocketSpec[]; concurrency: number }
  | { rid: number; cmd: "reset" }
  | { rid: number; cmd: "progress" }
  | { rid: number; cmd: "report"; expectedByRoom: Record<string, number> }
  | { rid: number; cmd: "close" };

export interface OpenResult {
  ok: number;
  failed: number;
  errors: string[];
}

export interface WorkerReport {
  deliveries: number;
  /** Deliveries short of expectedByRoom, summed over sockets. */
  missing: number;
  /** Deliveries beyond expectedByRoom (duplicates, or messages not counted as sent). */
  extra: number;
  hist: HistogramPairs;
  firstRecv: number | null;
  lastRecv: number | null;
  /** Size of the first `next` frame received, in bytes. */
  frameBytes: number | null;
  /** Sockets closed by the server after subscribing, by close code (and `error`/`complete` messages). */
  closed: Record<string, number>;
  /** BENCH_MY_EVENTS=1: myEvents `next` frames received (RoomActivity). */
  activity: number;
  /** `next` frames without the sender's stamp (GraphQL errors), and the first one. */
  unstamped: number;
  unstampedSample: string | null;
}

interface Client {
  ws: WebSocket;
  roomId: string;
  count: number;
}

const clients: Client[] = [];
let hist = new Map<number, number>();
let deliveries = 0;
let activity = 0;
let firstRecv: number | null = null;
let lastRecv: number | null = null;
let frameBytes: number | null = null;
const closed: Record<string, number> = {};
/** `next` frames without a stamp (e.g. errors), and the first of them. */
let unstamped = 0;
let unstampedSample: string | null = null;
let closing = false;

function onNext(client: Client, text: string) {
  const now = Date.now();
  const at = text.indexOf(STAMP);
  if (at < 0) {
    unstamped++;
    unstampedSample ??= text.slice(0, 300);
    return;
  }
  const sent = Number(text.slice(at + STAMP.length, at + STAMP.length + 13));
  client.count++;
  deliveries++;
  record(hist, now - sent);
  firstRecv ??= now;
  lastRecv = now;
  frameBytes ??= Buffer.byteLength(text);
}

/**
 * Loopback source addresses the sockets take in turn (127.0.0.1–8): a server on one
 * port can then hold more connections than the ephemeral-port range (≈ 28,000 on Linux)
 * allows from one source address.
 */
const SOURCE_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);
let opened = 0;

/** Opens, authenticates and subscribes one socket; resolves null when subscribed, else why not. */
function open(spec: SocketSpec): Promise<string | null> {
  return new Promise((resolve) => {
    const localAddress = SOURCE_ADDRESSES[opened++ % SOURCE_ADDRESSES.length];
    const ws = new WebSocket(spec.url, "graphql-transport-ws", { perMessageDeflate: false, localAddress });
    const client: Client = { ws, roomId: spec.roomId, count: 0 };
    let settled = false;
    const settle = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) ws.terminate();
      resolve(error);
    };
    const timer = setTimeout(() => settle("timeout (30 s) before connection_ack"), 30_000);
    ws.on("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${spec.token}` } })));
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith('{"id":"1","type":"next"')) return onNext(client, text);
      if (text.startsWith('{"id":"2","type":"next"')) return void activity++;
      const message = JSON.parse(text) as { type: string; payload?: unknown };
      if (message.type === "connection_ack") {
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: SUBSCRIPTION, variables: { roomId: spec.roomId } } }));
        if (MY_EVENTS) ws.send(JSON.stringify({ id: "2", type: "subscribe", payload: { query: MY_EVENTS_SUBSCRIPTION } }));
        clients.push(client);
        settle(null);
      } else if (message.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "error" || message.type === "complete") {
        closed[message.type] = (closed[message.type] ?? 0) + 1;
      }
    });
    ws.on("error", (err) => settle(`error: ${err.message}`));
    ws.on("close", (code, reason) => {
      if (settled && !closing) closed[code] = (closed[code] ?? 0) + 1;
      settle(`closed ${code} ${reason.toString()}`);
    });
  });
}

async function openAll(specs: SocketSpec[], concurrency: number): Promise<OpenResult> {
  let next = 0;
  let ok = 0;
  const errors: string[] = [];
  const lane = async () => {
    while (next < specs.length) {
      const error = await open(specs[next++]!);
      if (error === null) ok++;
      else errors.push(error);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  return { ok, failed: errors.length, errors: [...new Set(errors)].slice(0, 5) };
}

function report(expectedByRoom: Record<string, number>): WorkerReport {
  let missing = 0;
  let extra = 0;
  for (const client of clients) {
    const expected = expectedByRoom[client.roomId] ?? 0;
    missing += Math.max(0, expected - client.count);
    extra += Math.max(0, client.count - expected);
  }
  return {
    deliveries,
    missing,
    extra,
    hist: [...hist.entries()],
    firstRecv,
    lastRecv,
    frameBytes,
    closed: { ...closed },
    activity,
    unstamped,
    unstampedSample,
  };
}

process.on("message", async (request: Request) => {
  const reply = (body: object) => process.send!({ rid: request.rid, ...body });
  switch (request.cmd) {
    case "open":
      return reply(await openAll(request.sockets, request.concurrency));
    case "reset":
      hist = new Map();
      deliveries = activity = 0;
      firstRecv = lastRecv = null;
      unstamped = 0;
      for (const client of clients) client.count = 0;
      return reply({});
    case "progress":
      return reply({ deliveries, activity });
    case "report":
      return reply(report(request.expectedByRoom));
    case "close":
      closing = true;
      for (const client of clients) client.ws.terminate();
      return reply({});
  }
});
process.on("disconnect", () => process.exit(0));
setTimeout(() => process.exit(3), Number(process.env.BENCH_HARD_TIMEOUT_MS ?? 30 * 60_000)).unref();
