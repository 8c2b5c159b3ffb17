import type { CORSOptions } from "graphql-yoga";

/**
 * Yoga's `cors` option for the configured CORS_ORIGINS (exact origins such as
 * `https://chat.example.com`, or `*`). A request from an origin on the list gets
 * `Access-Control-Allow-Origin: <its origin>` (with `Vary: Origin`), on the
 * preflight (OPTIONS, 204) and on the answer; any other origin gets no CORS
 * headers at all, so the browser refuses to let its page read the answer (or to
 * send a preflighted request). An empty list (the default) allows no other origin:
 * GraphiQL is served from /graphql itself and native clients do not use CORS.
 * Credentials (cookies) are never allowed: the API authenticates with the
 * Authorization header (Fetch standard, CORS protocol).
 */
export function corsFor(origins: readonly string[]): (request: Request) => CORSOptions {
  const any = origins.includes("*");
  return (request) => {
    const origin = request.headers.get("origin");
    if (!origin || !(any || origins.includes(origin))) return false;
    return { origin: [origin], credentials: false, maxAge: 600 };
  };
}
