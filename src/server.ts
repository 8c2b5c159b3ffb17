import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { usePrometheus } from "@graphql-yoga/plugin-prometheus";
import { createFetch } from "@whatwg-node/fetch";
import { GraphQLError } from "graphql";
import { createYoga, maskError } from "graphql-yoga";
import { serveAttachment } from "./attachments/http.js";
import { isStoreUnavailable } from "./attachments/store.js";
import { type App, makeContext } from "./context.js";
import { Withdrawn } from "./db/admission.js";
import { isDatabaseUnavailable } from "./db/errors.js";
import { markPothosValidation, serviceUnavailable } from "./errors.js";
import { serveGraphiQL } from "./graphiql.js";
import { serveHealth } from "./health.js";
import { drainable } from "./http-drain.js";
import { refuseLargeBody } from "./limits/body-size.js";
import { clientIpOf } from "./limits/client-ip.js";
import { useQueryLimits } from "./limits/query-limits.js";
import { useRateLimits } from "./limits/rate-limits.js";
import { makeAccessLog } from "./logger.js";
import { useSubscriptionMetrics } from "./metrics.js";
import { useFanoutGroups } from "./realtime/fanout.js";
import { isRedisUnavailable } from "./realtime/pubsub.js";
import { useSharedSubscriptionExecution } from "./realtime/shared-execution.js";
import { requestContext } from "./request-context.js";
import { schema } from "./schema/index.js";
import { corsFor } from "./security/cors.js";
import { useCsrfPrevention } from "./security/csrf.js";
import { useRequestParseErrors } from "./security/request-parse.js";
import { trustedDocuments } from "./security/trusted-documents.js";
import { serveWebSockets, type WsSeed } from "./ws-server.js";

/** How long shutdown waits for in-flight HTTP requests before cutting their connections, in ms. */
const HTTP_DRAIN_MS = 5000;

/**
 * The HTTP server, all on `/graphql`: GraphQL over HTTP and over SSE (graphql-yoga;
 * `Authorization: Bearer <accessToken>` header), GraphiQL for browsers (GET, when
 * GRAPHIQL is on: graphiql.ts), and GraphQL over WebSocket (graphql-ws,
 * `graphql-transport-ws`: ws-server.ts, which describes its authentication, limits
 * and close codes), all through one Yoga, with the trusted-documents rule of
 * GRAPHQL_TRUSTED_DOCUMENTS on both (security/trusted-documents.ts).
 * `close()` is graceful shutdown: WebSockets closed with 1001, then the HTTP server
 * drained (http-drain.ts): SSE streams ended, in-flight requests given 5 s to finish
 * before their connections are cut.
 */
export function makeServer(app: App): { server: Server; close(): Promise<void> } {
  const documents = trustedDocuments(app.config);
  const yoga = createYoga<WsSeed | Record<string, never>>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // served by route below, compressed and cacheable (graphiql.ts)
    graphiql: false,
    cors: corsFor(app.config.CORS_ORIGINS),
    // multipart uploads (uploadAttachment): one file, at most MAX_ATTACHMENT_BYTES; larger ones get 413
    fetchAPI: createFetch({ formDataLimits: { fileSize: app.config.MAX_ATTACHMENT_BYTES, files: 1, fieldSize: 1024 * 1024 } }),
    logging: app.logger.child({ component: "yoga" }),
    plugins: [
      // its onParams first: a refused document goes no further
      documents.plugin,
      useCsrfPrevention(),
      useRequestParseErrors(),
      // GET /metrics: Yoga's GraphQL metrics and ours (metrics.ts); the HTTP histogram is off, its url label would explode
      usePrometheus({ registry: app.metrics.registry, endpoint: "/metrics", metrics: { graphql_yoga_http_duration: false } }),
      useSubscriptionMetrics(app.metrics),
      ...(app.config.SUBSCRIPTION_SHARING !== "off" ? [useSharedSubscriptionExecution(app.metrics)] : []),
      // after it: for the WebSocket room subscriptions it replaces its subscribe (realtime/fanout.ts)
      ...(app.config.SUBSCRIPTION_SHARING === "on" ? [useFanoutGroups(app.metrics, app.tracing)] : []),
      // src/limits/: query depth, cost, aliases, directives, tokens, introspection; rate limits of mutations
      useQueryLimits(app.config),
      useRateLimits(app),
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
        // PostgreSQL, Redis or the attachment bucket down, restarting or too slow: retryable (Yoga logs the original, as it does every error it replaces).
        // In a resolver it comes wrapped (originalError); from the context factory (authentication) bare.
        const at = error instanceof GraphQLError ? error : undefined;
        // the store first: the AWS SDK's socket errors carry the codes isDatabaseUnavailable knows (ECONNREFUSED…)
        if (isStoreUnavailable(original ?? error)) return serviceUnavailable(at, "Attachment storage");
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

  /** /health and /ready, attachment downloads, GraphiQL (or its 404 when GRAPHIQL is off), and everything else to Yoga (/graphql). */
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    if (await serveHealth(app, req, res)) return;
    if (await serveAttachment(app.attachmentUrls, app.attachments, req, res)) return;
    if (await serveGraphiQL(req, res, { endpoint: yoga.graphqlEndpoint, on: app.config.GRAPHIQL === "on" })) return;
    if (await refuseLargeBody(req, res, app.config.MAX_BODY_BYTES)) return;
    await yoga(req, res);
  };
  const accessLog = makeAccessLog(app.logger);
  const server = createServer((req, res) => {
    // gives the request its id (req.id, echoed in x-request-id), and logs it once its response has ended
    accessLog(req, res);
    const serve = () =>
      requestContext.run({ requestId: req.id as string }, () =>
        route(req, res).catch((err) => {
          app.logger.error({ err }, "request failed");
          if (!res.headersSent) res.writeHead(500).end();
        }),
      );
    // a client's traceparent header: its trace continues here (tracing.ts)
    if (app.tracing) app.tracing.continueRequest(req.headers, serve);
    else serve();
  });
  const http = drainable(server);
  const webSockets = serveWebSockets(app, server, yoga, documents);

  return {
    server,
    close: async () => {
      // 1001 Going Away: clients reconnect (to another node behind the balancer)
      await webSockets.close();
      await http.drain(HTTP_DRAIN_MS);
    },
  };
}
