import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { type HttpLogger, pinoHttp } from "pino-http";
import { requestContext, requestIdOf } from "./request-context.js";

/**
 * Makes the process logger: JSON lines (pino), pretty-printed in development.
 * Every line written while serving a request carries its `requestId`
 * (request-context.ts). Authorization headers and token or password fields are
 * redacted wherever they appear. `destination` replaces stdout (tests read it).
 */
export function makeLogger(level: string, pretty: boolean, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    mixin: () => requestContext.getStore() ?? {},
    redact: {
      paths: [
        "req.headers.authorization",
        "*.password",
        "*.currentPassword",
        "*.newPassword",
        "*.token",
        "*.accessToken",
        "*.refreshToken",
        "*.authorization",
      ],
      censor: "[redacted]",
    },
    ...(pretty ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Paths whose requests the access log writes at debug level only: the probes and the metrics scrape, polled every few seconds. */
const QUIET_PATHS = new Set(["/health", "/ready", "/metrics"]);

/** A request URL's path, without its query string (GraphQL documents and variables, an attachment URL's token). */
function pathOf(url: string | undefined): string {
  return (url ?? "/").split("?", 1)[0]!;
}

/** An access-log line's own fields: the request id (which wins over the logger mixin's), the status, the time taken. */
function accessLine(req: IncomingMessage, done: { res: ServerResponse; responseTime: number }) {
  return { requestId: req.id, res: done.res, responseTime: done.responseTime };
}

/**
 * The access log (pino-http), to call first with every HTTP request: one line per
 * request once its response has ended or its client has gone ("request completed",
 * "request aborted", "request errored" for a 5xx), at info level, debug for
 * {@link QUIET_PATHS}:
 * `{ component: "http", req: { method, url }, requestId, res: { statusCode }, responseTime }`,
 * `url` being the path only and `responseTime` in ms. No headers, query strings or
 * bodies, so no tokens. It gives the request its id (`req.id`): the client's
 * `x-request-id` when it is sane, else a new UUID (request-context.ts requestIdOf),
 * echoed in the response's `x-request-id`. WebSocket upgrades do not pass through it:
 * ws-server.ts logs each socket's connection and close.
 */
export function makeAccessLog(logger: Logger): HttpLogger {
  return pinoHttp({
    logger: logger.child({ component: "http" }),
    genReqId: (req, res) => {
      const id = requestIdOf(req.headers["x-request-id"], randomUUID);
      res.setHeader("x-request-id", id);
      return id;
    },
    serializers: {
      // pino-http hands them pino's standard serialization of the request and the response
      req: (req: { method: string; url: string }) => ({ method: req.method, url: pathOf(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (req) => (QUIET_PATHS.has(pathOf(req.url)) ? "debug" : "info"),
    customSuccessObject: (req, _res, done) => accessLine(req, done),
    customErrorObject: (req, _res, _err, done) => accessLine(req, done),
  });
}
