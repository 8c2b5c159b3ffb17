/**
 * Structured logs: every line written while serving an HTTP request carries its
 * request id (the client's `x-request-id`, echoed back, or a fresh one), every
 * line of a WebSocket operation `<connection>/<operation>`; tokens and
 * passwords never reach the log.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { gqlOk, registerUser, wsClient } from "./helpers/client.js";
import { live } from "./helpers/live.js";
import { logCapture, startTestServer, type TestServer } from "./helpers/server.js";

const { sink, lines } = logCapture();

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ logTo: sink });
});
afterAll(() => server.close());

const CREATE = `mutation { createRoom(input: { name: "x", type: GROUP }) { id } }`;

describe("log lines", () => {
  it("carry the request's x-request-id (echoed in the response) on an HTTP error log", async () => {
    const user = await registerUser(server.url, "logged");
    vi.spyOn(server.app.rooms, "create").mockRejectedValueOnce(new Error("boom in resolver"));
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${user.accessToken}`, "x-request-id": "req-abc.123" },
      body: JSON.stringify({ query: CREATE }),
    });
    expect(response.headers.get("x-request-id")).toBe("req-abc.123");
    const line = lines.find((l) => JSON.stringify(l).includes("boom in resolver"));
    expect(line).toMatchObject({ requestId: "req-abc.123", level: 50 });
  });

  it("get a fresh request id when the client sends none or a bad one", async () => {
    const response = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json", "x-request-id": "bad id with spaces" }, body: JSON.stringify({ query: "{ me { id } }" }) });
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("carry <connection>/<operation> for WebSocket operations", async () => {
    const user = await registerUser(server.url, "wslogged");
    vi.spyOn(server.app.rooms, "create").mockRejectedValueOnce(new Error("boom over websocket"));
    const client = wsClient(server.wsUrl, user.accessToken);
    const op = live(client, CREATE);
    await op.errorCode().catch(() => undefined);
    await client.dispose();
    const line = lines.find((l) => JSON.stringify(l).includes("boom over websocket"));
    expect(String(line?.requestId)).toMatch(/^[0-9a-f-]{36}\/[\w-]+$/);
  });

  it("never contain passwords or tokens", async () => {
    const user = await registerUser(server.url, "secretive");
    await gqlOk(server.url, `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`, { t: user.refreshToken });
    const text = lines.map((l) => JSON.stringify(l)).join("\n");
    expect(text).not.toContain("correct horse battery");
    expect(text).not.toContain(user.accessToken);
    expect(text).not.toContain(user.refreshToken);
  });
});
