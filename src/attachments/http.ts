import type { IncomingMessage, ServerResponse } from "node:http";
import { GraphQLError } from "graphql";
import { jwtVerify, SignJWT } from "jose";
import parseRange from "range-parser";
import type { Attachments } from "./attachments.js";

const AUDIENCE = "chat-graphql:attachment";
const ALGORITHM = "HS256";
/** How long a download URL works, in seconds (at least; expiry is rounded up to the next whole window so URLs stay cacheable). */
const URL_TTL_S = 3600;

/**
 * Signed download URLs: `<PUBLIC_URL>/attachments/<id>[/thumbnail]?token=<JWT>`.
 * An `<img src>` cannot send an Authorization header, so the URL carries a
 * short-lived token naming the viewer and the attachment; the download checks
 * it and then the viewer's room membership again.
 */
export class AttachmentUrls {
  private readonly key: Uint8Array;

  /** `secret` is the JWT_SECRET; `publicUrl` the server's public origin, or "" for path-only URLs. */
  constructor(
    secret: string,
    private readonly publicUrl: string,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  /** The download URL of an attachment (or its thumbnail) for `userId`. */
  async url(attachmentId: string, userId: string, thumbnail: boolean): Promise<string> {
    const window = Math.ceil(Date.now() / 1000 / URL_TTL_S) + 1;
    const token = await new SignJWT({ att: attachmentId })
      .setProtectedHeader({ alg: ALGORITHM })
      .setSubject(userId)
      .setAudience(AUDIENCE)
      .setExpirationTime(window * URL_TTL_S)
      .sign(this.key);
    return `${this.publicUrl}/attachments/${attachmentId}${thumbnail ? "/thumbnail" : ""}?token=${token}`;
  }

  /** The user a URL token was issued to, when it is valid for `attachmentId`; else null. */
  async userOf(token: string, attachmentId: string): Promise<string | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: [ALGORITHM], audience: AUDIENCE });
      return payload.att === attachmentId && typeof payload.sub === "string" ? payload.sub : null;
    } catch {
      return null;
    }
  }
}

const ROUTE = /^\/attachments\/([0-9a-f-]{36})(\/thumbnail)?$/;

/**
 * Serves `GET /attachments/<id>[/thumbnail]?token=…`; resolves false for any
 * other URL (the caller passes it on). 401 without a valid token, 404 when the
 * attachment is missing or not visible, 403 for a PUBLIC room not joined: the
 * same checks whatever the store. Then, from the disk store, the bytes with the
 * headers Attachments.download chose and `nosniff`; HEAD, and a single byte
 * `Range` (206, or 416 when unsatisfiable; what media players and iOS need to
 * seek), are supported, a multi-range request gets the whole file. From the S3
 * store, a 302 to a short-lived presigned URL (s3-store.ts), which the bucket
 * answers with the same headers and ranges; the redirect is not cached, so every
 * download passes the checks again (the bytes may be: that URL stays the same for
 * minutes).
 */
export async function serveAttachment(
  urls: AttachmentUrls,
  attachments: Attachments,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const match = ROUTE.exec(url.pathname);
  if (!match || (req.method !== "GET" && req.method !== "HEAD")) return false;
  const [, id, thumbnail] = match as unknown as [string, string, string | undefined];
  const userId = await urls.userOf(url.searchParams.get("token") ?? "", id);
  if (!userId) {
    send(res, 401, "Missing, invalid or expired token");
    return true;
  }
  try {
    const { headers: file, download } = await attachments.download(userId, id, Boolean(thumbnail), req.method);
    if ("redirect" in download) {
      res.writeHead(302, { location: download.redirect, "cache-control": "private, no-store" }).end();
      return true;
    }
    const { bytes } = download;
    const headers = { ...file, "x-content-type-options": "nosniff", "accept-ranges": "bytes" };
    const ranges = req.headers.range ? parseRange(bytes.length, req.headers.range) : -2;
    if (ranges === -1) {
      res.writeHead(416, { ...headers, "content-range": `bytes */${bytes.length}` }).end();
    } else if (Array.isArray(ranges) && ranges.length === 1) {
      const { start, end } = ranges[0]!;
      res.writeHead(206, { ...headers, "content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${bytes.length}` });
      res.end(req.method === "HEAD" ? undefined : bytes.subarray(start, end + 1));
    } else {
      res.writeHead(200, { ...headers, "content-length": bytes.length });
      res.end(req.method === "HEAD" ? undefined : bytes);
    }
  } catch (e) {
    const code = e instanceof GraphQLError ? e.extensions.code : undefined;
    if (code === "NOT_FOUND") send(res, 404, "Not found");
    else if (code === "FORBIDDEN") send(res, 403, "Forbidden");
    else throw e;
  }
  return true;
}

function send(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(message);
}
