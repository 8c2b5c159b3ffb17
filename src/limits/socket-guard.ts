import type { WebSocket } from "ws";

/**
 * How long a socket closed by a limit gets to finish the close handshake before
 * it is cut (`terminate()`), in ms. A slow consumer never reads our close frame,
 * which waits behind its full buffer; a flooder may not answer it.
 */
const CLOSE_GRACE_MS = 5000;

/**
 * Close codes the guard uses:
 * - 4429 Too many requests: the code graphql-ws itself closes with for a second
 *   `connection_init` (CloseCode.TooManyInitialisationRequests); graphql-ws clients
 *   treat it as fatal and do not reconnect, which is what a flood deserves;
 * - 1013 Try Again Later (IANA WebSocket Close Code Number Registry, added after
 *   RFC 6455): the server is overloaded for this client; graphql-ws clients retry
 *   on it (isFatalInternalCloseCode), so a recovered client reconnects and resumes
 *   with `after:`.
 * ws itself closes a frame above `maxPayload` with 1009 Message Too Big (RFC 6455 §7.4.1).
 */
export const CLOSE_TOO_MANY_REQUESTS = 4429;
/** See {@link CLOSE_TOO_MANY_REQUESTS}. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** Sockets a limit has closed: they get no more frames, and their incoming messages are dropped. */
const limited = new WeakSet<WebSocket>();

/** Why a socket was closed by a limit: the `reason` label of `chat_ws_closed_total`. */
export type LimitReason = "message_rate" | "subscriptions" | "payload_too_large" | "slow_consumer";

/** The per-socket limits (config.ts: WS_MESSAGE_BURST, WS_MESSAGES_PER_S, WS_MAX_BUFFERED_BYTES, WS_MAX_SUBSCRIPTIONS). */
export interface SocketLimits {
  /** Messages (any graphql-ws message, and WebSocket ping frames) a socket may send at once: the token bucket's size. */
  messageBurst: number;
  /** Messages per second the bucket refills with: the sustained rate. */
  messagesPerS: number;
  /** Bytes a socket may have queued for sending (ws `bufferedAmount`) before it counts as a slow consumer. */
  maxBufferedBytes: number;
  /** Operations a socket may have running at once (subscriptions, and queries or mutations while they execute). */
  maxSubscriptions: number;
}

/**
 * Guards one graphql-ws socket against a client that floods it or does not read
 * what it is sent. Call it from a `connection` listener registered before
 * graphql-ws's `useServer`, so it sees each socket first. Rules:
 * - **Message rate**: every incoming message and ping frame takes a token from a
 *   bucket of `messageBurst` tokens refilled at `messagesPerS`; with none left the
 *   socket is closed with 4429 "Too many requests: …". A synchronous bucket (not
 *   rate-limiter-flexible, whose memory limiter answers with a promise) so that a
 *   message over the limit is dropped before graphql-ws's listener sees it;
 *   after a limit closed the socket, nothing more it sends reaches graphql-ws.
 * - **Slow consumer**: `socket.send` is wrapped. A frame is queued (and its
 *   callback called at once, so graphql-ws goes on taking events from the
 *   subscription instead of letting them pile up, unbounded, in the stream's
 *   queue) while `bufferedAmount` is at most `maxBufferedBytes`; above it nothing
 *   more is sent and the socket is closed with 1013 "Try Again Later". The queued
 *   memory is so bounded by `maxBufferedBytes` plus one frame.
 * - **Oversized frames**: ws closes them with 1009 itself (`maxPayload`); the guard
 *   only reports them.
 * A socket closed by a limit is cut with `terminate()` if the close handshake has
 * not completed within 5 s. `onLimit` is told each limit close once (metrics).
 */
export function guardSocket(socket: WebSocket, limits: SocketLimits, onLimit: (reason: LimitReason) => void): void {
  let tokens = limits.messageBurst;
  let refilledAt = Date.now();

  const emit = socket.emit.bind(socket);
  socket.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    if (event !== "message" && event !== "ping") return emit(event, ...args);
    if (limited.has(socket)) return false;
    // the token bucket, inline: a named helper closure would cost every socket ~300 B (tsx's keepNames)
    const now = Date.now();
    tokens = Math.min(limits.messageBurst, tokens + ((now - refilledAt) / 1000) * limits.messagesPerS);
    refilledAt = now;
    if (tokens >= 1) {
      tokens -= 1;
      return emit(event, ...args);
    }
    closeForLimit(socket, CLOSE_TOO_MANY_REQUESTS, `Too many requests: more than ${limits.messageBurst} messages at once or ${limits.messagesPerS} per second`, "message_rate", onLimit);
    return false;
  };

  const send = socket.send.bind(socket);
  socket.send = ((data: Parameters<WebSocket["send"]>[0], ...rest: unknown[]) => {
    const callback = rest.find((arg): arg is (err?: Error) => void => typeof arg === "function");
    if (!limited.has(socket) && socket.bufferedAmount > limits.maxBufferedBytes) {
      closeForLimit(socket, CLOSE_TRY_AGAIN_LATER, `Try again later: more than ${limits.maxBufferedBytes} bytes unread`, "slow_consumer", onLimit);
    }
    if (!limited.has(socket)) send(data, typeof rest[0] === "object" ? (rest[0] as object) : {});
    callback?.();
  }) as WebSocket["send"];

  socket.on("error", (err: Error & { code?: string }) => {
    if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") onLimit("payload_too_large");
  });
}

/**
 * Checks a socket's subscription cap in graphql-ws's `onSubscribe`, where `active`
 * is the number of its operations including the new one (`Object.keys(ctx.subscriptions).length`).
 * Over `limits.maxSubscriptions` the socket is closed with 4429 "Too many requests: …"
 * and false is returned (the operation must not run); else true.
 */
export function admitSubscription(socket: WebSocket, active: number, limits: SocketLimits, onLimit: (reason: LimitReason) => void): boolean {
  if (active <= limits.maxSubscriptions) return true;
  closeForLimit(socket, CLOSE_TOO_MANY_REQUESTS, `Too many requests: more than ${limits.maxSubscriptions} subscriptions on one socket`, "subscriptions", onLimit);
  return false;
}

/** Closes `socket` for `reason` (once), and cuts it after {@link CLOSE_GRACE_MS} if the handshake has not ended. */
function closeForLimit(socket: WebSocket, code: number, message: string, reason: LimitReason, onLimit: (reason: LimitReason) => void): void {
  if (limited.has(socket)) return;
  limited.add(socket);
  onLimit(reason);
  socket.close(code, message);
  const cut = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
  socket.once("close", () => clearTimeout(cut));
}
