import type { IncomingMessage, ServerResponse } from "node:http";
import { finished } from "node:stream";
import getRawBody from "raw-body";
import { badInput } from "../errors.js";

/** After a 413, how much more of the body is read and discarded before the connection is cut, in bytes. */
const LINGER_MAX_BYTES = 16 * 1024 * 1024;
/** After a 413, how long the rest of the body is read before the connection is cut, in ms (nginx's lingering_timeout, 5 s). */
const LINGER_MS = 5000;

/**
 * Bounds the body of a GraphQL-over-HTTP request before Yoga reads it, with
 * raw-body (Express' body reader): a request whose `Content-Length` exceeds
 * `maxBytes` is answered at once, unread; one without it (chunked) is read while
 * counting, and answered as soon as the count passes `maxBytes`, so at most
 * `maxBytes` are ever held (raw-body then pauses the request, leaving the socket
 * open). The answer is HTTP 413 with a GraphQL-shaped body,
 * `{"errors":[{"message":"Request body larger than <maxBytes> bytes (MAX_BODY_BYTES)","extensions":{"code":"BAD_USER_INPUT","field":"body"}}]}`,
 * and `Connection: close`; the connection closes lingeringly ({@link lingeringClose}),
 * so a client still writing the body reads the answer instead of a reset. A body within the
 * limit is handed to Yoga as `req.body` (@whatwg-node/server takes a pre-read body
 * from there, as behind Express' body parsers). Multipart requests (uploads) and
 * bodiless methods are left alone: Yoga's multipart parser enforces
 * MAX_ATTACHMENT_BYTES itself. Resolves whether it answered the request; rejects
 * with raw-body's error when the request fails otherwise (aborted, shorter than its `Content-Length`).
 */
export async function refuseLargeBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<boolean> {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return false;
  if (req.headers["content-type"]?.toLowerCase().startsWith("multipart/")) return false;
  try {
    (req as IncomingMessage & { body?: Buffer }).body = await getRawBody(req, { length: req.headers["content-length"], limit: maxBytes });
    return false;
  } catch (e) {
    if ((e as { type?: unknown }).type === "entity.too.large") return tooLarge(req, res, maxBytes);
    throw e;
  }
}

/** Answers `req` with the 413 (whole, by its Content-Length), then closes its connection lingeringly. */
function tooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number): true {
  const body = JSON.stringify({ errors: [badInput("body", `Request body larger than ${maxBytes} bytes (MAX_BODY_BYTES)`).toJSON()] });
  res
    .writeHead(413, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), connection: "close" })
    .write(body);
  lingeringClose(req, res);
  return true;
}

/**
 * Closes the connection of a request answered before its body was read, as nginx's
 * lingering close: a socket closed with unread data resets the connection, and the
 * reset can reach a client still writing the body before it has read the answer
 * (which its TCP stack then discards). So the rest of the body is read and
 * discarded, and the response ends (Node then closes the connection, as
 * `Connection: close` says) once the body has; past {@link LINGER_MAX_BYTES} or
 * {@link LINGER_MS} the connection is destroyed.
 */
function lingeringClose(req: IncomingMessage, res: ServerResponse): void {
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  let discarded = 0;
  req.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_MAX_BYTES) req.socket.destroy();
  });
  // also when the body ended before this was called; an error: the connection is gone
  finished(req, (err) => {
    clearTimeout(timer);
    if (!err) res.end();
  });
  req.resume();
}
