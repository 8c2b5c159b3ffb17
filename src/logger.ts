import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { requestContext } from "./request-context.js";

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
      paths: ["req.headers.authorization", "*.password", "*.accessToken", "*.refreshToken", "*.authorization"],
      censor: "[redacted]",
    },
    ...(pretty ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
