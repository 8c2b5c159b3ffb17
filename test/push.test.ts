import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { image } from "./helpers/attachment-files.js";
import { ext, gql, gqlOk, postFile, registerUser, TEST_PASSWORD, type TestUser, wsClient } from "./helpers/client.js";
import { useNodes } from "./helpers/nodes.js";
import { type PushService, type ReceivedPush, startPushService, type TestPushSubscription } from "./helpers/push-service.js";
import { sendMessage } from "./helpers/rooms.js";
import { startTestServer, useTestServer } from "./helpers/server.js";

/** The push service double's self-signed certificate: the server trusts it as a private CA (URL_FETCH_CA_FILE). */
const PUSH_SERVICE_CA = fileURLToPath(new URL("./fixtures/tls/push-service.crt", import.meta.url));
/**
 * The servers' PUSH_COALESCE_MS, in ms: long enough for a test's burst of sequential sends
 * to fall in one window on a loaded 2-core CI machine (at 150 ms, four sends through two
 * nodes sometimes straddled two windows and gave two pushes).
 */
const COALESCE_MS = 1000;
/** How long a negative check waits for a push that must not come, in ms (a due push arrives within COALESCE_MS + a few ms). */
const NO_PUSH_WAIT_MS = COALESCE_MS + 1000;

const REGISTER = `mutation($input: RegisterPushSubscriptionInput!) { registerPushSubscription(input: $input) { subscription { id endpoint } } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id seq } }`;
const GROUP = `mutation($n: String!, $m: [ID!]) { createRoom(input: { name: $n, type: GROUP, memberIds: $m }) { id } }`;

/** The room id as the Topic header carries it: its 16 bytes in base64url. */
const topicOf = (roomId: string) => Buffer.from(roomId.replace(/-/g, ""), "hex").toString("base64url");

/**
 * Push notifications end to end: a real server (HTTP, graphql-ws, PostgreSQL, and
 * the push queue in Redis or in-process) sends to the push service double, which
 * checks the VAPID JWT and decrypts each payload (test/helpers/push-service.ts).
 * What the queue and presence do (delivery, coalescing, retries with backoff, a 410's
 * deletion, the online check) is tested on both queues; what is the same code whatever
 * the queue (input checks, the payload's contents, the fan-out's and notify's SQL
 * filters, the subscriptions' lifecycle) on the Redis one only (`anyQueue`).
 */
function pushSuite(redis: boolean) {
  /** A test of code the queue does not take part in: run once, on the Redis suite. */
  const anyQueue = it.runIf(redis);
  const {
    server,
    api,
    api: { ok },
    users: [alice],
  } = useTestServer(["alice"], {
    redis,
    env: {
      DATA_DIR: mkdtempSync(join(tmpdir(), "push-data-")),
      URL_FETCH_CA_FILE: PUSH_SERVICE_CA,
      PUSH_COALESCE_MS: String(COALESCE_MS),
      PUSH_RETRY_BASE_MS: "100",
      // previews go through the opening of sealed content
      MESSAGE_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    },
  });
  let push: PushService;
  beforeAll(async () => {
    push = await startPushService();
  });
  afterAll(() => push?.close());
  /** A user with one registered subscription. */
  const subscribed = async (prefix: string): Promise<TestUser & { sub: TestPushSubscription }> => {
    const user = await registerUser(server.url, prefix);
    const sub = push.newSubscription();
    await ok(user, REGISTER, { input: sub });
    return { ...user, sub };
  };
  const group = async (members: TestUser[]) =>
    (await ok(alice, GROUP, { n: `Room ${randomBytes(3).toString("hex")}`, m: members.map((m) => m.id) })).createRoom.id as string;
  /** Fails when a delivered push reaches `endpoint` within {@link NO_PUSH_WAIT_MS}. */
  const noPush = async (endpoint: string) => {
    await expect(push.next({ endpoint, timeoutMs: NO_PUSH_WAIT_MS })).rejects.toThrow(/no push/);
  };
  /** A graphql-ws connection of `user`, once presence counts them online. */
  const online = async (user: TestUser) => {
    const client = wsClient(server.wsUrl, user.accessToken);
    await new Promise<void>((resolve, reject) => {
      client.on("connected", () => resolve());
      client.on("closed", reject);
      client.subscribe({ query: "subscription { myEvents { __typename } }" }, { next() {}, error() {}, complete() {} });
    });
    for (let i = 0; !(await server.app.presence.online([user.id])).has(user.id); i++) {
      if (i > 100) throw new Error("never online");
      await new Promise((r) => setTimeout(r, 20));
    }
    return client;
  };
  const subscriptionsOf = (where: { endpoint?: string; sessionId?: string }) => server.app.db.pushSubscription.count({ where });

  it("exposes the VAPID public key, and it signs the pushes", async () => {
    const { webPushPublicKey } = await ok(alice, `{ webPushPublicKey }`);
    expect(webPushPublicKey).toBe(server.app.config.VAPID_PUBLIC_KEY);
    expect(Buffer.from(webPushPublicKey, "base64url")).toHaveLength(65);
    const bob = await subscribed("bob");
    const roomId = await group([bob]);
    await sendMessage(api, alice, roomId, "hello");
    const received = await push.next({ endpoint: bob.sub.endpoint });
    expect(received.vapid.publicKey).toBe(webPushPublicKey);
    expect(received.vapid.subject).toBe("mailto:push@localhost");
    expect(received.vapid.claims.aud).toBe(push.origin);
  });

  anyQueue("refuses bad subscriptions with BAD_USER_INPUT on the field", async () => {
    const good = push.newSubscription();
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, endpoint: "not a url" }, "input.endpoint"],
      [{ ...good, endpoint: "ftp://push.example.com/x" }, "input.endpoint"],
      [{ ...good, keys: { ...good.keys, p256dh: randomBytes(64).toString("base64url") } }, "input.keys.p256dh"],
      // 65 bytes, but not an uncompressed point
      [
        { ...good, keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([3]), randomBytes(64)]).toString("base64url") } },
        "input.keys.p256dh",
      ],
      [{ ...good, keys: { ...good.keys, auth: randomBytes(15).toString("base64url") } }, "input.keys.auth"],
      [{ ...good, keys: { ...good.keys, auth: "not base64url!!!" } }, "input.keys.auth"],
    ];
    for (const [input, field] of cases) {
      const result = await gql(server.url, REGISTER, { input }, alice.accessToken);
      expect(ext(result), field).toMatchObject({ code: "BAD_USER_INPUT", field });
    }
    expect(ext(await gql(server.url, REGISTER, { input: good }))).toMatchObject({ code: "UNAUTHENTICATED" });
    expect(await subscriptionsOf({ endpoint: good.endpoint })).toBe(0);
  });

  it("pushes a new message to an offline member: what it says, encrypted and signed, with TTL, Urgency and Topic", async () => {
    const bob = await subscribed("bob");
    const roomId = await group([bob]);
    const long = `${"a".repeat(130)} tail`;
    const sent = await sendMessage(api, alice, roomId, long);
    const received = await push.next({ endpoint: bob.sub.endpoint });
    const room = (await ok(alice, `query($id: ID!) { room(id: $id) { name } }`, { id: roomId })).room;
    expect(received.payload).toEqual({
      type: "message",
      roomId,
      roomName: room.name,
      roomType: "GROUP",
      messageId: sent.id,
      seq: sent.seq,
      sender: { id: alice.id, displayName: "alice Test" },
      body: `${"a".repeat(119)}…`,
      unreadCount: 1,
    });
    expect(received.headers).toMatchObject({ ttl: 86400, urgency: "normal", topic: topicOf(roomId), contentEncoding: "aes128gcm" });
    expect(push.rejected).toEqual([]);
  });

  anyQueue("pushes thread replies, and says what a message without text carries", async () => {
    const bob = await subscribed("bob");
    const roomId = await group([bob]);
    const root = await sendMessage(api, alice, roomId, "a thread");
    await push.next({ endpoint: bob.sub.endpoint });
    await ok(bob, `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id } }`, { r: roomId, m: root.id });
    const reply = (
      await ok(
        alice,
        `mutation($r: ID!, $t: ID!) { sendMessage(input: { roomId: $r, content: "in the thread", threadRootId: $t }) { id } }`,
        { r: roomId, t: root.id },
      )
    ).sendMessage;
    expect((await push.next({ endpoint: bob.sub.endpoint })).payload).toMatchObject({
      messageId: reply.id,
      body: "in the thread",
      unreadCount: 1,
    });

    const upload = await postFile(
      server.url,
      `mutation($file: File!) { uploadAttachment(file: $file) { id } }`,
      { bytes: await image("png"), filename: "p.png", type: "image/png" },
      alice.accessToken,
    );
    const photo = (
      await ok(alice, `mutation($r: ID!, $a: [ID!]) { sendMessage(input: { roomId: $r, attachmentIds: $a }) { id } }`, {
        r: roomId,
        a: [upload.body.data.uploadAttachment.id],
      })
    ).sendMessage;
    expect((await push.next({ endpoint: bob.sub.endpoint })).payload).toMatchObject({ messageId: photo.id, body: "📷 Photo" });
  });

  it("collapses a burst to an offline member into one push saying the newest message", async () => {
    const bob = await subscribed("bob");
    const roomId = await group([bob]);
    await sendMessage(api, alice, roomId, "one");
    await sendMessage(api, alice, roomId, "two");
    const last = await sendMessage(api, alice, roomId, "three");
    const received = await push.next({ endpoint: bob.sub.endpoint });
    expect(received.payload).toMatchObject({ messageId: last.id, body: "three", unreadCount: 3 });
    await noPush(bob.sub.endpoint);
  });

  it("sends nothing to an online member for a plain group message, but does for a mention and in a DIRECT room", async () => {
    const carol = await subscribed("carol");
    const roomId = await group([carol]);
    const client = await online(carol);
    try {
      await sendMessage(api, alice, roomId, "plain, carol is here");
      await noPush(carol.sub.endpoint);

      const mention = await sendMessage(api, alice, roomId, `hey @${carol.username}`);
      const mentioned = await push.next({ endpoint: carol.sub.endpoint });
      expect(mentioned.payload).toMatchObject({ type: "mention", messageId: mention.id, body: `hey @${carol.username}` });
      expect(mentioned.headers.urgency).toBe("high");

      const direct = (await ok(alice, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: carol.id })).directRoom.id;
      const dm = await sendMessage(api, alice, direct, "direct, carol is here");
      const pushed = await push.next({ endpoint: carol.sub.endpoint });
      expect(pushed.payload).toMatchObject({
        type: "message",
        roomType: "DIRECT",
        roomName: "alice Test",
        messageId: dm.id,
        body: "direct, carol is here",
      });
      expect(pushed.headers.urgency).toBe("high");
    } finally {
      await client.dispose();
    }
  });

  anyQueue("sends nothing in a room the member muted, not even a mention", async () => {
    const bob = await subscribed("bob");
    const roomId = await group([bob]);
    await ok(bob, `mutation($r: ID!) { muteRoom(roomId: $r) { id } }`, { r: roomId });
    await sendMessage(api, alice, roomId, `muted @${bob.username}`);
    await noPush(bob.sub.endpoint);
    // control: unmuted, the same goes out
    await ok(bob, `mutation($r: ID!) { unmuteRoom(roomId: $r) { id } }`, { r: roomId });
    await sendMessage(api, alice, roomId, "unmuted");
    expect((await push.next({ endpoint: bob.sub.endpoint })).payload).toMatchObject({ body: "unmuted" });
  });

  anyQueue("sends nothing to the sender, nor across a block either way", async () => {
    const sender = await subscribed("sender");
    const blocker = await subscribed("blocker");
    const blocked = await subscribed("blocked");
    const bystander = await subscribed("bystander");
    const roomId = await group([sender, blocker, blocked, bystander]);
    await ok(blocker, `mutation($u: ID!) { blockUser(userId: $u) }`, { u: sender.id });
    await ok(sender, `mutation($u: ID!) { blockUser(userId: $u) }`, { u: blocked.id });
    await sendMessage(api, sender, roomId, "who hears this?");
    expect((await push.next({ endpoint: bystander.sub.endpoint })).payload).toMatchObject({ body: "who hears this?" });
    await Promise.all([noPush(sender.sub.endpoint), noPush(blocker.sub.endpoint), noPush(blocked.sub.endpoint)]);
  });

  anyQueue("leaves the text and the sender out when the user turned previews off", async () => {
    const bob = await subscribed("bob");
    const settings = await ok(bob, `mutation { updateSettings(input: { notificationPreviews: false }) { notificationPreviews } }`);
    expect(settings.updateSettings.notificationPreviews).toBe(false);
    expect((await ok(bob, `{ me { settings { notificationPreviews } } }`)).me.settings.notificationPreviews).toBe(false);
    const roomId = await group([bob]);
    const sent = await sendMessage(api, alice, roomId, "secret plans");
    const received = await push.next({ endpoint: bob.sub.endpoint });
    expect(received.payload).toEqual({
      type: "message",
      roomId,
      roomName: expect.any(String),
      roomType: "GROUP",
      messageId: sent.id,
      seq: sent.seq,
      unreadCount: 1,
    });
    expect(JSON.stringify(received.payload)).not.toMatch(/secret|alice/);
  });

  it("deletes a subscription the push service answers 410 Gone", async () => {
    const bob = await subscribed("bob");
    const roomId = await group([bob]);
    push.gone(bob.sub.endpoint);
    await sendMessage(api, alice, roomId, "to a gone device");
    expect((await push.next({ endpoint: bob.sub.endpoint, includeRefused: true })).status).toBe(410);
    for (let i = 0; (await subscriptionsOf({ endpoint: bob.sub.endpoint })) > 0; i++) {
      if (i > 100) throw new Error("the gone subscription was not deleted");
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it("retries after 503s, with backoff, and delivers", async () => {
    const bob = await subscribed("bob");
    const roomId = await group([bob]);
    push.respondWith(bob.sub.endpoint, [503, 503]);
    const sent = await sendMessage(api, alice, roomId, "eventually");
    const received = await push.next({ endpoint: bob.sub.endpoint, timeoutMs: 10_000 });
    expect(received.payload).toMatchObject({ messageId: sent.id, body: "eventually" });
    expect(push.pushes.filter((p) => p.endpoint === bob.sub.endpoint).map((p) => p.status)).toEqual([503, 503, 201]);
    await noPush(bob.sub.endpoint);
  });

  anyQueue("moves a re-registered endpoint to the new session, and drops a session's subscriptions when it ends", async () => {
    const bob = await subscribed("bob");
    const login = async () =>
      (
        await gqlOk(server.url, `mutation($l: String!, $p: String!) { login(input: { username: $l, password: $p }) { accessToken } }`, {
          l: bob.username,
          p: TEST_PASSWORD,
        })
      ).login.accessToken as string;
    const phone = { ...bob, accessToken: await login() };
    const sessionOf = async (endpoint: string) =>
      (await server.app.db.pushSubscription.findUniqueOrThrow({ where: { endpoint } })).sessionId;
    const laptopSession = await sessionOf(bob.sub.endpoint);
    // the same endpoint from the phone's session moves there
    await ok(phone, REGISTER, { input: bob.sub });
    const phoneSession = await sessionOf(bob.sub.endpoint);
    expect(phoneSession).not.toBe(laptopSession);
    expect(await subscriptionsOf({ endpoint: bob.sub.endpoint })).toBe(1);

    await ok(phone, `mutation { logout }`);
    expect(await subscriptionsOf({ sessionId: phoneSession })).toBe(0);

    // revokeSession from another device
    const tablet = { ...bob, accessToken: await login() };
    const tabletSub = push.newSubscription();
    await ok(tablet, REGISTER, { input: tabletSub });
    const tabletSession = await sessionOf(tabletSub.endpoint);
    await ok(bob, `mutation($id: ID!) { revokeSession(id: $id) }`, { id: tabletSession });
    expect(await subscriptionsOf({ sessionId: tabletSession })).toBe(0);

    // a password change ends every other session (Sessions.endAllIn): their subscriptions go with them
    const desktop = { ...bob, accessToken: await login() };
    const desktopSub = push.newSubscription();
    await ok(desktop, REGISTER, { input: desktopSub });
    await ok(bob, `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`, {
      c: TEST_PASSWORD,
      n: `${TEST_PASSWORD} 2`,
    });
    expect(await subscriptionsOf({ endpoint: desktopSub.endpoint })).toBe(0);
    expect(await subscriptionsOf({ sessionId: laptopSession })).toBe(0); // moved to the phone earlier
    // unregister, and the laptop's own again
    const laptopSub = push.newSubscription();
    await ok(bob, REGISTER, { input: laptopSub });
    expect(
      (await ok(bob, `mutation($e: String!) { unregisterPushSubscription(endpoint: $e) }`, { e: laptopSub.endpoint }))
        .unregisterPushSubscription,
    ).toBe(true);
    expect(
      (await ok(bob, `mutation($e: String!) { unregisterPushSubscription(endpoint: $e) }`, { e: laptopSub.endpoint }))
        .unregisterPushSubscription,
    ).toBe(false);
    expect(await subscriptionsOf({ endpoint: laptopSub.endpoint })).toBe(0);
  });

  anyQueue("keeps at most 10 subscriptions per user, dropping the oldest", async () => {
    const bob = await registerUser(server.url, "bob");
    const subs = Array.from({ length: 11 }, () => push.newSubscription());
    for (const sub of subs) await ok(bob, REGISTER, { input: sub });
    expect(await server.app.db.pushSubscription.count({ where: { userId: bob.id } })).toBe(10);
    expect(await subscriptionsOf({ endpoint: subs[0]!.endpoint })).toBe(0);
  });

  /** For the pushes a test leaves unread: each must have passed the service's checks. */
  afterAll(() => {
    expect(push.rejected).toEqual([]);
    expect(push.pushes.every((p: ReceivedPush) => p.headers.contentEncoding === "aes128gcm")).toBe(true);
  });
}

describe("push notifications in production", () => {
  const production = (env: Record<string, string>) =>
    startTestServer({ env: { NODE_ENV: "production", JWT_SECRET: randomBytes(48).toString("base64"), ...env } });
  let push: PushService;
  beforeAll(async () => {
    push = await startPushService();
  });
  afterAll(() => push?.close());

  it("is off without VAPID keys: webPushPublicKey null, registerPushSubscription FORBIDDEN", async () => {
    const server = await production({});
    try {
      const user = await registerUser(server.url, "prod");
      expect((await gqlOk(server.url, `{ webPushPublicKey }`, {}, user.accessToken)).webPushPublicKey).toBeNull();
      const result = await gql(server.url, REGISTER, { input: push.newSubscription() }, user.accessToken);
      expect(ext(result)).toMatchObject({ code: "FORBIDDEN" });
      expect(result.errors?.[0]?.message).toMatch(/Push notifications are off/);
    } finally {
      await server.close();
    }
  });

  it("takes only https endpoints on public addresses (SSRF), unless URL_FETCH_ALLOWED_RANGES exempts them", async () => {
    const keys = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "push-keys-")) });
    const vapid = {
      VAPID_PUBLIC_KEY: keys.VAPID_PUBLIC_KEY!,
      VAPID_PRIVATE_KEY: keys.VAPID_PRIVATE_KEY!,
      VAPID_SUBJECT: "mailto:ops@example.com",
    };
    for (const [env, allowed] of [
      [{}, false],
      [{ URL_FETCH_ALLOWED_RANGES: "127.0.0.1/32" }, true],
    ] as const) {
      const server = await production({ ...vapid, ...env });
      try {
        const user = await registerUser(server.url, "prod");
        const sub = push.newSubscription();
        const http = await gql(
          server.url,
          REGISTER,
          { input: { ...sub, endpoint: sub.endpoint.replace("https:", "http:") } },
          user.accessToken,
        );
        expect(ext(http)).toMatchObject({ code: "BAD_USER_INPUT", field: "input.endpoint" });
        const loopback = await gql(server.url, REGISTER, { input: sub }, user.accessToken);
        if (allowed) expect(loopback.errors).toBeUndefined();
        else expect(ext(loopback)).toMatchObject({ code: "BAD_USER_INPUT", field: "input.endpoint" });
      } finally {
        await server.close();
      }
    }
  });
});

describe("push notifications with two nodes (one queue in Redis)", () => {
  let push: PushService;
  beforeAll(async () => {
    push = await startPushService();
  });
  afterAll(() => push?.close());
  const group = useNodes(2, () => {
    const keys = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "push-keys-")) });
    return {
      VAPID_PUBLIC_KEY: keys.VAPID_PUBLIC_KEY!,
      VAPID_PRIVATE_KEY: keys.VAPID_PRIVATE_KEY!,
      VAPID_SUBJECT: "mailto:ops@example.com",
      // production: the push service double is on loopback, with a private CA
      URL_FETCH_ALLOWED_RANGES: "127.0.0.1/32",
      URL_FETCH_CA_FILE: PUSH_SERVICE_CA,
      PUSH_COALESCE_MS: String(COALESCE_MS),
      RATE_LIMITS: "off",
    };
  });

  it("sends each push once, whichever node's worker takes it, and coalesces a burst sent through both nodes", async () => {
    const [a, b] = group.nodes;
    const alice = await registerUser(a.url, "alice");
    const bob = await registerUser(b.url, "bob");
    const sub = push.newSubscription();
    await gqlOk(b.url, REGISTER, { input: sub }, bob.accessToken);
    const rooms: string[] = [];
    for (let i = 0; i < 6; i++) rooms.push((await gqlOk(a.url, GROUP, { n: `Two ${i}`, m: [bob.id] }, alice.accessToken)).createRoom.id);
    // one message per room, through either node: one push each
    const sent = await Promise.all(
      rooms.map(async (r, i) => (await gqlOk((i % 2 ? b : a).url, SEND, { r, c: `m${i}` }, alice.accessToken)).sendMessage.id as string),
    );
    const received = await Promise.all(rooms.map(() => push.next({ endpoint: sub.endpoint })));
    expect(received.map((p) => (p.payload as { messageId: string }).messageId).sort()).toEqual([...sent].sort());
    // a burst in one room through both nodes: one push, the newest message
    const burst = await gqlOk(a.url, GROUP, { n: "Burst", m: [bob.id] }, alice.accessToken);
    let last = "";
    for (let i = 0; i < 4; i++)
      last = (await gqlOk((i % 2 ? b : a).url, SEND, { r: burst.createRoom.id, c: `burst ${i}` }, alice.accessToken)).sendMessage.id;
    expect((await push.next({ endpoint: sub.endpoint })).payload).toMatchObject({
      roomId: burst.createRoom.id,
      messageId: last,
      unreadCount: 4,
    });
    await expect(push.next({ endpoint: sub.endpoint, timeoutMs: NO_PUSH_WAIT_MS })).rejects.toThrow(/no push/);
    expect(push.pushes.filter((p) => p.endpoint === sub.endpoint)).toHaveLength(7);
    expect(push.rejected).toEqual([]);
  }, 60_000);
});

describe("push notifications, queue in Redis (BullMQ)", () => pushSuite(true));
describe("push notifications, in-process queue", () => pushSuite(false));
