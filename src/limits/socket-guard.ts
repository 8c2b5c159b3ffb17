import { CloseCode } from "graphql-ws";
import type { WebSocket } from "ws";

/**
 * How long a socket closed by a limit gets to finish the close handshake before
 * it is cut (`terminate()`), in ms. A slow consumer never reads our close frame,
 * which waits behind its full buffer; a flooder may not answer it.
 */
const CLOSE_GRACE_MS = 5000;

/**
 * Close codes the guard uses:
 * - 4429 Too many requests: graphql-ws's `CloseCode.TooManyInitialisationRequests`,
 *   the code graphql-ws itself closes with for a second `connection_init`; graphql-ws
 *   clients treat it as fatal and do not reconnect, which is what a flood deserves;
 * - 1013 Try Again Later (IANA WebSocket Close Code Number Registry, added after
 *   RFC 6455; graphql-ws has no name for it): the server is overloaded for this
 *   client; graphql-ws clients retry on it (isFatalInternalCloseCode), so a
 *   recovered client reconnects and resumes with `after:`.
 * ws itself closes a frame above `maxPayload` with 1009 Message Too Big (RFC 6455 §7.4.1).
 */
export const CLOSE_TOO_MANY_REQUESTS = CloseCode.TooManyInitialisationRequests;
/** See {@link CLOSE_TOO_MANY_REQUESTS}. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

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
 * The limits of one WebSocket, as checks its server calls at each step (ws-server.ts):
 * it patches nothing and listens to nothing. Rules:
 * - **Message rate** ({@link admitMessage}, for every incoming message and ping
 *   frame): a bucket of `messageBurst` tokens refilled at `messagesPerS`; with none
 *   left the socket is closed with 4429 "Too many requests: …". Synchronous (not
 *   rate-limiter-flexible, whose memory limiter answers with a promise), so a
 *   message over the limit is dropped before graphql-ws sees it.
 * - **Subscription cap** ({@link admitOperation}, from graphql-ws's `onSubscribe`):
 *   more than `maxSubscriptions` operations running closes it with 4429.
 * - **Unread bytes** ({@link admitFrame}, before each frame is written): while ws's
 *   `bufferedAmount` is at most `maxBufferedBytes` a frame may be queued; above it
 *   nothing more is sent and the socket is closed with 1013 "Try Again Later". The
 *   queued memory is so bounded by `maxBufferedBytes` plus one frame.
 * - **Oversized frames**: ws closes them with 1009 itself (`maxPayload`);
 *   {@link socketError} only reports them.
 * Once a limit closed the socket every check answers false (nothing more in or
 * out), and the socket is cut with `terminate()` if the close handshake has not
 * completed within 5 s ({@link closed} stops that). `onLimit` is told each limit
 * close once (metrics, log).
 */
export class SocketGuard {
  /** Whether a limit has closed the socket. */
  limited = false;
  private tokens: number;
  /** When {@link tokens} was last refilled, ms since the epoch. */
  private refilledAt = Date.now();
  private cut: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly limits: SocketLimits,
    private readonly onLimit: (reason: LimitReason) => void,
  ) {
    this.tokens = limits.messageBurst;
  }

  /**
   * Takes a token for one incoming message or ping frame. False when the message
   * must be dropped: the socket was closed by a limit, or is now (4429, message_rate).
   */
  admitMessage(): boolean {
    if (this.limited) return false;
    const now = Date.now();
    this.tokens = Math.min(this.limits.messageBurst, this.tokens + ((now - this.refilledAt) / 1000) * this.limits.messagesPerS);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    const { messageBurst, messagesPerS } = this.limits;
    this.closeFor(
      CLOSE_TOO_MANY_REQUESTS,
      `Too many requests: more than ${messageBurst} messages at once or ${messagesPerS} per second`,
      "message_rate",
    );
    return false;
  }

  /**
   * Checks the subscription cap, where `active` is the number of the socket's
   * operations including the new one (graphql-ws: `Object.keys(ctx.subscriptions).length`
   * in `onSubscribe`). Over `maxSubscriptions` the socket is closed with 4429
   * "Too many requests: …" and false is returned (the operation must not run).
   */
  admitOperation(active: number): boolean {
    if (active <= this.limits.maxSubscriptions) return true;
    this.closeFor(
      CLOSE_TOO_MANY_REQUESTS,
      `Too many requests: more than ${this.limits.maxSubscriptions} subscriptions on one socket`,
      "subscriptions",
    );
    return false;
  }

  /**
   * Whether one more outgoing frame may be queued. False once a limit closed the
   * socket, or when more than `maxBufferedBytes` are unread: then the socket is
   * closed with 1013 "Try again later: …" (slow_consumer) and nothing more is sent.
   */
  admitFrame(): boolean {
    if (this.limited) return false;
    if (this.socket.bufferedAmount <= this.limits.maxBufferedBytes) return true;
    this.closeFor(CLOSE_TRY_AGAIN_LATER, `Try again later: more than ${this.limits.maxBufferedBytes} bytes unread`, "slow_consumer");
    return false;
  }

  /**
   * Reports a ws `error` event of the socket: a frame above `maxPayload` (ws has
   * closed it with 1009) counts as payload_too_large. True for that one, false for
   * any other error.
   */
  socketError(err: Error & { code?: string }): boolean {
    if (err.code !== "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") return false;
    this.onLimit("payload_too_large");
    return true;
  }

  /** The socket has closed: the cut after a limit's grace period is no longer needed. */
  closed(): void {
    clearTimeout(this.cut);
  }

  /** Closes the socket for `reason` (once), and cuts it after {@link CLOSE_GRACE_MS} if the handshake has not ended. */
  private closeFor(code: number, message: string, reason: LimitReason): void {
    if (this.limited) return;
    this.limited = true;
    this.onLimit(reason);
    this.socket.close(code, message);
    this.cut = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }
}
