import type { IncomingMessage } from "node:http";
import proxyAddr from "proxy-addr";

/**
 * The client's IP address for an HTTP request or a WebSocket upgrade request, by
 * proxy-addr (Express' `trust proxy`) trusting `trustProxy` hops (TRUST_PROXY):
 * with 0 the socket's remote address; with n > 0 the n-th address from the right
 * of `X-Forwarded-For` (each trusted proxy appends the address it saw, so entries
 * left of those are the client's word and are not trusted), or its leftmost one
 * when it is shorter, or the socket's address when it is absent. IPv4-mapped IPv6
 * addresses (`::ffff:1.2.3.4`) come back as IPv4; "unknown" when the socket has closed.
 */
export function clientIpOf(req: IncomingMessage, trustProxy: number): string {
  // the hop-count trust function of Express' compileTrust: the socket (i = 0) and the n-1 entries right of the answer
  const address = proxyAddr(req, (_address, i) => i < trustProxy) as string | undefined;
  return address?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "") ?? "unknown";
}
