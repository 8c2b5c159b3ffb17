import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";

/**
 * The header a browser request must carry unless its content type already forces
 * a CORS preflight (any value will do; e.g. `x-graphql-yoga-csrf: 1`).
 */
export const CSRF_HEADER = "x-graphql-yoga-csrf";

/**
 * CSRF prevention (Yoga's plugin): a request that a cross-site page could send
 * without a CORS preflight (a "simple" request: GET, or POST with
 * `text/plain`, `multipart/form-data` or `application/x-www-form-urlencoded`, or
 * no content type) is refused with HTTP 403 unless it carries {@link CSRF_HEADER};
 * custom headers make browsers preflight, which CORS (cors.ts) then refuses for
 * other origins. JSON POSTs (`application/json`, what Apollo, urql and GraphiQL
 * send) are preflighted anyway and pass. Multipart uploads must send the header.
 */
export const useCsrfPrevention = () => useCSRFPrevention({ requestHeaders: [CSRF_HEADER] });
