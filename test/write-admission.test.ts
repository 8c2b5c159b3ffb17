/**
 * Writes are not starved by a storm of subscriptions (docs/architecture.md,
 * Faults: "A storm of subscriptions"). One node, in this process, with a Prisma
 * pool of 3 so that the storm can fill it: sockets connect, each starts 40
 * subscriptions at once (messageAdded, most with `after:` so each set-up
 * replays; roomEvents of three rooms; typing; presence), drop and come back,
 * over and over, while one member sends a stream of messages (the first
 * self-destructing, so the expiry sweep, running every 100 ms, has work) and
 * the others add reactions and mark messages read. Every write must succeed or
 * answer SERVICE_UNAVAILABLE (retryable), never a masked INTERNAL_SERVER_ERROR;
 * subscriptions that fail to start must fail the same way; the sweep must not
 * fail (it logged P2028, "Unable to start a transaction in the given time",
 * before admission control); and every subscriber gets its messages gap-free
 * and in order. Nothing here asserts on speed: WRITE_ADMISSION_REPORT=1 prints
 * the latencies (writes, time from opening a socket to the first replayed
 * message); STORM_* variables resize it.
 */
import type { Client } from "graphql-ws";
import { beforeAll, describe, expect, it } from "vitest";
import { type GqlResponse, registerUsers, type TestUser, wsClient } from "./helpers/client.js";
import { logCapture, useTestServer } from "./helpers/server.js";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
/** Sockets cycling through connect, subscribe, drop, at once. */
const STORM_SOCKETS = env("STORM_SOCKETS", 20);
/** Subscriptions each of them starts on each connection. */
const SUBSCRIPTIONS_PER_SOCKET = env("STORM_SUBSCRIPTIONS", 40);
/** Messages sent during the storm; the first SELF_DESTRUCTING of them expire 5 s after their send. */
const SENDS = env("STORM_SENDS", 20);
const SELF_DESTRUCTING = 5;
/** Messages in the room before the storm, for the replays. */
const HISTORY = 30;
/** How long a storm client waits for its first message before it drops the socket anyway. */
const FIRST_WAIT_MS = 5000;
/** The node's Prisma pool: small, so that the storm's reads fill it. */
const POOL_SIZE = env("STORM_POOL_SIZE", 3);

const log = logCapture();
const { server, api } = useTestServer([], {
  redis: true,
  logTo: log.sink,
  env: {
    DATABASE_POOL_SIZE: String(POOL_SIZE),
    ...(process.env.STORM_SETUP_CONNECTIONS ? { DATABASE_SETUP_CONNECTIONS: process.env.STORM_SETUP_CONNECTIONS } : {}),
    EXPIRY_SWEEP_MS: "100",
    RATE_LIMITS: "off",
    WS_MESSAGES_PER_S: "1000",
    WS_MESSAGE_BURST: "1000",
  },
});
let sender: TestUser;
let members: TestUser[];
let roomId: string;
/** Other rooms of every member: their clients follow them with roomEvents too. */
let sideRoomIds: string[];
const SIDE_ROOMS = 2;

beforeAll(async () => {
  [sender, ...members] = await registerUsers(server.url, ["sender", "m1", "m2", "m3", "m4"]);
  roomId = (
    await api.ok(sender, `mutation($m: [ID!]) { createRoom(input: { name: "storm", type: GROUP, memberIds: $m }) { id } }`, {
      m: members.map((m) => m.id),
    })
  ).createRoom.id;
  sideRoomIds = await Promise.all(
    Array.from(
      { length: SIDE_ROOMS },
      async (_, i) =>
        (
          await api.ok(sender, `mutation($m: [ID!], $n: String!) { createRoom(input: { name: $n, type: GROUP, memberIds: $m }) { id } }`, {
            m: members.map((m) => m.id),
            n: `side ${i}`,
          })
        ).createRoom.id,
    ),
  );
  for (let i = 0; i < HISTORY; i++) await send(i, `history ${i}`);
}, 120_000);

const SEND = `mutation($r: ID!, $c: String!, $k: String, $e: Int) { sendMessage(input: { roomId: $r, content: $c, clientMessageId: $k, expiresIn: $e }) { id seq } }`;
function send(i: number, content: string, expiresIn?: number): Promise<GqlResponse<{ sendMessage: { id: string; seq: number } }>> {
  return api.run(sender, SEND, { r: roomId, c: content, k: `k-${i}-${content}`, e: expiresIn ?? null });
}

/** The outcome of one write: its answer, for the checks, and how long it took. */
interface Write {
  op: string;
  result: GqlResponse;
  ms: number;
}

async function timed(op: string, run: () => Promise<GqlResponse>, into: Write[]): Promise<GqlResponse> {
  const started = performance.now();
  const result = await run();
  into.push({ op, result, ms: performance.now() - started });
  return result;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!) : NaN;
};
const summary = (values: number[]) => ({
  n: values.length,
  p50: percentile(values, 50),
  p95: percentile(values, 95),
  max: percentile(values, 100),
});

/** What the storm's subscriptions saw. */
interface Storm {
  cycles: number;
  /** The newest event seq seen per room (roomEvents' cursors are taken near it). */
  eventHeads: Map<string, number>;
  /** ms from opening the socket to the first replayed message, per messageAdded subscription with `after`. */
  firstReplayed: number[];
  /** messageAdded subscriptions with `after` that got nothing within FIRST_WAIT_MS. */
  gaveUp: number;
  /** messageAdded subscriptions from a cursor whose messages were not after+1, after+2, … */
  outOfOrder: string[];
  /** What subscriptions ended with, when they failed (GraphQL errors' codes, or `close:<code>`). */
  failures: string[];
}

const MESSAGE_ADDED = `subscription($r: ID!, $a: String) { messageAdded(roomId: $r, after: $a) { id seq content sender { username } } }`;
const ROOM_EVENTS = `subscription($r: ID!, $a: String) { roomEvents(roomId: $r, after: $a) { __typename ... on SequencedEvent { seq } } }`;
const TYPING = `subscription($r: ID!) { typing(roomId: $r) { isTyping } }`;
const PRESENCE = `subscription($r: ID!) { presence(roomId: $r) { status } }`;

/**
 * One storm socket: until `done()`, it connects as a member and starts
 * SUBSCRIPTIONS_PER_SOCKET subscriptions at once, as many apps reconnecting
 * would (each subscribing to roomEvents of its room list and messageAdded,
 * typing and presence of its open room): messageAdded from a cursor near the
 * head, from far back or live, roomEvents of each room likewise; it waits for
 * the replays to start (or FIRST_WAIT_MS) and a moment more, and drops the
 * socket with all of them.
 */
async function stormSocket(i: number, head: () => number, done: () => boolean, storm: Storm): Promise<void> {
  for (let cycle = 0; !done(); cycle++) {
    storm.cycles++;
    const member = members[(i + cycle) % members.length]!;
    const opened = performance.now();
    const client: Client = wsClient(server.wsUrl, member.accessToken);
    // set when this loop drops the socket itself: a socket still in its handshake then errors on the client
    // ("closed before the connection was established", no close code), which is the test's doing, not the server's answer
    let dropping = false;
    const failed = (e: unknown) => {
      if (dropping) return;
      const code = Array.isArray(e) ? (e as GqlResponse["errors"])![0]?.extensions?.code : `close:${(e as { code?: number }).code}`;
      storm.failures.push(String(code));
    };
    const sink = (next: (value: GqlResponse) => void) => ({
      next: (value: GqlResponse) => (value.errors ? failed(value.errors) : next(value)),
      error: failed,
      complete: () => {},
    });
    const replays: { after: number; seqs: number[]; first: Promise<void> }[] = [];
    for (let k = 0; k < SUBSCRIPTIONS_PER_SOCKET; k++) {
      const kind = (i + cycle + k) % 4; // 0: live; 1: after the last but one; 2: from far back; 3: a recent cursor
      const rooms = [roomId, ...sideRoomIds];
      switch (k % 4) {
        case 0: {
          const after = kind === 0 ? null : kind === 1 ? Math.max(0, head() - 1) : kind === 2 ? 0 : Math.max(0, head() - 10);
          const seqs: number[] = [];
          let firstArrived = () => {};
          const first = new Promise<void>((resolve) => (firstArrived = resolve));
          if (after !== null) replays.push({ after, seqs, first });
          client.subscribe(
            { query: MESSAGE_ADDED, variables: { r: roomId, a: after === null ? null : String(after) } },
            sink((value) => {
              if (seqs.length === 0 && after !== null) storm.firstReplayed.push(performance.now() - opened);
              seqs.push(value.data.messageAdded.seq);
              firstArrived();
            }),
          );
          break;
        }
        case 1: {
          const room = rooms[(k >> 2) % rooms.length]!;
          const eventHead = storm.eventHeads.get(room) ?? 0;
          const after = kind === 0 ? null : Math.max(0, eventHead - (kind === 2 ? 200 : 5));
          client.subscribe(
            { query: ROOM_EVENTS, variables: { r: room, a: after === null ? null : String(after) } },
            sink((value) => void storm.eventHeads.set(room, Math.max(storm.eventHeads.get(room) ?? 0, value.data.roomEvents.seq ?? 0))),
          );
          break;
        }
        case 2:
          client.subscribe(
            { query: TYPING, variables: { r: roomId } },
            sink(() => {}),
          );
          break;
        default:
          client.subscribe(
            { query: PRESENCE, variables: { r: roomId } },
            sink(() => {}),
          );
      }
    }
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, FIRST_WAIT_MS));
    await Promise.race([Promise.all(replays.map((r) => r.first)), timeout]);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
    dropping = true;
    await client.dispose();
    for (const { after, seqs } of replays) {
      if (seqs.length === 0) storm.gaveUp++;
      if (seqs.some((seq, k) => seq !== after + 1 + k)) storm.outOfOrder.push(`after ${after}: ${seqs.join(",")}`);
    }
  }
}

describe("a storm of subscriptions", () => {
  it("never starves writes: every write succeeds or answers SERVICE_UNAVAILABLE, the sweep keeps working", async () => {
    const writes: Write[] = [];
    const rooms = await server.app.db.room.findMany({
      where: { id: { in: [roomId, ...sideRoomIds] } },
      select: { id: true, lastEventSeq: true },
    });
    const storm: Storm = {
      cycles: 0,
      eventHeads: new Map(rooms.map((r) => [r.id, r.lastEventSeq])),
      firstReplayed: [],
      gaveUp: 0,
      outOfOrder: [],
      failures: [],
    };
    const sent: { id: string; seq: number; expires: boolean }[] = [];
    let head = HISTORY;
    let sending = true;

    // the admission queue and the event loop, sampled for the report
    const waiting: number[] = [];
    const loopLag: number[] = [];
    let sampledAt = performance.now();
    const sampler = setInterval(() => {
      const now = performance.now();
      loopLag.push(now - sampledAt - 100);
      sampledAt = now;
      waiting.push(server.app.admission.waiting);
    }, 100);
    const clients = Array.from({ length: STORM_SOCKETS }, (_, i) =>
      stormSocket(
        i,
        () => head,
        () => !sending,
        storm,
      ),
    );
    const sends = (async () => {
      for (let i = 0; i < SENDS; i++) {
        const expires = i < SELF_DESTRUCTING;
        const result = await timed("sendMessage", () => send(i, `storm ${i}`, expires ? 5 : undefined), writes);
        const message = result.data?.sendMessage;
        if (message) {
          sent.push({ ...message, expires });
          head = Math.max(head, message.seq);
        }
      }
    })();
    // other members react to and read what is sent, meanwhile
    const others = members.map(async (member, m) => {
      for (let k = 0; sending; k++) {
        const target = sent.filter((s) => !s.expires).at(-1 - ((k + m) % 3));
        if (!target) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        await timed(
          "addReaction",
          () =>
            api.run(member, `mutation($id: ID!, $e: String!) { addReaction(messageId: $id, emoji: $e) { id } }`, {
              id: target.id,
              e: ["👍", "🎉", "👀"][k % 3],
            }),
          writes,
        );
        await timed(
          "markRead",
          () =>
            api.run(member, `mutation($r: ID!, $id: ID!) { markRead(roomId: $r, messageId: $id) { id } }`, { r: roomId, id: target.id }),
          writes,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    await sends;
    // the storm goes on until the self-destructing messages are due and swept (or 20 s more)
    const due = sent.filter((s) => s.expires).map((s) => s.id);
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 250))) {
      const purged = await server.app.db.message.count({ where: { id: { in: due }, deletedAt: { not: null } } });
      if (purged === due.length) break;
    }
    sending = false;
    await Promise.all([...clients, ...others]);
    clearInterval(sampler);

    const bad = writes.filter((w) => w.result.errors?.some((e) => e.extensions?.code !== "SERVICE_UNAVAILABLE"));
    const unavailable = writes.filter((w) => w.result.errors);
    const logged = log.lines.filter((l) => /unexpected error|background task failed|expiry/i.test(String(l.msg)));
    const transactionsLate = log.lines.filter((l) => JSON.stringify(l).includes("Unable to start a transaction")).length;
    const report = {
      pool: POOL_SIZE,
      sockets: STORM_SOCKETS,
      subscriptionsPerSocket: SUBSCRIPTIONS_PER_SOCKET,
      cycles: storm.cycles,
      writes: writes.length,
      unavailable: unavailable.length,
      p2028InLog: transactionsLate,
      sendMs: summary(writes.filter((w) => w.op === "sendMessage").map((w) => w.ms)),
      otherWriteMs: summary(writes.filter((w) => w.op !== "sendMessage").map((w) => w.ms)),
      firstReplayedMs: summary(storm.firstReplayed),
      gaveUp: storm.gaveUp,
      admissionWaiting: summary(waiting),
      eventLoopLagMs: summary(loopLag),
      subscriptionFailures: storm.failures.length,
    };
    if (process.env.WRITE_ADMISSION_REPORT) console.log(JSON.stringify(report));

    expect(
      bad.map((w) => ({ op: w.op, errors: w.result.errors })),
      JSON.stringify(report),
    ).toEqual([]);
    expect(
      logged.map((l) => ({ msg: l.msg, err: (l.err as { message?: string } | undefined)?.message })),
      "logged failures",
    ).toEqual([]);
    // a subscription that could not start says so retryably: SERVICE_UNAVAILABLE, or a close with 1013 before connection_ack
    expect(
      storm.failures.filter((f) => f !== "SERVICE_UNAVAILABLE" && f !== "close:1013"),
      "subscription failures",
    ).toEqual([]);
    expect(storm.outOfOrder, "subscriptions with a gap or a duplicate").toEqual([]);
    // the storm happened: every client subscribed at least once, and replays were delivered
    expect(storm.cycles).toBeGreaterThanOrEqual(STORM_SOCKETS);
    expect(storm.firstReplayed.length).toBeGreaterThan(0);
    // the sweep purged every self-destructing message, and something was sent
    expect(await server.app.db.message.count({ where: { id: { in: due }, deletedAt: { not: null } } })).toBe(due.length);
    expect(sent.length).toBeGreaterThan(0);
  }, 120_000);
});
