import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type DocumentNode, type ExecutionArgs, type ExecutionResult, type execute, type FormattedExecutionResult, GraphQLError, type subscribe } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { usePrometheus } from "@graphql-yoga/plugin-prometheus";
import { createFetch } from "@whatwg-node/fetch";
import { createYoga, maskError } from "graphql-yoga";
import { WebSocket, WebSocketServer } from "ws";
import { serveAttachment } from "./attachments/http.js";
import type { Viewer } from "./auth/sessions.js";
import { type App, makeContext } from "./context.js";
import { Withdrawn } from "./db/admission.js";
import { isDatabaseUnavailable } from "./db/errors.js";
import { markPothosValidation, rateLimited, serviceUnavailable } from "./errors.js";
import { serveHealth } from "./health.js";
import { refuseLargeBody } from "./limits/body-size.js";
import { clientIpOf } from "./limits/client-ip.js";
import { queryLimitPlugins } from "./limits/query-limits.js";
import { rateLimitPlugins } from "./limits/rate-limits.js";
import { admitSubscription, CLOSE_TRY_AGAIN_LATER, guardSocket, type LimitReason, type SocketLimits } from "./limits/socket-guard.js";
import { requestContext, requestIdOf } from "./request-context.js";
import { isRedisUnavailable } from "./realtime/pubsub.js";
import { useSharedSubscriptionExecution } from "./realtime/shared-execution.js";
import { payloadReplacer, sharedPayload, spliceSharedJson } from "./realtime/shared-json.js";
import { type SessionRevokedPayload, topics } from "./realtime/topics.js";
import { schema } from "./schema/index.js";
import { corsFor } from "./security/cors.js";
import { CSRF_HEADER, useCsrfPrevention } from "./security/csrf.js";
import { useRequestParseErrors } from "./security/request-parse.js";
import { refuseServerMessages } from "./security/ws-messages.js";

/** WebSocket close code for a refused `connection_init` (graphql-ws: Forbidden). */
export const CLOSE_FORBIDDEN = 4403;

/** How long shutdown waits for in-flight HTTP requests before closing their connections, in ms. */
const HTTP_DRAIN_MS = 5000;

/** Per-socket state kept on graphql-ws's `extra`. */
type SocketState = {
  viewer?: Viewer;
  connectionId?: string;
  /** The client's IP, read once from the upgrade request (limits/client-ip.ts). */
  clientIp?: string;
};

/** The yoga context seed of a WebSocket operation (HTTP operations get yoga's `request`). */
interface WsSeed {
  wsViewer: Viewer;
  wsClientIp: string;
  /** The operation's socket: what waits for database admission is dropped once it closes (context.ts stillWanted). */
  wsSocket: WebSocket;
}

/**
 * The HTTP server, all on `/graphql`: GraphQL over HTTP and over SSE (graphql-yoga;
 * `Authorization: Bearer <accessToken>` header), GraphiQL for browsers (GET), and
 * GraphQL over WebSocket (graphql-ws, `graphql-transport-ws`). WebSocket clients
 * authenticate once in `connection_init` with `{ "authorization": "Bearer <accessToken>" }`
 * (key in any case); a missing, bad or expired token closes the socket with 4403
 * and a reason, a database outage while checking it with 1013 (retry later).
 * Each authenticated socket counts toward its user's presence. When its session
 * ends (logout, revokeSession, refresh-token reuse; on any node) the socket is
 * closed with 4403 too. Abuse limits per socket (limits/socket-guard.ts,
 * config WS_*): frames above WS_MAX_PAYLOAD_BYTES close it with 1009, no
 * `connection_init` within WS_CONNECTION_INIT_TIMEOUT_MS with 4408, a second one
 * with 4429, a message flood or too many subscriptions with 4429, a client that
 * leaves WS_MAX_BUFFERED_BYTES unread with 1013.
 */
export function makeServer(app: App): { server: Server; close(): Promise<void> } {
  const yoga = createYoga<WsSeed | Record<string, never>>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // GraphiQL from the installed package (no CDN). Its subscriptions use
    // GraphQL over SSE, which carries the Authorization header from the Headers
    // tab; GraphiQL does not put headers into graphql-ws' connection_init.
    renderGraphiQL,
    // GraphiQL sends the CSRF header with every request (security/csrf.ts)
    graphiql: { subscriptionsProtocol: "SSE", title: "Chat GraphQL", additionalHeaders: { [CSRF_HEADER]: "graphiql" } },
    cors: corsFor(app.config.CORS_ORIGINS),
    // multipart uploads (uploadAttachment): one file, at most MAX_ATTACHMENT_BYTES; larger ones get 413
    fetchAPI: createFetch({ formDataLimits: { fileSize: app.config.MAX_ATTACHMENT_BYTES, files: 1, fieldSize: 1024 * 1024 } }),
    logging: app.logger.child({ component: "yoga" }),
    plugins: [
      useCsrfPrevention(),
      useRequestParseErrors(),
      // GET /metrics: Yoga's GraphQL metrics and ours (metrics.ts); the HTTP histogram is off, its url label would explode
      usePrometheus({ registry: app.metrics.registry, endpoint: "/metrics", metrics: { graphql_yoga_http_duration: false } }),
      app.metrics.subscriptionsPlugin(),
      ...(app.config.SUBSCRIPTION_SHARING === "on" ? [useSharedSubscriptionExecution(app.metrics)] : []),
      // src/limits/: query depth, cost, aliases, directives, tokens, introspection; rate limits of mutations
      ...queryLimitPlugins(app.config),
      ...rateLimitPlugins(app),
    ],
    context: async (seed) => {
      if ("wsViewer" in seed) return makeContext(app, seed.wsViewer, seed.wsClientIp, false, seed.wsSocket);
      const { request, req } = seed as unknown as { request: Request; req: IncomingMessage };
      const authorization = request.headers.get("authorization");
      const viewer = await app.sessions.authenticate(authorization);
      return makeContext(app, viewer, clientIpOf(req, app.config.TRUST_PROXY), authorization !== null && viewer === null);
    },
    maskedErrors: {
      maskError: (error, message, isDev) => {
        if (error instanceof GraphQLError && markPothosValidation(error)) return error;
        const original = (error as { originalError?: unknown }).originalError;
        // PostgreSQL (or Redis) down, restarting or too slow: retryable (Yoga logs the original, as it does every error it replaces).
        // In a resolver it comes wrapped (originalError); from the context factory (authentication) bare.
        const at = error instanceof GraphQLError ? error : undefined;
        if (isDatabaseUnavailable(original ?? error)) return serviceUnavailable(at);
        if (isRedisUnavailable(original ?? error)) return serviceUnavailable(at, "Realtime service");
        // a subscription whose socket closed while it waited to start (db/admission.ts): nobody gets this, nothing to log
        if (original instanceof Withdrawn) return maskError(error, message, isDev);
        if (original && !(original instanceof Error && original.name === "GraphQLError")) {
          app.logger.error({ err: original }, "unexpected error in resolver");
        }
        return maskError(error, message, isDev);
      },
    },
  });

  /** /health and /ready, attachment downloads, and everything else to Yoga (/graphql). */
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    if (await serveHealth(app, req, res)) return;
    if (await serveAttachment(app.attachmentUrls, app.attachments, req, res)) return;
    if (await refuseLargeBody(req, res, app.config.MAX_BODY_BYTES)) return;
    await yoga(req, res);
  };
  const server = createServer((req, res) => {
    const requestId = requestIdOf(req.headers["x-request-id"], randomUUID);
    res.setHeader("x-request-id", requestId);
    requestContext.run({ requestId }, () =>
      route(req, res).catch((err) => {
        app.logger.error({ err }, "request failed");
        if (!res.headersSent) res.writeHead(500).end();
      }),
    );
  });
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: app.config.WS_MAX_PAYLOAD_BYTES });
  const log = app.logger.child({ component: "ws" });

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
  // registered before useServer's own listener, so the guard sees each socket first
  wss.on("connection", (socket) => {
    guardSocket(socket, limits, onLimit);
    // outside the guard's send: a frame is whole before the guard measures and queues it
    spliceSharedJson(socket);
  });

  // session id → this node's open sockets of that session, closed when it is revoked anywhere
  const sessionSockets = new Map<string, Set<WebSocket>>();
  const revokedSubscription = app.pubsub.subscribe(topics.sessionRevoked, ({ sessionId }: SessionRevokedPayload) => {
    for (const socket of sessionSockets.get(sessionId) ?? []) socket.close(CLOSE_FORBIDDEN, "Forbidden: session ended");
  }, {});

  useServer<Record<string, unknown> | undefined, SocketState>(
    {
      connectionInitWaitTimeout: app.config.WS_CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        // admitted (db/admission.ts): a reconnect storm's session checks wait their turn instead of filling the pool
        // ahead of writes, and are dropped for sockets that closed meanwhile
        const socket = ctx.extra.socket;
        const viewer = await app.admission.run(() => app.sessions.authenticate(authorizationOf(ctx.connectionParams)), () => socket.readyState === WebSocket.OPEN).catch((err: unknown) => {
          if (err instanceof Withdrawn) return undefined;
          if (!isDatabaseUnavailable(err)) throw err;
          // 1013, which graphql-ws clients retry; an exception would close with 4500, which they do not
          ctx.extra.socket.close(CLOSE_TRY_AGAIN_LATER, serviceUnavailable().message);
          return undefined;
        });
        if (viewer === undefined) return false;
        if (!viewer) {
          ctx.extra.socket.close(CLOSE_FORBIDDEN, "Forbidden: missing, invalid or expired access token");
          return false;
        }
        // the client went while its token was checked: nothing to register (onClose has run, or runs with nothing to undo)
        if (ctx.extra.socket.readyState !== WebSocket.OPEN) return false;
        ctx.extra.viewer = viewer;
        ctx.extra.connectionId = randomUUID();
        ctx.extra.clientIp = clientIpOf(ctx.extra.request, app.config.TRUST_PROXY);
        forgetHandshake(ctx);
        app.metrics.connections.inc();
        const sockets = sessionSockets.get(viewer.sessionId) ?? new Set();
        sessionSockets.set(viewer.sessionId, sockets.add(ctx.extra.socket));
        await app.presence.connected(viewer.userId, ctx.extra.connectionId).catch((err) => log.error({ err }, "presence connect failed"));
        return true;
      },
      // a client sending server-only messages gets 4400, not 4500 (security/ws-messages.ts)
      jsonMessageReviver: refuseServerMessages,
      // a shared subscription result is serialized once for all its sockets (realtime/shared-json.ts)
      jsonMessageReplacer: payloadReplacer,
      onNext: (_ctx, _id, _payload, _args, result) => sharedPayload(result as ExecutionResult) as FormattedExecutionResult | undefined,
      // onClose, not onDisconnect: graphql-ws skips onDisconnect for a socket that closed before onConnect returned,
      // and what onConnect registered (above, synchronously once the socket is known open) must go with any socket
      onClose: async (ctx) => {
        const { viewer, connectionId } = ctx.extra;
        const sockets = viewer && sessionSockets.get(viewer.sessionId);
        if (sockets?.delete(ctx.extra.socket) && sockets.size === 0) sessionSockets.delete(viewer!.sessionId);
        if (viewer && connectionId) {
          app.metrics.connections.dec();
          await app.presence.disconnected(viewer.userId, connectionId).catch((err) => log.error({ err }, "presence disconnect failed"));
        }
      },
      execute: (args) => inRequest(args, (root) => root.execute(args)),
      subscribe: (args) => inRequest(args, (root) => root.subscribe(args)),
      onSubscribe: (ctx, id, params) => {
        // ctx.subscriptions already holds the new operation's id
        if (!admitSubscription(ctx.extra.socket, Object.keys(ctx.subscriptions).length, limits, onLimit)) return [rateLimited(undefined, "Too many subscriptions on one socket")];
        const seed: WsSeed = { wsViewer: ctx.extra.viewer!, wsClientIp: ctx.extra.clientIp!, wsSocket: ctx.extra.socket };
        return requestContext.run({ requestId: `${ctx.extra.connectionId}/${id}` }, () => prepare(seed, params));
      },
    },
    wss,
  );

  /**
   * Parses, validates and builds the execution of one WebSocket operation (graphql-ws
   * onSubscribe); a document that does not parse (or has too many tokens) is answered
   * with its GraphQLError, like one that does not validate, instead of closing the socket.
   */
  async function prepare(seed: WsSeed, params: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null }) {
    const enveloped = yoga.getEnveloped(seed);
    let document: DocumentNode;
    try {
      document = enveloped.parse(params.query);
    } catch (err) {
      if (err instanceof GraphQLError) return withoutHttp([err]);
      throw err;
    }
    const errors = enveloped.validate(enveloped.schema, document);
    if (errors.length > 0) return withoutHttp(errors);
    const root: OperationRoot = { execute: enveloped.execute, subscribe: enveloped.subscribe, requestId: requestContext.getStore()!.requestId };
    const args: ExecutionArgs = {
      schema: enveloped.schema,
      operationName: params.operationName,
      document,
      variableValues: params.variables,
      contextValue: await enveloped.contextFactory(),
      rootValue: root,
    };
    return args;
  }

  return {
    server,
    close: async () => {
      app.pubsub.unsubscribe(await revokedSubscription);
      // 1001 Going Away: clients reconnect (to another node behind the balancer)
      for (const socket of wss.clients) socket.close(1001, "Server shutting down");
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      // let in-flight HTTP requests finish; cut what is left (SSE streams) after the grace period
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), HTTP_DRAIN_MS).unref();
      });
    },
  };
}

/** The `authorization` entry of a connection_init payload, whatever its case (`Authorization` too). */
function authorizationOf(payload: Record<string, unknown> | undefined): string | undefined {
  const key = Object.keys(payload ?? {}).find((k) => k.toLowerCase() === "authorization");
  const value = key ? payload![key] : undefined;
  return typeof value === "string" ? value : undefined;
}

/**
 * Lets go of what graphql-ws keeps of a socket's handshake for the socket's whole
 * life though nothing reads it after `onConnect`: the upgrade request (its headers,
 * about 1 KB per connection) and the connection_init payload (the access token).
 */
function forgetHandshake(ctx: { extra: object; connectionParams?: unknown }): void {
  (ctx.extra as { request?: unknown }).request = undefined;
  (ctx as { connectionParams?: unknown }).connectionParams = undefined;
}

/** `errors` without Yoga's HTTP status hints (`extensions.http`), which are not for WebSocket clients. */
function withoutHttp(errors: readonly GraphQLError[]): readonly GraphQLError[] {
  for (const error of errors) delete (error.extensions as { http?: unknown }).http;
  return errors;
}

/** The root value graphql-ws hands back to execute/subscribe: Yoga's enveloped functions and the operation's request id. */
type OperationRoot = { execute: typeof execute; subscribe: typeof subscribe; requestId: string };

/** Runs an operation's execute or subscribe inside its request context, so its log lines carry its request id. */
function inRequest<T>(args: ExecutionArgs, run: (root: OperationRoot) => T): T {
  const root = args.rootValue as OperationRoot;
  return requestContext.run({ requestId: root.requestId }, () => run(root));
}
