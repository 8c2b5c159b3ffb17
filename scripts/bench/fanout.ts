/**
 * One fan-out measurement over subscribers that are already connected: send
 * messages, wait until the fleet has them all (or stalls), and read the
 * result. Senders:
 * - {@link graphqlSender}: our server's `sendMessage` mutation over HTTP with the sender's token;
 * - {@link rawSender}: the ceiling server's `POST /send` trigger.
 * Each message's content is `bench t=<Date.now() at send> k=<n> ` padded with
 * dots to {@link CONTENT_BYTES} bytes; clients take latency from it.
 * Loads: `burst` (M messages back to back, `concurrency` in flight) or `paced`
 * (`ratePerS` messages per second for `durationS` s, open loop, rooms round
 * robin, each room with `perRoom` subscribers).
 * Units: times in ms (epoch ms for instants), rates per second, CPU in % of one core.
 */

import { STAMP } from "./client-worker.js";
import type { ClientFleet } from "./clients.js";
import { cpuMs, type ServerProcess, sleep } from "./procs.js";
import { type LatencySummary, summarize } from "./stats.js";

/** Size of every message's content, in bytes (ASCII). */
export const CONTENT_BYTES = 100;

/** Sends one message to a room; rejects when it was not accepted. */
export type Sender = (roomId: string, content: string) => Promise<void>;

export const SEND_MESSAGE = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { id seq } }";

/** `sendMessage` over HTTP (`url` is …/graphql) as the holder of `token`. */
export function graphqlSender(url: string, token: string): Sender {
  return async (roomId, content) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: SEND_MESSAGE, variables: { i: { roomId, content } } }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { errors?: { message: string }[] };
    if (!response.ok || body.errors)
      throw new Error(`sendMessage ${response.status}: ${JSON.stringify(body.errors ?? body).slice(0, 200)}`);
  };
}

/** The ceiling server's trigger (`url` is …/graphql, as for our server); `sender` goes into the frame as ours would. */
export function rawSender(url: string, sender: { id: string; displayName: string }): Sender {
  const trigger = url.replace(/\/graphql$/, "/send");
  return async (roomId, content) => {
    const response = await fetch(trigger, {
      method: "POST",
      body: JSON.stringify({ roomId, content, sender }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new Error(`raw /send ${response.status}`);
    await response.arrayBuffer();
  };
}

/** Content of message `k`: the stamp with the send time, padded to CONTENT_BYTES. */
export function stampedContent(k: number): string {
  return `${STAMP}${Date.now()} k=${k} `.padEnd(CONTENT_BYTES, ".");
}

/**
 * What is sent during a measurement, and to which subscribers: `burst`, every
 * subscriber in `room`; `paced`, subscriber i in `rooms[⌊i ÷ perRoom⌋]`, at
 * most `maxInFlight` sends pending (a send that would exceed it waits: counted
 * as delayed).
 */
export type Load =
  | { kind: "burst"; room: string; messages: number; concurrency: number }
  | { kind: "paced"; rooms: string[]; perRoom: number; ratePerS: number; durationS: number; maxInFlight: number };

export interface FanoutMeasurement {
  messagesSent: number;
  sendErrors: number;
  sendErrorSample: string | null;
  /** Time from the first send to the last send's answer, ms. */
  sendMs: number;
  /** Paced load only: sends that left later than their slot because maxInFlight were pending. */
  sendsDelayed?: number;
  expectedDeliveries: number;
  deliveries: number;
  /** Deliveries short of (subscriber × messages sent to its room), summed over subscribers. */
  missing: number;
  extra: number;
  /** First send → last receive, ms. */
  windowMs: number;
  deliveriesPerS: number | null;
  /** Publish → receive, ms. */
  latency: LatencySummary;
  /** Each server's CPU over the window (utime+stime ÷ window), % of one core, by server label. */
  serverCpuPct: Record<string, number>;
  /**
   * Each server's CPU from the first send until everything is received (with
   * BENCH_MY_EVENTS=1, until the myEvents frames too have stopped for 1.5 s: that
   * quiet time is left out), ms, by server label; ÷ messagesSent = CPU per message.
   */
  serverCpuMs: Record<string, number>;
  /** BENCH_MY_EVENTS=1: myEvents frames (RoomActivity) the fleet received. */
  activity: number;
  frameBytes: number | null;
  /** Sockets closed by the server during the measurement, by code. */
  closed: Record<string, number>;
  unstamped: number;
  unstampedSample: string | null;
  /** The fleet stopped receiving before it had everything (no new delivery for `stallMs`). */
  stalled: boolean;
}

/**
 * Runs `load` through `send` while `fleet` records; `subscribersByRoom`: how
 * many fleet sockets subscribe to each room (the expected deliveries per message).
 * Waits for the deliveries at most `drainMs` after the last send, and gives up
 * earlier when none arrives for `stallMs`.
 */
export async function measureFanout(opts: {
  fleet: ClientFleet;
  send: Sender;
  /** Processes whose CPU is read over the window: the servers, and any other (a Redis). */
  servers: Pick<ServerProcess, "label" | "pid">[];
  load: Load;
  subscribersByRoom: Record<string, number>;
  drainMs?: number;
  stallMs?: number;
}): Promise<FanoutMeasurement> {
  const { fleet, send, servers, load, subscribersByRoom, drainMs = 60_000, stallMs = 5000 } = opts;
  await fleet.reset();
  const sentByRoom: Record<string, number> = {};
  let sendErrors = 0;
  let sendErrorSample: string | null = null;
  let k = 0;
  const one = async (roomId: string) => {
    try {
      await send(roomId, stampedContent(k++));
      sentByRoom[roomId] = (sentByRoom[roomId] ?? 0) + 1;
    } catch (e) {
      sendErrors++;
      sendErrorSample ??= e instanceof Error ? e.message : String(e);
    }
  };

  const cpu0 = servers.map((s) => cpuMs(s.pid));
  const firstSend = Date.now();
  let sendsDelayed: number | undefined;
  if (load.kind === "burst") {
    let left = load.messages;
    const lane = async () => {
      while (left-- > 0) await one(load.room);
    };
    await Promise.all(Array.from({ length: load.concurrency }, lane));
  } else {
    sendsDelayed = 0;
    const total = Math.round(load.ratePerS * load.durationS);
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < total; i++) {
      const wait = firstSend + (i * 1000) / load.ratePerS - Date.now();
      if (wait > 0) await sleep(wait);
      if (inFlight.size >= load.maxInFlight) {
        sendsDelayed++;
        await Promise.race(inFlight);
      }
      const p: Promise<void> = one(load.rooms[i % load.rooms.length]!).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }
  const sendMs = Date.now() - firstSend;

  const expected = Object.entries(sentByRoom).reduce((s, [room, n]) => s + n * (subscribersByRoom[room] ?? 0), 0);
  const deadline = Date.now() + drainMs;
  let last = -1;
  let lastChange = Date.now();
  let stalled = false;
  for (;;) {
    const got = await fleet.deliveries();
    if (got >= expected) break;
    if (got !== last) [last, lastChange] = [got, Date.now()];
    if (Date.now() - lastChange > stallMs || Date.now() > deadline) {
      stalled = true;
      break;
    }
    await sleep(100);
  }
  let cpu1 = servers.map((s) => cpuMs(s.pid));
  if (process.env.BENCH_MY_EVENTS === "1") {
    // RoomActivity may still be on its way (a coalescing window): until its count has not moved for 1.5 s
    for (let seen = -1, now = (await fleet.progress()).activity; now !== seen; now = (await fleet.progress()).activity) {
      seen = now;
      cpu1 = servers.map((s) => cpuMs(s.pid));
      await sleep(1500);
    }
  }
  const report = await fleet.report(sentByRoom);
  const windowMs = report.lastRecv !== null ? Math.max(1, report.lastRecv - firstSend) : Date.now() - firstSend;
  const serverCpuPct = Object.fromEntries(servers.map((s, i) => [s.label, Math.round(((cpu1[i]! - cpu0[i]!) / windowMs) * 1000) / 10]));
  return {
    messagesSent: Object.values(sentByRoom).reduce((a, b) => a + b, 0),
    sendErrors,
    sendErrorSample,
    sendMs,
    ...(sendsDelayed !== undefined ? { sendsDelayed } : {}),
    expectedDeliveries: expected,
    deliveries: report.deliveries,
    missing: report.missing,
    extra: report.extra,
    windowMs,
    deliveriesPerS: report.deliveries > 0 ? Math.round(report.deliveries / (windowMs / 1000)) : null,
    latency: summarize(report.hist),
    serverCpuPct,
    serverCpuMs: Object.fromEntries(servers.map((s, i) => [s.label, cpu1[i]! - cpu0[i]!])),
    activity: report.activity,
    frameBytes: report.frameBytes,
    closed: report.closed,
    unstamped: report.unstamped,
    unstampedSample: report.unstampedSample,
    stalled,
  };
}
