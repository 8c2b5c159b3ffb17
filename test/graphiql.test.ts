/**
 * GraphiQL at GET /graphql (src/graphiql.ts): from the installed package, in the
 * coding the browser prefers (brotli, gzip or none), each coding compressed once
 * per process, cacheable (ETag, Cache-Control, 304 on If-None-Match); and, with
 * introspection, off by default when NODE_ENV=production, with switches to turn
 * them on (src/config.ts).
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import { gql } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

// each coding's compression, counted (the page is 9 MB: compressing it per request would cost ≈ 0.2 s each)
const zlib = vi.hoisted(() => ({ brotli: 0, gzip: 0 }));
vi.mock("node:zlib", async (original) => {
  const actual = await original<typeof import("node:zlib")>();
  return {
    ...actual,
    brotliCompress: (...args: Parameters<typeof actual.brotliCompress>) => {
      zlib.brotli++;
      return actual.brotliCompress(...args);
    },
    gzip: (...args: Parameters<typeof actual.gzip>) => {
      zlib.gzip++;
      return actual.gzip(...args);
    },
  };
});

/** GETs `url` as a browser asks for a page, with `headers` besides; resolves status, headers and the raw (still coded) body. */
function getPage(url: string, headers: Record<string, string> = {}, method = "GET") {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request(
      url,
      { method, headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject).end();
  });
}

/** NODE_ENV=production needs a real key: the tests' JWT secret is a placeholder there. */
const production = (env: Record<string, string> = {}) => ({
  env: { NODE_ENV: "production", JWT_SECRET: randomBytes(48).toString("base64"), ...env },
});

describe("GraphiQL (on by default outside production)", () => {
  const { server } = useTestServer([]);

  it("is served at GET /graphql from the installed package, with no CDN", async () => {
    const response = await fetch(server.url, { headers: { accept: "text/html" } });
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(html).toContain("Chat GraphQL");
    expect(html).not.toMatch(/unpkg|jsdelivr|cdn\./);
  });

  it("comes in the coding the browser prefers, brotli on a tie, each the same page, compressed once per coding", async () => {
    const plain = await getPage(server.url);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(Number(plain.headers["content-length"])).toBe(plain.body.length);
    const cases: [string, string | undefined][] = [
      ["gzip, deflate, br, zstd", "br"], // Chromium's: equal weights, the server's order
      ["br", "br"],
      ["gzip", "gzip"],
      ["gzip;q=1, br;q=0.5", "gzip"],
      ["identity", undefined],
      ["zstd", undefined],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [acceptEncoding, expected] of cases) {
        const coded = await getPage(server.url, { "accept-encoding": acceptEncoding });
        expect([acceptEncoding, coded.status, coded.headers["content-encoding"]]).toEqual([acceptEncoding, 200, expected]);
        expect(Number(coded.headers["content-length"])).toBe(coded.body.length);
        const decoded = expected === "br" ? brotliDecompressSync(coded.body) : expected === "gzip" ? gunzipSync(coded.body) : coded.body;
        expect(decoded.equals(plain.body)).toBe(true);
      }
    }
    expect(zlib).toEqual({ brotli: 1, gzip: 1 });
    const sizes = {
      identity: plain.body.length,
      br: (await getPage(server.url, { "accept-encoding": "br" })).body.length,
      gzip: (await getPage(server.url, { "accept-encoding": "gzip" })).body.length,
    };
    console.log("GraphiQL page bytes:", sizes);
    expect(sizes.br).toBeLessThan(sizes.identity / 4);
    expect(sizes.gzip).toBeLessThan(sizes.identity / 3);
  });

  it("is cacheable: ETag, Cache-Control and Vary; a matching If-None-Match gets 304 without a body; HEAD gets no body", async () => {
    const first = await getPage(server.url, { "accept-encoding": "br" });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\/"[\w-]{20,}"$/);
    expect(first.headers["cache-control"]).toBe("no-cache");
    expect(first.headers.vary).toBe("Accept, Accept-Encoding");

    for (const acceptEncoding of ["br", "gzip", "identity"]) {
      const again = await getPage(server.url, { "accept-encoding": acceptEncoding, "if-none-match": etag });
      expect([again.status, again.body.length, again.headers.etag, again.headers["cache-control"]]).toEqual([304, 0, etag, "no-cache"]);
    }
    expect((await getPage(server.url, { "accept-encoding": "br", "if-none-match": `W/"other", ${etag}` })).status).toBe(304);
    expect((await getPage(server.url, { "accept-encoding": "br", "if-none-match": 'W/"other"' })).status).toBe(200);

    const head = await getPage(server.url, { "accept-encoding": "br" }, "HEAD");
    expect([head.status, head.body.length, head.headers["content-length"], head.headers.etag]).toEqual([
      200,
      0,
      first.headers["content-length"],
      etag,
    ]);
  });

  it("leaves GraphQL over GET to Yoga", async () => {
    const response = await fetch(`${server.url}?query=${encodeURIComponent("{ __typename }")}`, {
      headers: { accept: "application/json", "x-graphql-yoga-csrf": "1" },
    });
    expect(await response.json()).toEqual({ data: { __typename: "Query" } });
  });
});

describe("NODE_ENV=production", () => {
  const { server: byDefault } = useTestServer([], production());
  const { server: switchedOn } = useTestServer([], production({ GRAPHIQL: "on", GRAPHQL_INTROSPECTION: "on" }));

  it("by default: no GraphiQL (404) and no introspection", async () => {
    const page = await getPage(byDefault.url);
    expect([page.status, page.headers["content-type"], page.body.toString()]).toEqual([
      404,
      "text/plain; charset=utf-8",
      "GraphiQL is off on this server (GRAPHIQL)\n",
    ]);
    const result = await gql(byDefault.url, `{ __schema { queryType { name } } }`);
    expect(result.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/introspection/),
      extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
    });
  });

  it("GRAPHIQL=on and GRAPHQL_INTROSPECTION=on: both served", async () => {
    const page = await getPage(switchedOn.url, { "accept-encoding": "gzip" });
    expect([page.status, page.headers["content-encoding"]]).toEqual([200, "gzip"]);
    expect(gunzipSync(page.body).toString()).toContain("Chat GraphQL");
    expect(await gql(switchedOn.url, `{ __schema { queryType { name } } }`)).toEqual({
      data: { __schema: { queryType: { name: "Query" } } },
    });
  });
});
