/**
 * Graceful shutdown of a node on SIGTERM (two processes sharing PostgreSQL and
 * Redis): its WebSockets close with 1001 (Going Away) so clients reconnect
 * elsewhere, its users' presence is flushed at once (OFFLINE on the other node
 * long before the presence TTL), its SSE streams end cleanly, and the process
 * exits 0 within its bound.
 */
import { describe, expect, it } from "vitest";
import { connected, subscribe, untilReceived, wsClient } from "./helpers/client.js";
import { useRoomAcrossNodes } from "./helpers/nodes.js";

/** The presence TTL, long: an OFFLINE well before it can only come from the shutdown's flush. */
const PRESENCE_TTL_MS = 30_000;
/** main.ts's shutdown bound (SHUTDOWN_TIMEOUT_MS). */
const SHUTDOWN_BOUND_MS = 10_000;
/** server.ts's bound on the HTTP drain (HTTP_DRAIN_MS), after which connections are cut. */
const HTTP_DRAIN_BOUND_MS = 5000;

describe("SIGTERM", () => {
  const {
    group,
    users: [alice, bob, carol],
    room,
  } = useRoomAcrossNodes({ PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) }, "Bye");
  const [a, b] = group.nodes;

  it("closes the node's sockets with 1001, flushes its users' presence, and exits 0 in time", async () => {
    const watcher = wsClient(a.wsUrl, alice.accessToken);
    const presence = subscribe(watcher, `subscription($r: ID!) { presence(roomId: $r) { status user { id } } }`, { r: room.id });
    // live on every node: carol comes and goes until her presence arrives
    await untilReceived(presence, async () => (await connected(b.wsUrl, carol)).dispose(), 300);
    let closeCode: number | undefined;
    const closed = new Promise<void>((resolve) => {
      const bobOnB = wsClient(b.wsUrl, bob.accessToken, {
        on: {
          closed: (e) => {
            closeCode = (e as { code: number }).code;
            resolve();
          },
        },
      });
      void bobOnB;
    });
    await presence.nextWhere((e) => e.data?.presence.user.id === bob.id && e.data.presence.status === "ONLINE");
    const stoppedAt = Date.now();
    const exit = new Promise<number | null>((resolve) => b.child.once("exit", (code) => resolve(code)));
    b.child.kill("SIGTERM");
    await closed;
    expect(closeCode).toBe(1001);
    const offline = await presence.nextWhere(
      (e) => e.data?.presence.user.id === bob.id && e.data.presence.status === "OFFLINE",
      PRESENCE_TTL_MS / 3,
    );
    expect(offline.data.presence.status).toBe("OFFLINE");
    expect(Date.now() - stoppedAt).toBeLessThan(PRESENCE_TTL_MS / 3);
    expect(await exit).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(SHUTDOWN_BOUND_MS);
    await watcher.dispose();
  }, 60_000);

  it("ends SSE streams cleanly (no `complete`: clients reconnect) and exits 0 without waiting for the drain bound", async () => {
    const c = await group.startAnother();
    const response = await fetch(c.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${alice.accessToken}` },
      body: JSON.stringify({ query: `subscription($r: ID!) { messageAdded(roomId: $r) { content } }`, variables: { r: room.id } }),
    });
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = (await reader.read()).value!;
    const stoppedAt = Date.now();
    const exit = new Promise<number | null>((resolve) => c.child.once("exit", resolve));
    c.child.kill("SIGTERM");
    // a cut connection would throw here ("terminated")
    for (let read = await reader.read(); !read.done; read = await reader.read()) text += read.value;
    expect(text).not.toContain("event: complete");
    expect(await exit).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(HTTP_DRAIN_BOUND_MS);
    // nothing went wrong on the way (an error line, or @whatwg-node's "Unexpected error while handling request")
    expect(c.output()).not.toMatch(/"level":[56]0|Unexpected error/);
  }, 60_000);
});
