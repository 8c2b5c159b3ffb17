import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import { type DocumentNode, type ExecutionArgs, type execute, GraphQLError, type subscribe } from "graphql";
import { CloseCode, handleProtocols, makeServer as makeProtocol, type Context as ProtocolContext, type SubscribePayload } from "graphql-ws";
import type { YogaServerInstance } from "graphql-yoga";
import { WebSocket, WebSocketServer } from "ws";
import type { Viewer } from "./auth/sessions.js";
import type { App, Context } from "./context.js";
import { Withdrawn } from "./db/admission.js";
import { isDatabaseUnavailable } from "./db/errors.js";
import { rateLimited, serviceUnavailable } from "./errors.js";
import { clientIpOf } from "./limits/client-ip.js";
import { CLOSE_TRY_AGAIN_LATER, type LimitReason, SocketGuard, type SocketLimits } from "./limits/socket-guard.js";
import type { FanoutRoot, FanoutSocket } from "./realtime/fanout.js";
import { type PayloadSlot, sharedPayload, spliceSharedJson } from "./realtime/shared-json.js";
import { type SessionRevokedPayload, topics } from "./realtime/topics.js";
import { requestContext } from "./request-context.js";
import type { TrustedDocuments } from "./security/trusted-documents.js";
import { refuseServerMessages } from "./security/ws-messages.js";

/**
 * How often each socket is pinged, and how long its pong may take before the socket
 * is cut (`terminate()`), in ms: graphql-ws's `use/ws` default, which this replaces.
 */
const KEEPALIVE_MS = 12_000;

/** The yoga context seed of a WebSocket operation (HTTP operations get yoga's `request`): server.ts's context factory reads it. */
export interface WsSeed {
  wsViewer: Viewer;
  wsClientIp: string;
  /** The operation's socket: what waits for database admission is dropped once it closes (realtime/room-streams.ts). */
  wsSocket: WebSocket;
}

/** What the WebSocket side needs of the server's Yoga: its envelop (parse, validate, context, execute, subscribe) and path. */
export type WsYoga = Pick<YogaServerInstance<WsSeed | Record<string, never>, Context>, "getEnveloped" | "graphqlEndpoint">;

/** The `connection_init` payload: `{ "authorization": "Bearer <accessToken>" }`, key in any case. */
type ConnectionParams = Record<string, unknown>;

/** One socket, as every graphql-ws hook sees it (`ctx.extra`). */
interface Connection {
  readonly socket: WebSocket;
  /** The client's IP, read from the upgrade request (limits/client-ip.ts). */
  readonly clientIp: string;
  readonly guard: SocketGuard;
  /** Where the message being sent leaves a shared payload's JSON for the frame write (realtime/shared-json.ts). */
  readonly payload: PayloadSlot;
  /** Writes one frame: nothing on a socket that is not open, 1013 past the unread-bytes bound (step 4 of serveSocket). */
  readonly write: (frame: string) => void;
  /** Set once `connection_init` is accepted. */
  viewer?: Viewer;
  connectionId?: string;
}

/** The WebSocket side of a node, once {@link serveWebSockets} has attached it. */
export interface WebSocketEndpoint {
  /**
   * Shutdown: stops closing revoked sessions' sockets, closes every socket with
   * 1001 Going Away (clients reconnect, to another node behind the balancer) and
   * resolves once they have all closed. Leaves the HTTP server to its owner.
   */
  close(): Promise<void>;
}

/**
 * GraphQL over WebSocket (graphql-ws's `graphql-transport-ws` protocol, its
 * `makeServer` core with our own `ws` binding) on `yoga.graphqlEndpoint` of `server`.
 * Operations go through Yoga's envelop (`yoga.getEnveloped`: the same parse,
 * validation limits, context, plugins and rate limits as HTTP), after `documents`
 * (security/trusted-documents.ts) has given the text to parse: Yoga's envelop has
 * no `onParams`, where its persisted-operations plugin works over HTTP.
 *
 * Clients authenticate once, in `connection_init`, with `{ "authorization": "Bearer <accessToken>" }`
 * (key in any case). Close codes a client can see (graphql-ws `CloseCode` where it has one):
 * - 4403 Forbidden: a missing, bad or expired token at `connection_init`, or the
 *   socket's session ended (logout, revokeSession, refresh-token reuse; on any node);
 * - 1013 Try Again Later: PostgreSQL unavailable while checking the token, or the
 *   client left more than WS_MAX_BUFFERED_BYTES unread (graphql-ws clients retry);
 * - 4429 (TooManyInitialisationRequests): a second `connection_init`, a message flood
 *   (WS_MESSAGE_BURST, WS_MESSAGES_PER_S) or more than WS_MAX_SUBSCRIPTIONS operations;
 * - 4408 ConnectionInitialisationTimeout: no `connection_init` within WS_CONNECTION_INIT_TIMEOUT_MS;
 * - 4400 BadRequest: a malformed message, or one only servers send (security/ws-messages.ts);
 * - 4401 Unauthorized, 4409 SubscriberAlreadyExists, 4406 SubprotocolNotAcceptable: graphql-ws's protocol rules;
 * - 1009 Message Too Big: a frame above WS_MAX_PAYLOAD_BYTES (ws);
 * - 4500 InternalServerError: a bug (logged at error level);
 * - 1001 Going Away: shutdown ({@link WebSocketEndpoint.close}).
 * No pong within 12 s of a ping (sent every 12 s) and the socket is cut without a close frame (1006).
 * Each authenticated socket counts toward its user's presence (realtime/presence.ts)
 * and in `chat_websocket_connections`; limit closes count in `chat_ws_closed_total{reason}`.
 * The log has a line when a socket is accepted and one when any socket closes, with its code.
 */
export function serveWebSockets(app: App, server: Server, yoga: WsYoga, documents: Pick<TrustedDocuments, "queryOf">): WebSocketEndpoint {
  const log = app.logger.child({ component: "ws" });
  const isProd = app.config.NODE_ENV === "production";
  const limits: SocketLimits = {
    messageBurst: app.config.WS_MESSAGE_BURST,
    messagesPerS: app.config.WS_MESSAGES_PER_S,
    maxBufferedBytes: app.config.WS_MAX_BUFFERED_BYTES,
    maxSubscriptions: app.config.WS_MAX_SUBSCRIPTIONS,
  };
  const onLimit = (reason: LimitReason) => {
    app.metrics.wsClosed.inc({ reason });
    log.warn({ reason }, "WebSocket closed by a limit");
  };

  // session id → this node's open sockets of that session, closed when it is revoked anywhere
  const sessions = new SessionSockets();
  const revokedSubscription = app.pubsub.subscribe(
    topics.sessionRevoked,
    ({ sessionId }: SessionRevokedPayload) => sessions.close(sessionId),
    {},
  );

  const protocol = makeProtocol<ConnectionParams, Connection>({
    connectionInitWaitTimeout: app.config.WS_CONNECTION_INIT_TIMEOUT_MS,
    // a client sending server-only messages gets 4400, not 4500 (security/ws-messages.ts)
    jsonMessageReviver: refuseServerMessages,
    onConnect: authenticate,
    // onClose, not onDisconnect: graphql-ws skips onDisconnect for a socket that closed before onConnect returned,
    // and what onConnect registered (synchronously once the socket is known open) must go with any socket
    onClose: (ctx) => forget(ctx.extra),
    onSubscribe: (ctx, id, params) => {
      // ctx.subscriptions already holds the new operation's id
      if (!ctx.extra.guard.admitOperation(Object.keys(ctx.subscriptions).length))
        return [rateLimited(undefined, "Too many subscriptions on one socket")];
      const seed: WsSeed = { wsViewer: ctx.extra.viewer!, wsClientIp: ctx.extra.clientIp, wsSocket: ctx.extra.socket };
      return requestContext.run({ requestId: `${ctx.extra.connectionId}/${id}` }, () =>
        prepare(seed, params, { id, write: ctx.extra.write }),
      );
    },
    // a shared subscription result is serialized once for all its sockets (realtime/shared-json.ts)
    onNext: (ctx, _id, _payload, _args, result) => sharedPayload(result, ctx.extra.payload),
    execute: (args) => inRequest(args, (root) => root.execute(args)),
    subscribe: (args) => inRequest(args, (root) => root.subscribe(args)),
  });

  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: app.config.WS_MAX_PAYLOAD_BYTES, handleProtocols });
  wss.on("connection", serveSocket);
  // the HTTP server's errors reach us through ws; its sockets cannot be trusted after one.
  // Not its listen errors (EADDRINUSE…): there are no sockets yet, and the server's owner handles them (main.ts)
  wss.on("error", (err) => {
    if ((err as NodeJS.ErrnoException).syscall === "listen") return;
    log.error({ err }, "WebSocket server error");
    for (const socket of wss.clients) closeForBug(socket, err);
  });

  /**
   * Serves one upgraded socket, from its first frame to its close, in these steps:
   * 1. keepalive: a ping every {@link KEEPALIVE_MS}; no pong by the next one and it is cut;
   * 2. incoming: each message and ping frame takes a token of the socket guard's
   *    message rate (limits/socket-guard.ts: over it, 4429 and the message dropped),
   *    then the message goes to graphql-ws; an exception there is a bug: 4500;
   *    a frame above WS_MAX_PAYLOAD_BYTES is closed by ws (1009) and counted;
   * 3. protocol: graphql-ws's `opened` with this socket as its `WebSocket`; its
   *    hooks authenticate at `connection_init` and register the socket with its
   *    session and presence ({@link authenticate}), cap the socket's operations and
   *    prepare each through Yoga (`onSubscribe`), and hand shared results over as
   *    JSON serialized once (`onNext`);
   * 4. outgoing, each frame graphql-ws sends: a shared payload's JSON spliced in,
   *    the guard's bound on unread bytes (over it: 1013, nothing more sent), the
   *    write; the frame counts as sent once queued, so a subscription drains its
   *    stream into the socket's buffer (bounded) rather than its own queue (unbounded).
   *    Fan-out groups (realtime/fanout.ts) write their `next` frames through the same
   *    bound, past graphql-ws;
   * 5. close: logged at info level ("WebSocket closed": its close code, how long it was
   *    open in ms, and its user and connection ids if it was accepted), timers stopped,
   *    then graphql-ws ends the socket's operations and `onClose` undoes the
   *    registration ({@link forget}).
   */
  function serveSocket(socket: WebSocket, request: IncomingMessage): void {
    const openedAt = Date.now();
    const guard = new SocketGuard(socket, limits, onLimit);
    // 4. outgoing: graphql-ws's frames (below) and those fan-out groups write themselves (realtime/fanout.ts)
    const write = (frame: string) => {
      if (socket.readyState !== WebSocket.OPEN || !guard.admitFrame()) return;
      socket.send(frame);
    };
    const conn: Connection = { socket, clientIp: clientIpOf(request, app.config.TRUST_PROXY), guard, payload: {}, write };

    // 1. keepalive
    let ponged = true;
    const keepalive = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      if (!ponged) return socket.terminate();
      ponged = false;
      socket.ping();
    }, KEEPALIVE_MS);
    socket.on("pong", () => (ponged = true));

    // 2. incoming
    let receive: ((message: string) => Promise<void>) | undefined;
    socket.on("message", (data) => {
      if (!guard.admitMessage()) return;
      receive?.(String(data)).catch((err: unknown) => {
        log.error({ err }, "WebSocket message handling failed");
        closeForBug(socket, err);
      });
    });
    socket.on("ping", () => guard.admitMessage());
    socket.on("error", (err) => {
      // ws has closed the socket already, with the code of its error (1009, 1002, 1007…): the client's fault
      if (!guard.socketError(err)) log.warn({ err }, "WebSocket protocol error");
    });

    // 3. protocol
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        // 4. outgoing
        send: (frame) => write(spliceSharedJson(frame, conn.payload)),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handler) => (receive = handler),
      },
      conn,
    );

    // 5. close
    socket.once("close", (code, reason) => {
      // the reason is not logged: a client may put anything there
      log.info(
        { code, durationMs: Date.now() - openedAt, userId: conn.viewer?.userId, connectionId: conn.connectionId },
        "WebSocket closed",
      );
      clearInterval(keepalive);
      guard.closed();
      closed(code, String(reason)).catch((err: unknown) => log.error({ err }, "WebSocket cleanup failed"));
    });
  }

  /**
   * graphql-ws's `onConnect`: checks the access token of `connection_init`. A valid
   * one registers the socket (session registry, presence, connection gauge), is
   * logged at info level ("WebSocket connected", with the user and the connection id
   * the socket's request ids start with) and returns true (acknowledged); else the
   * socket is closed, with 4403 for a missing, bad or expired token or 1013 when
   * PostgreSQL cannot answer, and false is returned.
   * @throws what authentication throws besides a database outage (graphql-ws: 4500).
   */
  async function authenticate(ctx: ProtocolContext<ConnectionParams, Connection>): Promise<boolean> {
    const conn = ctx.extra;
    // admitted (db/admission.ts): a reconnect storm's session checks wait their turn instead of filling the pool
    // ahead of writes, and are dropped for sockets that closed meanwhile
    const authenticated = () => app.sessions.authenticate(authorizationOf(ctx.connectionParams), { fresh: true });
    const viewer = await app.admission
      .run(authenticated, () => conn.socket.readyState === WebSocket.OPEN)
      .catch((err: unknown) => {
        if (err instanceof Withdrawn) return undefined;
        if (!isDatabaseUnavailable(err)) throw err;
        // 1013, which graphql-ws clients retry; an exception would close with 4500, which they do not
        conn.socket.close(CLOSE_TRY_AGAIN_LATER, serviceUnavailable().message);
        return undefined;
      });
    if (viewer === undefined) return false;
    if (!viewer) {
      conn.socket.close(CloseCode.Forbidden, "Forbidden: missing, invalid or expired access token");
      return false;
    }
    // the client went while its token was checked: nothing to register (onClose has run, or runs with nothing to undo)
    if (conn.socket.readyState !== WebSocket.OPEN) return false;
    conn.viewer = viewer;
    conn.connectionId = randomUUID();
    // graphql-ws would keep the connection_init payload (the access token) for the socket's whole life
    (ctx as { connectionParams?: unknown }).connectionParams = undefined;
    app.metrics.connections.inc();
    log.info({ userId: viewer.userId, connectionId: conn.connectionId }, "WebSocket connected");
    sessions.add(viewer.sessionId, conn.socket);
    await app.presence.connected(viewer.userId, conn.connectionId).catch((err) => log.error({ err }, "presence connect failed"));
    return true;
  }

  /** graphql-ws's `onClose`: undoes what {@link authenticate} registered, if it did. */
  async function forget(conn: Connection): Promise<void> {
    const { viewer, connectionId } = conn;
    if (!viewer || !connectionId) return;
    sessions.delete(viewer.sessionId, conn.socket);
    app.metrics.connections.dec();
    await app.presence.disconnected(viewer.userId, connectionId).catch((err) => log.error({ err }, "presence disconnect failed"));
  }

  /**
   * Parses, validates and builds the execution of one WebSocket operation (graphql-ws
   * onSubscribe): its text, or the trusted document its hash names (`documents`);
   * a refused hash or text, or a document that does not parse (or has too many tokens),
   * is answered with its GraphQLError, like one that does not validate, instead of closing the socket.
   * `socket`: the operation's id and its socket's frame write, for a fan-out group to write with.
   */
  async function prepare(
    seed: WsSeed,
    params: SubscribePayload,
    socket: Pick<FanoutSocket, "id" | "write">,
  ): Promise<ExecutionArgs | readonly GraphQLError[]> {
    const enveloped = yoga.getEnveloped(seed);
    let document: DocumentNode;
    try {
      document = enveloped.parse(await documents.queryOf(params));
    } catch (err) {
      if (err instanceof GraphQLError) return withoutHttp([err]);
      throw err;
    }
    const errors = enveloped.validate(enveloped.schema, document);
    if (errors.length > 0) return withoutHttp(errors);
    const execute = enveloped.execute as OperationRoot["execute"];
    const root: OperationRoot = {
      execute,
      subscribe: enveloped.subscribe,
      requestId: requestContext.getStore()!.requestId,
      fanout: { ...socket, execute },
    };
    return {
      schema: enveloped.schema,
      operationName: params.operationName,
      document,
      variableValues: params.variables,
      contextValue: await enveloped.contextFactory(),
      rootValue: root,
    };
  }

  /** Closes `socket` with 4500 after `err` (a bug: ours or graphql-ws's); the reason names `err` outside production. */
  function closeForBug(socket: WebSocket, err: unknown): void {
    const detail = err instanceof Error ? err.message : String(err);
    // a close reason is at most 123 bytes (RFC 6455 §5.5)
    socket.close(CloseCode.InternalServerError, isProd || Buffer.byteLength(detail) > 123 ? "Internal server error" : detail);
  }

  return {
    close: async () => {
      app.pubsub.unsubscribe(await revokedSubscription);
      for (const socket of wss.clients) socket.close(1001, "Server shutting down");
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** This node's open sockets by session id, so that a session's sockets close when it ends (on any node). */
class SessionSockets {
  private readonly bySession = new Map<string, Set<WebSocket>>();

  /** Remembers `socket` as one of session `sessionId`'s. */
  add(sessionId: string, socket: WebSocket): void {
    const sockets = this.bySession.get(sessionId) ?? new Set();
    this.bySession.set(sessionId, sockets.add(socket));
  }

  /** Forgets `socket` (closed); the session's entry goes with its last socket. */
  delete(sessionId: string, socket: WebSocket): void {
    const sockets = this.bySession.get(sessionId);
    if (sockets?.delete(socket) && sockets.size === 0) this.bySession.delete(sessionId);
  }

  /** Closes every socket of session `sessionId` on this node with 4403 (graphql-ws `CloseCode.Forbidden`). */
  close(sessionId: string): void {
    for (const socket of this.bySession.get(sessionId) ?? []) socket.close(CloseCode.Forbidden, "Forbidden: session ended");
  }
}

/** The `authorization` entry of a connection_init payload, whatever its case (`Authorization` too). */
function authorizationOf(payload: Readonly<ConnectionParams> | undefined): string | undefined {
  const key = Object.keys(payload ?? {}).find((k) => k.toLowerCase() === "authorization");
  const value = key ? payload![key] : undefined;
  return typeof value === "string" ? value : undefined;
}

/** `errors` without Yoga's HTTP status hints (`extensions.http`), which are not for WebSocket clients. */
function withoutHttp(errors: readonly GraphQLError[]): readonly GraphQLError[] {
  for (const error of errors) delete (error.extensions as { http?: unknown }).http;
  return errors;
}

/**
 * The root value graphql-ws hands back to execute/subscribe: Yoga's enveloped functions, the operation's
 * request id, and what a fan-out group needs to write the operation's frames (realtime/fanout.ts).
 */
type OperationRoot = { execute: typeof execute; subscribe: typeof subscribe; requestId: string } & Required<FanoutRoot>;

/** Runs an operation's execute or subscribe inside its request context, so its log lines carry its request id. */
function inRequest<T>(args: ExecutionArgs, run: (root: OperationRoot) => T): T {
  const root = args.rootValue as OperationRoot;
  return requestContext.run({ requestId: root.requestId }, () => run(root));
}
