import { Agent, request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import webpush, { type RequestOptions, WebPushError } from "web-push";
import { type PushService, startPushService } from "./helpers/push-service.js";

/**
 * The Web Push service double (test/helpers/push-service.ts) against the real web-push library:
 * what it decrypts and verifies, what it refuses, and the answers a test can script.
 */
describe("push service double", () => {
  let push: PushService;
  let options: RequestOptions;
  const vapid = webpush.generateVAPIDKeys();
  const SUBJECT = "mailto:ops@chat.example";

  beforeAll(async () => {
    push = await startPushService();
    options = { vapidDetails: { subject: SUBJECT, ...vapid }, TTL: 3600, agent: new Agent({ ca: push.ca }) };
  });
  afterAll(() => push?.close());

  /** The status web-push's send answered: the 2xx of a success or the status of its WebPushError. */
  const statusOf = (sending: Promise<webpush.SendResult>) =>
    sending.then(
      (result) => result.statusCode,
      (error: unknown) => {
        if (error instanceof WebPushError) return error.statusCode;
        throw error;
      },
    );

  /** Sends web-push's own request for `subscription` with its Authorization header replaced; answers the status. */
  function sendWithAuthorization(subscription: webpush.PushSubscription, authorization: string | undefined): Promise<number> {
    const details = webpush.generateRequestDetails(subscription, "{}", options);
    const headers: Record<string, string | number> = { ...details.headers };
    if (authorization === undefined) delete headers.Authorization;
    else headers.Authorization = authorization;
    return new Promise((resolve, reject) => {
      const req = request(details.endpoint, { method: "POST", headers, ca: push.ca }, (res) => resolve(res.resume().statusCode!));
      req.on("error", reject).end(details.body);
    });
  }

  it("decrypts web-push's payload and shows its headers and VAPID claims", async () => {
    const subscription = push.newSubscription();
    expect(subscription.endpoint).toMatch(new RegExp(`^${push.origin}/push/[A-Za-z0-9_-]+$`));
    const message = { type: "message", roomId: "r1", body: "héllo 👋" };
    const sent = await webpush.sendNotification(subscription, JSON.stringify(message), { ...options, topic: "room-r1", urgency: "high" });
    expect(sent.statusCode).toBe(201);

    const received = await push.next({ endpoint: subscription.endpoint });
    expect(received).toMatchObject({
      endpoint: subscription.endpoint,
      subscriptionId: subscription.endpoint.split("/").pop(),
      status: 201,
      headers: { ttl: 3600, topic: "room-r1", urgency: "high", contentEncoding: "aes128gcm" },
      vapid: { subject: SUBJECT, publicKey: vapid.publicKey, claims: { aud: push.origin, sub: SUBJECT } },
      payload: message,
    });
    expect(received.vapid.claims.exp! - Date.now() / 1000).toBeGreaterThan(3600);

    await webpush.sendNotification(subscription, "plain text", options);
    expect((await push.next({ endpoint: subscription.endpoint })).payload).toBe("plain text");
    expect(push.rejected).toEqual([]);
  });

  it("refuses a JWT signed by another key than k (403), and records it", async () => {
    const subscription = push.newSubscription();
    const other = webpush.generateVAPIDKeys();
    const sending = webpush.sendNotification(subscription, "{}", {
      ...options,
      vapidDetails: { subject: SUBJECT, publicKey: vapid.publicKey, privateKey: other.privateKey },
    });
    expect(await statusOf(sending)).toBe(403);
    expect(push.rejected.at(-1)).toMatchObject({
      endpoint: subscription.endpoint,
      status: 403,
      reason: expect.stringMatching(/signature/),
    });
    expect(push.pushes.filter((p) => p.endpoint === subscription.endpoint)).toEqual([]);
  });

  it("refuses a missing Authorization (401), a JWT for another audience (403), a payload for other keys (400), an unknown endpoint (404)", async () => {
    const subscription = push.newSubscription();
    const before = push.rejected.length;
    expect(await sendWithAuthorization(subscription, undefined)).toBe(401);

    const elsewhere = webpush.getVapidHeaders(
      "https://push.example",
      SUBJECT,
      vapid.publicKey,
      vapid.privateKey,
      "aes128gcm",
    ).Authorization;
    expect(await sendWithAuthorization(subscription, elsewhere)).toBe(403);

    const otherKeys = { ...subscription, keys: push.newSubscription().keys };
    expect(await statusOf(webpush.sendNotification(otherKeys, "{}", options))).toBe(400);

    expect(await statusOf(webpush.sendNotification({ ...subscription, endpoint: `${push.origin}/push/nobody` }, "{}", options))).toBe(404);
    expect(push.rejected.slice(before).map((r) => r.status)).toEqual([401, 403, 400, 404]);
    expect(push.rejected.at(-3)!.reason).toMatch(/aud/);
  });

  it("answers the scripted statuses in order, then 201", async () => {
    const subscription = push.newSubscription();
    push.respondWith(subscription.endpoint, [503, 503]);
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push(await statusOf(webpush.sendNotification(subscription, JSON.stringify({ attempt: i }), options)));
    expect(statuses).toEqual([503, 503, 201]);
    expect((await push.next({ endpoint: subscription.endpoint })).payload).toEqual({ attempt: 2 });
    expect(push.pushes.filter((p) => p.endpoint === subscription.endpoint).map((p) => p.status)).toEqual([503, 503, 201]);
  });

  it("answers 410 forever once gone", async () => {
    const subscription = push.newSubscription();
    push.gone(subscription.endpoint);
    expect(await statusOf(webpush.sendNotification(subscription, "{}", options))).toBe(410);
    expect(await statusOf(webpush.sendNotification(subscription, "{}", options))).toBe(410);
    expect((await push.next({ endpoint: subscription.endpoint, includeRefused: true })).status).toBe(410);
    await expect(push.next({ endpoint: subscription.endpoint, timeoutMs: 50 })).rejects.toThrow(/no push/);
  });
});
