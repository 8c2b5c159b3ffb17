import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import fresh from "fresh";
import Negotiator from "negotiator";
import { CSRF_HEADER } from "./security/csrf.js";

/**
 * The content codings the page is kept in, in the server's order of preference
 * among those a client accepts equally: brotli is the smallest (docs/performance.md).
 */
const ENCODINGS = ["br", "gzip", "identity"] as const;
type Encoding = (typeof ENCODINGS)[number];

/**
 * Brotli quality 5: close to quality 11's (the default) size for a small part of
 * its CPU time (docs/performance.md).
 */
const BROTLI_QUALITY = 5;

/**
 * A browser keeps the page but asks before each use (the page changes with the
 * installed package, at the same URL); an unchanged page then costs a 304 without a body.
 */
const CACHE_CONTROL = "no-cache";

/** The page's bytes in each coding, made on first use, in zlib's thread pool (not on the event loop). */
const compress: Record<Encoding, (html: Buffer) => Promise<Buffer>> = {
  br: (html) =>
    promisify(brotliCompress)(html, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: html.length,
      },
    }),
  gzip: (html) => promisify(gzip)(html, { level: 9 }),
  identity: async (html) => html,
};

/**
 * GraphiQL from the installed package (@graphql-yoga/render-graphiql: its
 * JavaScript, CSS and workers inline, no CDN), as Yoga would render it: subscriptions
 * over SSE, which carries the Authorization header of the Headers tab (GraphiQL
 * does not put headers into graphql-ws' connection_init), and the CSRF header on
 * every request (security/csrf.ts). Loaded and rendered once per process, on first use; its
 * ETag is weak, as its codings are the same page (RFC 9110 §8.8.1); each coding is
 * compressed once ({@link compress}), on first use.
 */
let page: { html: Buffer; etag: string; coded: Map<Encoding, Promise<Buffer>> } | undefined;

/** The page's ETag, and its bytes in `encoding`. */
async function pageIn(encoding: Encoding): Promise<{ etag: string; body: Buffer }> {
  if (!page) {
    // a 9 MB module, costly to load: loaded by the first page asked for, not at start
    const { renderGraphiQL } = await import("@graphql-yoga/render-graphiql");
    const html = Buffer.from(
      renderGraphiQL({ title: "Chat GraphQL", subscriptionsProtocol: "SSE", additionalHeaders: { [CSRF_HEADER]: "graphiql" } }),
    );
    page = { html, etag: `W/"${createHash("sha256").update(html).digest("base64url")}"`, coded: new Map() };
  }
  const { html, etag, coded } = page;
  if (!coded.has(encoding)) coded.set(encoding, compress[encoding](html));
  return { etag, body: await coded.get(encoding)! };
}

/** negotiator 1.x's `encoding`, whose `preferred` (the order among equal q-values) @types/negotiator 0.6 lacks. */
type PickEncoding = (available: readonly string[], options: { preferred: readonly string[] }) => string | undefined;

/**
 * Answers a browser's GET (or HEAD) of `endpoint` (Yoga's rule: an Accept that
 * includes `text/html`) and returns true; returns false for anything else, untouched.
 * With `on` false (GRAPHIQL=off) the answer is 404, in plain text. Else it is the
 * page, in the coding the client prefers of `br`, `gzip` and none (Accept-Encoding;
 * ties go to br), with `Vary: Accept, Accept-Encoding`, `Cache-Control: no-cache`
 * and a weak ETag; an If-None-Match that matches it (the `fresh` package's rules)
 * gets 304 without a body.
 */
export async function serveGraphiQL(
  req: IncomingMessage,
  res: ServerResponse,
  { endpoint, on }: { endpoint: string; on: boolean },
): Promise<boolean> {
  if ((req.method !== "GET" && req.method !== "HEAD") || !req.headers.accept?.includes("text/html")) return false;
  const path = req.url?.split("?")[0];
  if (path !== endpoint && path !== `${endpoint}/`) return false;
  if (!on) {
    // not Yoga's answer to a GET without a query (403 for the missing CSRF header): a browser asked for a page
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("GraphiQL is off on this server (GRAPHIQL)\n");
    return true;
  }

  const negotiator = new Negotiator(req);
  const encoding = ((negotiator.encoding as PickEncoding).call(negotiator, ENCODINGS, { preferred: ENCODINGS }) ?? "identity") as Encoding;
  const { body, etag } = await pageIn(encoding);
  const headers = { etag, "cache-control": CACHE_CONTROL, vary: "Accept, Accept-Encoding" };
  if (fresh(req.headers, headers)) {
    res.writeHead(304, headers).end();
    return true;
  }
  res.writeHead(200, {
    ...headers,
    "content-type": "text/html; charset=utf-8",
    "content-length": body.length,
    ...(encoding === "identity" ? {} : { "content-encoding": encoding }),
  });
  res.end(req.method === "HEAD" ? undefined : body);
  return true;
}
