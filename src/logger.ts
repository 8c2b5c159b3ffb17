import { pino, type Logger } from "pino";

/**
 * Makes the process logger: JSON lines (pino), pretty-printed in development.
 * Authorization headers and token or password fields are redacted wherever they appear.
 */
export function makeLogger(level: string, pretty: boolean): Logger {
  return pino({
    level,
    redact: {
      paths: ["req.headers.authorization", "*.password", "*.accessToken", "*.refreshToken", "*.authorization"],
      censor: "[redacted]",
    },
    ...(pretty ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } } } : {}),
  });
}
