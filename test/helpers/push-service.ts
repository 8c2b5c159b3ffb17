import { createDecipheriv, createECDH, type ECDH, hkdfSync, randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { importJWK, type JWTPayload, jwtVerify } from "jose";
import { inbox } from "./changes.js";

/** The self-signed certificate the push service serves (CN "chat-graphql test push service", SAN 127.0.0.1 and localhost, valid 100 years). */
const CERT_FILE = fileURLToPath(new URL("../fixtures/tls/push-service.crt", import.meta.url));
const KEY_FILE = fileURLToPath(new URL("../fixtures/tls/push-service.key", import.meta.url));

/** RFC 8030 §7.2: a push service accepts at least 4096 bytes of (encrypted) payload; we refuse more with 413, as FCM and autopush do. */
const MAX_BODY_BYTES = 4096;
/** RFC 8292 §2: a VAPID JWT's `exp` is no more than 24 hours after the request. */
const MAX_JWT_LIFETIME_S = 24 * 60 * 60;

/** A subscription as a browser's `PushSubscription.toJSON()` gives it; what a client hands to registerPushSubscription. */
export interface TestPushSubscription {
  /** `https://127.0.0.1:<port>/push/<subscription id>` */
  endpoint: string;
  keys: {
    /** The user agent's P-256 public key, uncompressed point (65 bytes), base64url. */
    p256dh: string;
    /** The 16-byte authentication secret, base64url. */
    auth: string;
  };
}

/** A push request that passed every check (VAPID, headers, decryption), with the status it was answered. */
export interface ReceivedPush {
  endpoint: string;
  /** The last path segment of `endpoint`. */
  subscriptionId: string;
  /** The answer given: 201 when delivered, else the status scripted by `respondWith` or `gone`. */
  status: number;
  headers: {
    /** The TTL header, seconds. */
    ttl: number;
    /** The Topic header (RFC 8030 §5.4: a newer push with the same topic replaces an undelivered one), if sent. */
    topic?: string;
    /** The Urgency header (very-low | low | normal | high), if sent. */
    urgency?: string;
    /** Always "aes128gcm" (anything else is rejected). */
    contentEncoding: string;
  };
  vapid: {
    /** The JWT's `sub`: a mailto: or https: URL. */
    subject: string;
    /** The `k` parameter: the application server's public key, base64url. */
    publicKey: string;
    /** Every claim of the verified JWT (aud, exp, sub…). */
    claims: JWTPayload;
  };
  /** The decrypted payload, parsed as JSON when it is JSON, else the text; null when the push had no body. */
  payload: unknown;
}

/** A request the push service refused before any scripted answer: failed VAPID, headers, decryption, or an unknown endpoint. */
export interface RejectedPush {
  /** The URL asked for, `https://127.0.0.1:<port><path>`. */
  endpoint: string;
  /** 400 (headers or payload), 401 (no or malformed Authorization), 403 (JWT invalid), 404 (unknown subscription), 413 (body too big), 500 (a bug of the double). */
  status: number;
  /** Why, for a test's failure message. */
  reason: string;
}

/**
 * A stand-in Web Push service (RFC 8030) on a free HTTPS port of 127.0.0.1, with the
 * checks a real one makes, plus decryption, which only the browser can do for real.
 */
export interface PushService {
  /** `https://127.0.0.1:<port>`: every endpoint's origin, so the VAPID `aud` it expects. */
  origin: string;
  /** The PEM certificate it serves (self-signed): give it to the HTTPS client (`new https.Agent({ ca })`, web-push's `agent` option). */
  ca: string;
  /** The path of that certificate, for a config variable that takes a CA file. */
  caFile: string;
  /** A new subscription on this service, as a browser makes one; the service keeps its private key and auth secret to decrypt. */
  newSubscription(): TestPushSubscription;
  /** Every push that passed the checks, in arrival order, whatever it was answered (201, 503, 410…). */
  pushes: ReceivedPush[];
  /** Every refused request, in order: a test that expects well-formed pushes asserts this stays empty. */
  rejected: RejectedPush[];
  /**
   * The next push not yet taken by `next`, delivered (answered 2xx) unless `includeRefused`,
   * to `endpoint` if given. Waits up to `timeoutMs` (default 5000), then rejects.
   */
  next(options?: { endpoint?: string; timeoutMs?: number; includeRefused?: boolean }): Promise<ReceivedPush>;
  /** Answers the next valid pushes to `endpoint` with these statuses, in order (e.g. [503, 503]), then 201 again. */
  respondWith(endpoint: string, statuses: number[]): void;
  /** Answers every later push to `endpoint` with 410 Gone, as for an expired or unsubscribed subscription. */
  gone(endpoint: string): void;
  close(): Promise<void>;
}

/** What the service keeps per subscription. */
interface Subscription {
  ecdh: ECDH;
  auth: Buffer;
  /** Scripted answers still to give, first first. */
  script: number[];
  gone: boolean;
}

/** An HTTP answer that refuses a request; thrown by the checks. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Starts the push service (see {@link PushService}). Each request to `/push/<id>` is checked in this order:
 * 1. the subscription exists (404);
 * 2. RFC 8292 VAPID: `Authorization: vapid t=<JWT>, k=<public key>` present and well-formed (401); the JWT is an
 *    ES256 JWS signed by `k`, its `aud` is this origin, `exp` in the future and at most 24 h ahead, `sub` a mailto:
 *    or https: URL (403);
 * 3. a `TTL` header, a non-negative integer (400); `Content-Encoding: aes128gcm` (400); at most 4096 bytes (413);
 * 4. the body decrypts per RFC 8291 with the subscription's key and auth secret (400).
 * A refused request goes to `rejected`; a valid one to `pushes`, answered with the scripted status or 201.
 */
export async function startPushService(): Promise<PushService> {
  const ca = readFileSync(CERT_FILE, "utf8");
  const subscriptions = new Map<string, Subscription>();
  const received = inbox<ReceivedPush>();
  const pushes = received.items;
  const rejected: RejectedPush[] = [];
  let origin = "";

  const server = createServer({ cert: ca, key: readFileSync(KEY_FILE) }, (req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const endpoint = origin + (req.url ?? "/");
    try {
      const id = /^\/push\/([A-Za-z0-9_-]+)$/.exec(req.url ?? "")?.[1];
      const subscription = id === undefined ? undefined : subscriptions.get(id);
      if (req.method !== "POST" || !id || !subscription) throw new Refusal(404, `no subscription at ${req.method} ${req.url}`);
      const vapid = await verifyVapid(req.headers.authorization, origin);
      const headers = checkHeaders(req, body);
      const payload = body.length ? parsed(decrypt(body, subscription)) : null;
      const status = subscription.gone ? 410 : (subscription.script.shift() ?? 201);
      received.add({ endpoint, subscriptionId: id, status, headers, vapid, payload });
      if (status === 201)
        res.writeHead(201, { location: `${origin}/message/${randomBytes(8).toString("base64url")}`, ttl: String(headers.ttl) }).end();
      else res.writeHead(status).end();
    } catch (error) {
      const refusal = error instanceof Refusal ? error : new Refusal(500, `push service failure: ${(error as Error).stack}`);
      rejected.push({ endpoint, status: refusal.status, reason: refusal.message });
      res.writeHead(refusal.status, { "content-type": "text/plain" }).end(refusal.message);
    }
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const subscriptionAt = (endpoint: string): Subscription => {
    const subscription = subscriptions.get(endpoint.slice(`${origin}/push/`.length));
    if (!endpoint.startsWith(`${origin}/push/`) || !subscription) throw new Error(`${endpoint} is not a subscription of this push service`);
    return subscription;
  };

  const next: PushService["next"] = async ({ endpoint, timeoutMs = 5000, includeRefused = false } = {}) => {
    const push = await received.take(
      (p) => (endpoint === undefined || p.endpoint === endpoint) && (includeRefused || (p.status >= 200 && p.status < 300)),
      timeoutMs,
    );
    if (!push)
      throw new Error(`no push${endpoint ? ` to ${endpoint}` : ""} within ${timeoutMs} ms (rejected so far: ${JSON.stringify(rejected)})`);
    return push;
  };

  return {
    origin,
    ca,
    caFile: CERT_FILE,
    newSubscription() {
      const id = randomBytes(16).toString("base64url");
      const ecdh = createECDH("prime256v1");
      ecdh.generateKeys();
      const auth = randomBytes(16);
      subscriptions.set(id, { ecdh, auth, script: [], gone: false });
      return {
        endpoint: `${origin}/push/${id}`,
        keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
      };
    },
    pushes,
    rejected,
    next,
    respondWith: (endpoint, statuses) => void subscriptionAt(endpoint).script.push(...statuses),
    gone: (endpoint) => void (subscriptionAt(endpoint).gone = true),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * RFC 8292 §3: `Authorization: vapid t=<JWT>, k=<base64url uncompressed P-256 point>`.
 * @throws Refusal 401 when the header is missing or malformed, 403 when the JWT fails verification or a claim rule.
 */
async function verifyVapid(authorization: string | undefined, origin: string): Promise<ReceivedPush["vapid"]> {
  const match = /^vapid\s+t=([^,\s]+)\s*,\s*k=([A-Za-z0-9_-]+)$/i.exec(authorization ?? "");
  if (!match) throw new Refusal(401, `Authorization is not "vapid t=…, k=…": ${authorization ?? "(none)"}`);
  const [, token, publicKey] = match as unknown as [string, string, string];
  const point = Buffer.from(publicKey, "base64url");
  if (point.length !== 65 || point[0] !== 4) throw new Refusal(401, "k is not an uncompressed P-256 point");
  const key = await importJWK(
    { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") },
    "ES256",
  );
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, key, { algorithms: ["ES256"], audience: origin, requiredClaims: ["exp", "sub"] }));
  } catch (error) {
    throw new Refusal(403, `VAPID JWT refused: ${(error as Error).message}`);
  }
  if (claims.exp! > Date.now() / 1000 + MAX_JWT_LIFETIME_S) throw new Refusal(403, `VAPID exp ${claims.exp} is more than 24 h ahead`);
  if (!/^(mailto:|https:)/.test(claims.sub!)) throw new Refusal(403, `VAPID sub ${claims.sub} is not a mailto: or https: URL`);
  return { subject: claims.sub!, publicKey, claims };
}

/** RFC 8030 §5.2 (TTL), §5.3 (Urgency), §5.4 (Topic); RFC 8291 §4 (aes128gcm). @throws Refusal 400 or 413. */
function checkHeaders(req: IncomingMessage, body: Buffer): ReceivedPush["headers"] {
  const ttl = req.headers.ttl;
  if (typeof ttl !== "string" || !/^\d+$/.test(ttl)) throw new Refusal(400, `TTL header missing or not a non-negative integer: ${ttl}`);
  const contentEncoding = req.headers["content-encoding"] ?? "";
  if (body.length && contentEncoding !== "aes128gcm") throw new Refusal(400, `Content-Encoding is "${contentEncoding}", not aes128gcm`);
  if (body.length > MAX_BODY_BYTES) throw new Refusal(413, `body of ${body.length} bytes, more than ${MAX_BODY_BYTES}`);
  const topic = req.headers.topic;
  const urgency = req.headers.urgency;
  return {
    ttl: Number(ttl),
    contentEncoding,
    ...(typeof topic === "string" ? { topic } : {}),
    ...(typeof urgency === "string" ? { urgency } : {}),
  };
}

/**
 * RFC 8291 §3.4 with the RFC 8188 aes128gcm framing: header salt(16) ‖ rs(uint32) ‖ idlen(1) ‖ keyid (the sender's
 * public key, 65 bytes), then one record (RFC 8291 §4: a push message is a single record) of AES-128-GCM
 * ciphertext and 16-byte tag, whose plaintext ends with the last-record delimiter 0x02 and zero padding.
 * @throws Refusal 400 when any step fails.
 */
function decrypt(body: Buffer, subscription: Subscription): Buffer {
  try {
    const salt = body.subarray(0, 16);
    const rs = body.readUInt32BE(16);
    const idlen = body[20]!;
    const senderKey = body.subarray(21, 21 + idlen);
    const record = body.subarray(21 + idlen);
    if (record.length > rs) throw new Error(`more than one record (rs ${rs}, ${record.length} bytes)`);
    const ecdhSecret = subscription.ecdh.computeSecret(senderKey);
    const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), subscription.ecdh.getPublicKey(), senderKey]);
    const ikm = Buffer.from(hkdfSync("sha256", ecdhSecret, subscription.auth, keyInfo, 32));
    const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
    const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12)); // sequence number 0
    const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end--;
    if (padded[end] !== 2) throw new Error("no last-record padding delimiter");
    return padded.subarray(0, end);
  } catch (error) {
    throw new Refusal(400, `payload does not decrypt per RFC 8291: ${(error as Error).message}`);
  }
}

/** The text as JSON when it parses, else the text. */
function parsed(plain: Buffer): unknown {
  const text = plain.toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
