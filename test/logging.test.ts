/**
 * Structured logs: every line written while serving an HTTP request carries its
 * request id (the client's `x-request-id`, echoed back, or a fresh one), every
 * line of a WebSocket operation `<connection>/<operation>`; tokens and
 * passwords never reach the log. The access log has one line per HTTP request
 * (probes and /metrics at debug level only), and one line per WebSocket
 * accepted and closed.
 */
import { describe, expect, it, vi } from "vitest";
import { gqlOk, registerUser, subscribe, wsClient } from "./helpers/client.js";
import { logCapture, useTestServer } from "./helpers/server.js";

const { sink, lines } = logCapture();

const { server } = useTestServer([], { logTo: sink });

const CREATE = `mutation { createRoom(input: { name: "x", type: GROUP }) { id } }`;

/** The first line `match` accepts, once it has been written (lines are written when responses end and sockets close). */
function lineWhere(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  return vi.waitFor(() => {
    const line = lines.find(match);
    if (!line) throw new Error("no such line yet");
    return line;
  });
}

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
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "bad id with spaces" },
      body: JSON.stringify({ query: "{ me { id } }" }),
    });
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("carry <connection>/<operation> for WebSocket operations", async () => {
    const user = await registerUser(server.url, "wslogged");
    vi.spyOn(server.app.rooms, "create").mockRejectedValueOnce(new Error("boom over websocket"));
    const client = wsClient(server.wsUrl, user.accessToken);
    const op = subscribe(client, CREATE);
    await op.errorCode().catch(() => undefined);
    await client.dispose();
    const line = lines.find((l) => JSON.stringify(l).includes("boom over websocket"));
    expect(String(line?.requestId)).toMatch(/^[0-9a-f-]{36}\/[\w-]+$/);
  });

  it("include one access line per HTTP request once answered: method, path, status, time in ms and request id; no headers, query string or body", async () => {
    const user = await registerUser(server.url, "accessed");
    await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${user.accessToken}`, "x-request-id": "access-1" },
      body: JSON.stringify({ query: "query BodyMarker { me { id } }" }),
    });
    const line = await lineWhere((l) => l.requestId === "access-1" && l.msg === "request completed");
    expect(line).toMatchObject({ level: 30, component: "http", req: { method: "POST", url: "/graphql" }, res: { statusCode: 200 } });
    expect(Object.keys(line.req as object)).toEqual(["method", "url"]);
    expect(line.responseTime).toEqual(expect.any(Number));
    expect(JSON.stringify(line)).not.toMatch(/BodyMarker|Bearer/);

    // an attachment URL's token is in its query string: the path alone is logged
    const attachment = "/attachments/00000000-0000-4000-8000-000000000000";
    const download = await fetch(new URL(`${attachment}?token=url-token-secret`, server.url), { headers: { "x-request-id": "access-2" } });
    expect(download.status).toBe(401);
    const refused = await lineWhere((l) => l.requestId === "access-2" && l.msg === "request completed");
    expect(refused).toMatchObject({ req: { method: "GET", url: attachment }, res: { statusCode: 401 } });
    expect(JSON.stringify(lines)).not.toContain("url-token-secret");
  });

  it("leave /health, /ready and /metrics out of the access log at info level", async () => {
    for (const path of ["/health", "/ready", "/metrics"]) {
      expect((await fetch(new URL(path, server.url), { headers: { "x-request-id": `probe${path.replace("/", "-")}` } })).status).toBe(200);
    }
    // a request sent after them is logged: theirs would be by now
    await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "after-probes" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    await vi.waitFor(() => expect(lines.some((l) => l.requestId === "after-probes" && l.msg === "request completed")).toBe(true));
    expect(lines.filter((l) => String(l.requestId).startsWith("probe-"))).toEqual([]);
  });

  it("include a WebSocket's acceptance and its close, with the close code and, once known, its user and connection ids", async () => {
    const user = await registerUser(server.url, "socketed");
    const client = wsClient(server.wsUrl, user.accessToken);
    const connected = await lineWhere((l) => l.msg === "WebSocket connected" && l.userId === user.id);
    expect(connected).toMatchObject({ level: 30, component: "ws", connectionId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    await client.dispose();
    const closed = await lineWhere((l) => l.msg === "WebSocket closed" && l.userId === user.id);
    expect(closed).toMatchObject({
      level: 30,
      component: "ws",
      code: 1000,
      connectionId: connected.connectionId,
      durationMs: expect.any(Number),
    });

    // refused at connection_init: the close is logged, with no user yet
    const refused = wsClient(server.wsUrl, "not-a-token");
    const line = await lineWhere((l) => l.msg === "WebSocket closed" && l.code === 4403);
    expect(line).not.toHaveProperty("userId");
    expect(line).not.toHaveProperty("connectionId");
    await refused.dispose();
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
