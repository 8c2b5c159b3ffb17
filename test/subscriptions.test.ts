import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connected, registerUsers, subscribe, untilReceived, wsClient } from "./helpers/client.js";
import { metricsOf } from "./helpers/metrics.js";
import { TEST_JWT_SECRET, useTestServer } from "./helpers/server.js";

const MESSAGE_ADDED = `subscription($roomId: ID!) { messageAdded(roomId: $roomId) { id seq content sender { id username } room { id } } }`;
const TYPING = `subscription($roomId: ID!) { typing(roomId: $roomId) { roomId isTyping user { id } } }`;
const PRESENCE = `subscription($roomId: ID!) { presence(roomId: $roomId) { status lastSeenAt user { id status } } }`;
const SEND = `mutation($roomId: ID!, $content: String!) { sendMessage(input: { roomId: $roomId, content: $content }) { id } }`;
const SET_TYPING = `mutation($roomId: ID!, $on: Boolean!) { setTyping(roomId: $roomId, isTyping: $on) }`;

/** The typing expiry of this file's servers (the default is 3000 ms), and when the expiry test refreshes: two thirds in. */
const TYPING_TTL_MS = 1500;
const REFRESH_AFTER_MS = 1000;

const foreignToken = await new SignJWT({ sid: "x" })
  .setProtectedHeader({ alg: "HS256" })
  .setSubject("x")
  .setExpirationTime("1h")
  .sign(new TextEncoder().encode("another-secret-another-secret-another"));

/** Opens a raw graphql-transport-ws socket, sends connection_init with `payload`, and resolves how the server closed it. */
function closeAfterInit(wsUrl: string, payload: unknown): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, "graphql-transport-ws");
    socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload })));
    socket.on("message", (data) => reject(new Error(`unexpected message ${data}`)));
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

describe.each([
  { mode: "in-process pub/sub", redis: false },
  { mode: "Redis pub/sub", redis: true },
])("subscriptions over graphql-ws ($mode)", ({ redis }) => {
  // a short typing expiry, so the expiry test waits TYPING_TTL_MS instead of 3 s
  const {
    server,
    api,
    users: [alice, bob, carol, mallory],
    client,
  } = useTestServer(["alice", "bob", "carol", "mallory"], { redis, env: { TYPING_TTL_MS: String(TYPING_TTL_MS) } });
  let roomId: string;

  beforeAll(async () => {
    roomId = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Live", type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id, carol.id],
      })
    ).createRoom.id;
  });

  it("delivers messageAdded to members after the message is stored", async () => {
    const ws = client(alice);
    const sub = subscribe(ws, MESSAGE_ADDED, { roomId });
    await untilReceived(sub, () => api.ok(bob, SEND, { roomId, content: "warm-up" }));
    const sent = (await api.ok(bob, SEND, { roomId, content: "hello alice" })).sendMessage;
    const event = await sub.nextWhere((e) => e.data?.messageAdded.content === "hello alice");
    expect(event.data.messageAdded).toMatchObject({ id: sent.id, sender: { id: bob.id, username: bob.username }, room: { id: roomId } });
    const stored = await server.app.db.message.findUnique({ where: { id: sent.id } });
    expect(stored?.seq).toBe(event.data.messageAdded.seq);
    sub.stop();
    await ws.dispose();
  });

  it("feeds more than ten subscribers of one room on one node without Node's listener-leak warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    const ws = client(alice);
    try {
      const subs = Array.from({ length: 12 }, () => subscribe(ws, MESSAGE_ADDED, { roomId }));
      for (const sub of subs) await untilReceived(sub, () => api.ok(bob, SEND, { roomId, content: "to twelve" }));
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).not.toContain("MaxListenersExceededWarning");
      for (const sub of subs) sub.stop();
    } finally {
      process.off("warning", onWarning);
      await ws.dispose();
    }
  });

  it("serves messageAdded over SSE too, authenticated by the Authorization header (what GraphiQL uses)", async () => {
    const controller = new AbortController();
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${alice.accessToken}` },
      body: JSON.stringify({ query: MESSAGE_ADDED, variables: { roomId } }),
      signal: controller.signal,
    });
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const sender = setInterval(() => void api.ok(bob, SEND, { roomId, content: "over sse" }), 200);
    try {
      while (!text.includes("over sse")) text += (await reader.read()).value ?? "";
    } finally {
      clearInterval(sender);
      controller.abort();
    }
    expect(text).toMatch(/event: next\ndata: \{"data":\{"messageAdded":\{[^\n]*"content":"over sse"/);
  });

  it("delivers to a subscription that names the room's ID in upper case (IDs are read case-insensitively)", async () => {
    const ws = client(alice);
    const sub = subscribe(ws, MESSAGE_ADDED, { roomId: roomId.toUpperCase() });
    const event = await untilReceived(sub, () => api.ok(bob, SEND, { roomId, content: "upper" }));
    expect(event.data.messageAdded.room.id).toBe(roomId);
    await ws.dispose();
  });

  it("accepts the connection_init key in any case (Authorization)", async () => {
    const ws = wsClient(server.wsUrl, undefined, { connectionParams: { Authorization: `Bearer ${alice.accessToken}` } });
    const sub = subscribe(ws, MESSAGE_ADDED, { roomId });
    const event = await untilReceived(sub, () => api.ok(bob, SEND, { roomId, content: "case" }));
    expect(event.data.messageAdded.room.id).toBe(roomId);
    await ws.dispose();
  });

  it("refuses a non-member's subscriptions with NOT_FOUND and sends them nothing", async () => {
    const ws = client(mallory);
    for (const query of [MESSAGE_ADDED, TYPING, PRESENCE]) {
      const sub = subscribe(ws, query, { roomId });
      const result = await sub.next();
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    }
    await ws.dispose();
  });

  it.each([
    ["no token", {}],
    ["a malformed token", { authorization: "Bearer not.a.jwt" }],
    ["a token signed with another key", { authorization: `Bearer ${foreignToken}` }],
  ])("closes the socket with 4403 and a reason for %s", async (_label, payload) => {
    const { code, reason } = await closeAfterInit(server.wsUrl, payload);
    expect(code).toBe(4403);
    expect(reason).toMatch(/access token/);
  });

  it("closes the socket with 4403 for an expired token", async () => {
    const session = await server.app.db.session.findFirstOrThrow({ where: { userId: alice.id } });
    const expired = await new SignJWT({ sid: session.id })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(alice.id)
      .setIssuer("chat-graphql")
      .setAudience("chat-graphql:api")
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect((await closeAfterInit(server.wsUrl, { authorization: `Bearer ${expired}` })).code).toBe(4403);
  });

  it("sends isTyping: false by itself when typing is not refreshed for TYPING_TTL_MS, and a refresh postpones it", async () => {
    const ws = client(alice);
    const sub = subscribe(ws, TYPING, { roomId });
    const typing = (on: boolean) => api.ok(bob, SET_TYPING, { roomId, on });
    // each round publishes false (when bob was typing) then true; stop at bob typing
    const first = await untilReceived(sub, async () => {
      await typing(false);
      await typing(true);
    });
    if (!first.data.typing.isTyping) await sub.nextWhere((e) => e.data?.typing.isTyping === true);
    await typing(false);
    await sub.nextWhere((e) => e.data?.typing.isTyping === false);

    // plain expiry
    await typing(true);
    const started = Date.now();
    expect((await sub.next()).data.typing).toEqual({ roomId, isTyping: true, user: { id: bob.id } });
    const expired = await sub.next(6000);
    expect(expired.data.typing).toEqual({ roomId, isTyping: false, user: { id: bob.id } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(TYPING_TTL_MS - 100);

    // a refresh two thirds in moves the expiry to TYPING_TTL_MS after the refresh
    await typing(true);
    const t0 = Date.now();
    expect((await sub.next()).data.typing.isTyping).toBe(true);
    await new Promise((r) => setTimeout(r, REFRESH_AFTER_MS));
    await typing(true);
    expect((await sub.next(6000)).data.typing.isTyping).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(REFRESH_AFTER_MS + TYPING_TTL_MS - 100);
    sub.stop();
    await ws.dispose();
  }, 30_000);

  it("publishes ONLINE when a member's first socket opens and OFFLINE when their last one closes", async () => {
    const ws = client(alice);
    const sub = subscribe(ws, PRESENCE, { roomId });
    // carol comes and goes until alice's subscription is live on every node
    await untilReceived(sub, async () => (await connected(server.wsUrl, carol)).dispose(), 200);

    const bob1 = await connected(server.wsUrl, bob);
    const online = await sub.nextWhere((e) => e.data?.presence.user.id === bob.id);
    expect(online.data.presence).toMatchObject({ status: "ONLINE", user: { id: bob.id, status: "ONLINE" } });
    const bob2 = await connected(server.wsUrl, bob);
    await bob1.dispose();
    await bob2.dispose();
    const offline = await sub.nextWhere((e) => e.data?.presence.user.id === bob.id);
    expect(offline.data.presence).toMatchObject({ status: "OFFLINE", user: { id: bob.id, status: "OFFLINE" } });
    expect(new Date(offline.data.presence.lastSeenAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    sub.stop();
    await ws.dispose();
  });

  it("forgets a socket that closed while its token was being checked: its user is not left ONLINE", async () => {
    const [dave] = await registerUsers(server.url, ["dave"]);
    // the check reads the Session table: held locked, it waits until the client has gone
    let gone!: () => void;
    const closed = new Promise<void>((resolve) => (gone = resolve));
    const locked = server.app.db.$transaction(async (tx) => {
      await tx.$executeRaw`LOCK TABLE "Session" IN ACCESS EXCLUSIVE MODE`;
      const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
      socket.on("open", () => {
        socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${dave!.accessToken}` } }));
        socket.close(1000);
      });
      socket.on("close", () => gone());
      // the closing handshake is over: the server's socket left OPEN when it answered the close frame
      await closed;
    });
    await locked;
    // a later socket of dave's comes and goes: he is OFFLINE after it, and no connection is counted
    const later = await connected(server.wsUrl, dave);
    await later.dispose();
    await metricsOf(server.url).until("chat_websocket_connections", 0);
    expect((await api.ok(dave, `{ me { status } }`, {})).me.status).toBe("OFFLINE");
  });
});
