import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe("GraphiQL", () => {
  it("is served at GET /graphql from the installed package, with no CDN", async () => {
    const response = await fetch(server.url, { headers: { accept: "text/html" } });
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain("Chat GraphQL");
    expect(html).not.toMatch(/unpkg|jsdelivr|cdn\./);
  });
});
