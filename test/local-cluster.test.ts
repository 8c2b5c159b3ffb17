/**
 * `npm run cluster` (scripts/local-cluster.ts): the compose topology from local
 * processes — two nodes behind a round-robin Node.js proxy — serves HTTP and
 * graphql-ws through the proxy: a subscriber gets every message sent through
 * either node, in order; SIGTERM stops the proxy and both nodes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gqlOk, registerUser, subscribe, warmUp, wsClient } from "./helpers/client.js";
import { createTestDatabase } from "./helpers/database.js";
import { REDIS_URL } from "./helpers/env.js";
import { freePort } from "./helpers/node-process.js";

const root = fileURLToPath(new URL("..", import.meta.url));
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let cluster: ChildProcess;
let output = "";
let url: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const [port, a, b] = [await freePort(), await freePort(), await freePort()];
  url = `http://127.0.0.1:${port}/graphql`;
  cluster = spawn(process.execPath, ["--import", "tsx", "scripts/local-cluster.ts"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      NODE_PORTS: `${a},${b}`,
      DATABASE_URL: database.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cluster.stdout!.on("data", (d) => (output += d));
  cluster.stderr!.on("data", (d) => (output += d));
  // ready when both nodes answer /ready through the proxy (round robin: two in a row)
  const deadline = Date.now() + 90_000;
  let readyInARow = 0;
  while (readyInARow < 2) {
    if (Date.now() > deadline) throw new Error(`cluster not ready:\n${output}`);
    const ok = await fetch(url.replace("/graphql", "/ready")).then(
      (r) => r.ok,
      () => false,
    );
    readyInARow = ok ? readyInARow + 1 : 0;
    if (!ok) await new Promise((r) => setTimeout(r, 250));
  }
}, 120_000);

afterAll(async () => {
  if (cluster && cluster.exitCode === null) cluster.kill("SIGKILL");
  await database?.drop();
});

describe("the local cluster (two nodes behind a Node.js proxy)", () => {
  it("delivers over graphql-ws through the proxy every message sent through either node, in order", async () => {
    const alice = await registerUser(url, "alice");
    const bob = await registerUser(url, "bob");
    const roomId = (
      await gqlOk(
        url,
        `mutation($m: [ID!]) { createRoom(input: { name: "Cluster", type: GROUP, memberIds: $m }) { id } }`,
        { m: [bob.id] },
        alice.accessToken,
      )
    ).createRoom.id;
    const client = wsClient(url.replace("http", "ws"), bob.accessToken);
    const sub = subscribe(client, `subscription($r: ID!) { messageAdded(roomId: $r) { content } }`, { r: roomId });
    const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
    await warmUp(sub, () => gqlOk(url, SEND, { r: roomId, c: "warm-up" }, alice.accessToken));
    const sent = ["one", "two", "three", "four", "five", "six"];
    for (const c of sent) await gqlOk(url, SEND, { r: roomId, c }, alice.accessToken); // alternates between the nodes
    await sub.nextWhere((e) => e.data?.messageAdded.content === "six", 10_000);
    const received = sub.events.map((e) => e.data?.messageAdded.content).filter((c) => c !== "warm-up");
    expect(received).toEqual(sent);
    await client.dispose();
  });

  it("stops the proxy and both nodes on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => cluster.once("exit", resolve));
    cluster.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(
      await fetch(url.replace("/graphql", "/health")).then(
        () => "answered",
        () => "refused",
      ),
    ).toBe("refused");
  }, 30_000);
});
