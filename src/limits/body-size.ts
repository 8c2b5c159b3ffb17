import type { IncomingMessage, ServerResponse } from "node:http";
import { badInput } from "../errors.js";

/**
 * Bounds the body of a GraphQL-over-HTTP request before Yoga reads it: a request
 * whose `Content-Length` exceeds `maxBytes` is answered at once, unread; one without
 * it (chunked) is read while counting, and answered as soon as the count passes
 * `maxBytes`, so at most `maxBytes` are ever held. The answer is HTTP 413 with a
 * GraphQL-shaped body, `{"errors":[{"message":"Request body larger than <maxBytes>
 * bytes (MAX_BODY_BYTES)","extensions":{"code":"BAD_USER_INPUT","field":"body"}}]}`,
 * and `Connection: close`, so the rest of the body is not read. A body within the
 * limit is handed to Yoga as `req.body` (@whatwg-node/server takes a pre-read body
 * from there, as behind Express' body parsers). Multipart requests (uploads) and
 * bodiless methods are left alone: Yoga's multipart parser enforces
 * MAX_ATTACHMENT_BYTES itself. Resolves whether it answered the request.
 */
export async function refuseLargeBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<boolean> {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return false;
  if (req.headers["content-type"]?.toLowerCase().startsWith("multipart/")) return false;
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > maxBytes) return tooLarge(res, maxBytes);
  const body = await readAtMost(req, maxBytes);
  if (!body) return tooLarge(res, maxBytes);
  (req as IncomingMessage & { body?: Buffer }).body = body;
  return false;
}

/** The body of `req` if it has at most `maxBytes`; null (and `req` paused) as soon as it has more. */
function readAtMost(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      // stop reading (not destroy: that would take the socket, and the 413, with it)
      req.off("data", onData).off("end", onEnd).off("error", reject).pause();
      resolve(null);
    };
    const onEnd = () => resolve(Buffer.concat(chunks, size));
    req.on("data", onData).once("end", onEnd).once("error", reject);
  });
}

function tooLarge(res: ServerResponse, maxBytes: number): true {
  const body = JSON.stringify({ errors: [badInput("body", `Request body larger than ${maxBytes} bytes (MAX_BODY_BYTES)`).toJSON()] });
  res.writeHead(413, { "content-type": "application/json; charset=utf-8", connection: "close" }).end(body);
  return true;
}
