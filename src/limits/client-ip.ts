import type { IncomingMessage } from "node:http";

/**
 * The client's IP address for an HTTP request or a WebSocket upgrade request: with
 * `trustProxy` = 0 the socket's remote address; with n > 0 the n-th address from
 * the right of `X-Forwarded-For` (each trusted proxy appends the address it saw, so
 * entries left of those are the client's word and are not trusted), or its
 * leftmost one when it is shorter, or the socket's address when it is absent.
 * IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) come back as IPv4; "unknown" when
 * the socket has closed. Source of the rule: Express' `trust proxy` hop count.
 */
export function clientIpOf(req: IncomingMessage, trustProxy: number): string {
  const header = req.headers["x-forwarded-for"];
  const forwarded = trustProxy > 0 && header ? (Array.isArray(header) ? header.join(",") : header).split(",").map((a) => a.trim()).filter(Boolean) : [];
  const address = forwarded.length > 0 ? forwarded[Math.max(0, forwarded.length - trustProxy)] : req.socket.remoteAddress;
  return address?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "") ?? "unknown";
}
