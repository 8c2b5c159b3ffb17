import type { LookupAddress } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { rootCertificates } from "node:tls";
import webpush from "web-push";
import { checkedAddresses, type UrlFetchOptions } from "../attachments/url-fetch.js";

/** Where one device's notifications go: a Web Push subscription (PushSubscription row). */
export interface PushTarget {
  endpoint: string;
  /** base64url, 65 bytes. */
  p256dh: string;
  /** base64url, 16 bytes. */
  auth: string;
}

/** What a notification asks of the push service besides its payload (RFC 8030 §5.2–5.4). */
export interface Delivery {
  /** How long the push service keeps it for an unreachable device, in seconds (TTL header). */
  ttlS: number;
  /** `high` wakes a device (mentions, direct messages), `normal` may wait. */
  urgency: "high" | "normal";
  /** A newer notification with the same topic replaces one still queued at the push service (≤ 32 base64url characters). */
  topic: string;
}

/** One prepared request to a push service, as a job keeps it (JSON): its body already encrypted to the device. */
export interface PushRequest {
  endpoint: string;
  headers: Record<string, string>;
  /** The encrypted body, base64. */
  body: string;
}

/**
 * A platform's sender. Web Push is the only one; an APNs or FCM gateway would be
 * another implementation (its target a device token instead of an endpoint and
 * keys, its request signed with the platform's credentials), chosen per
 * subscription by its platform (docs/architecture.md, "Push notifications").
 */
export interface PushSender {
  /** The request that delivers `payload` to `target`, ready to send and to resend as it is. */
  prepare(target: PushTarget, payload: string, delivery: Delivery): PushRequest;
  /** Sends it; resolves the push service's HTTP status. @throws on a network error, a timeout or a refused address. */
  send(request: PushRequest): Promise<number>;
}

/** The VAPID identity of this server (config.ts VAPID_*). */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

/**
 * Web Push through the `web-push` library: the payload encrypted to the
 * subscription's keys (RFC 8291, aes128gcm) and the request signed with a VAPID JWT
 * (RFC 8292, valid 12 h, longer than a job's retries take). With `ssrf` (production),
 * the endpoint's host must resolve to public addresses only, and the connection
 * goes to the addresses checked (attachments/url-fetch.ts checkedAddresses), as
 * for uploadAttachmentFromUrl.
 */
export class WebPushSender implements PushSender {
  constructor(
    private readonly vapid: VapidKeys,
    /** Longest a request may take, in ms. */
    private readonly timeoutMs: number,
    private readonly ssrf: Pick<UrlFetchOptions, "allowedRanges"> | null,
    /** PEM certificates trusted besides Node's roots (URL_FETCH_CA_FILE): a push service behind a private CA. */
    private readonly extraCa: readonly string[],
  ) {}

  prepare(target: PushTarget, payload: string, delivery: Delivery): PushRequest {
    const details = webpush.generateRequestDetails(
      { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
      payload,
      {
        vapidDetails: this.vapid,
        TTL: delivery.ttlS,
        urgency: delivery.urgency,
        topic: delivery.topic,
        contentEncoding: "aes128gcm",
      },
    );
    const headers = Object.fromEntries(Object.entries(details.headers).map(([k, v]) => [k, String(v)]));
    return { endpoint: details.endpoint, headers, body: (details.body as Buffer).toString("base64") };
  }

  async send(push: PushRequest): Promise<number> {
    const url = new URL(push.endpoint);
    const signal = AbortSignal.timeout(this.timeoutMs);
    const addresses = this.ssrf ? await checkedAddresses(url, { ...this.ssrf, timeoutMs: this.timeoutMs }, signal, "endpoint") : null;
    return post(url, push, addresses, this.extraCa, signal);
  }
}

/** POSTs `push` to `url` (connected to `addresses` when given, trusting `extraCa` too) and resolves the status; the response body is discarded. */
function post(
  url: URL,
  push: PushRequest,
  addresses: LookupAddress[] | null,
  extraCa: readonly string[],
  signal: AbortSignal,
): Promise<number> {
  const body = Buffer.from(push.body, "base64");
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((done, fail) => {
    const req = request(url, {
      method: "POST",
      headers: { ...push.headers, "content-length": String(body.length) },
      signal,
      ...(extraCa.length > 0 && url.protocol === "https:" ? { ca: [...rootCertificates, ...extraCa] } : {}),
      ...(addresses
        ? {
            agent: false,
            lookup: ((_host, options, callback) => {
              if (options.all) callback(null, addresses);
              else callback(null, addresses[0]!.address, addresses[0]!.family);
            }) satisfies LookupFunction,
          }
        : {}),
    });
    req.on("response", (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on("error", fail);
    req.end(body);
  });
}
