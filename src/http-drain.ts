import type { Server, ServerResponse } from "node:http";
import type { Readable } from "node:stream";

/** The HTTP side of a node's graceful shutdown, once {@link drainable} watches its server. */
export interface HttpDrain {
  /**
   * Drains the server, in these steps:
   * 1. it stops accepting connections and closes the idle ones;
   * 2. SSE responses (subscriptions over HTTP) end cleanly: the body's last chunk,
   *    without graphql-sse's `complete` event, so that clients reconnect (to another
   *    node), as after a WebSocket's 1001: graphql-sse clients retry a stream that
   *    closes while an operation is active, EventSource after any end;
   * 3. requests in flight finish; those not answered yet are answered with
   *    `Connection: close`, and each connection closes once its response is done
   *    (kept alive, it would bring this node requests while it goes away);
   * 4. after `boundMs` (in ms), whatever is left is cut.
   * Resolves once every connection has closed.
   */
  drain(boundMs: number): Promise<void>;
}

/**
 * Watches `server`'s requests (from now on: call it before any arrives) so that
 * {@link HttpDrain.drain} can drain it. An SSE response is recognised by its
 * `Content-Type: text/event-stream` and ended by unpiping its body (Yoga's node
 * adapter pipes a stream body into the response, and destroys it, ending the
 * subscription, once the response closes).
 */
export function drainable(server: Server): HttpDrain {
  /** Each response not closed yet, with the body piped into it, once there is one. */
  const inFlight = new Map<ServerResponse, Readable | undefined>();
  let draining = false;

  const endEventStream = (res: ServerResponse, body: Readable | undefined) => {
    if (!body || !String(res.getHeader("content-type")).startsWith("text/event-stream")) return;
    body.unpipe(res);
    res.end();
  };

  server.on("request", (_req, res: ServerResponse) => {
    inFlight.set(res, undefined);
    if (draining) res.setHeader("connection", "close");
    res.once("pipe", (body: Readable) => {
      inFlight.set(res, body);
      // a subscription that came on a kept-alive connection during the drain: ended at once
      if (draining) endEventStream(res, body);
    });
    res.once("close", () => {
      inFlight.delete(res);
      // the response is done and its connection idle, unless it is reading another request
      if (draining) server.closeIdleConnections();
    });
  });

  return {
    drain: (boundMs) =>
      new Promise<void>((resolve) => {
        draining = true;
        server.close(() => resolve());
        for (const [res, body] of inFlight) {
          if (!res.headersSent) res.setHeader("connection", "close");
          endEventStream(res, body);
        }
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), boundMs).unref();
      }),
  };
}
