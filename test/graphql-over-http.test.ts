/**
 * The GraphQL over HTTP spec, audited by the graphql-http package against our
 * /graphql: every audit (MUST, SHOULD and notice alike) passes, so a regression
 * at any level shows up here.
 */
import { auditServer } from "graphql-http";
import { describe, expect, it } from "vitest";
import { CSRF_HEADER } from "../src/security/csrf.js";
import { useTestServer } from "./helpers/server.js";

const { server } = useTestServer([]);

describe("GraphQL over HTTP audits (graphql-http)", () => {
  it("passes every audit, MUSTs and SHOULDs alike", async () => {
    // the audits' GET requests are "simple" requests, which CSRF prevention
    // (src/security/csrf.ts) refuses with 403 unless they carry its header
    const fetchFn = (input: RequestInfo | URL, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set(CSRF_HEADER, "1");
      return fetch(input, { ...init, headers });
    };
    const results = await auditServer({ url: server.url, fetchFn });
    expect(results.length).toBeGreaterThan(20);
    const failed = results.filter((r) => r.status !== "ok").map((r) => `${r.id} ${r.status} ${r.name}: ${"reason" in r ? r.reason : ""}`);
    expect(failed).toEqual([]);
  });
});
