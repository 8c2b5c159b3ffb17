import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gqlOk, registerUser } from "./helpers/client.js";
import { freePort, type NodeProcess, startNode } from "./helpers/node-process.js";

/**
 * The README's start command on a machine with no PostgreSQL or Redis:
 * no DATABASE_URL → embedded PostgreSQL under DATA_DIR, migrated at start;
 * no REDIS_URL → in-process pub/sub; no JWT_SECRET → generated and kept.
 * A start tells its progress (info lines); a later one runs no migration CLI.
 * SIGTERM drains the server before the embedded PostgreSQL stops.
 */
describe("embedded default (no DATABASE_URL, no REDIS_URL)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-embedded-"));
  // as root, PostgreSQL runs as the `postgres` user, which must be able to enter the folder (mkdtemp makes it 0700)
  chmodSync(dataDir, 0o755);
  let node: NodeProcess | undefined;
  afterAll(async () => {
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Nothing configured but where the data goes, and a free port for the embedded PostgreSQL. */
  const embeddedEnv = async () => ({
    NODE_ENV: "development",
    DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(await freePort()),
    DATABASE_URL: "",
    REDIS_URL: "",
  });

  it("starts telling its progress, serves, and keeps data and tokens across a restart that applies no migration", async () => {
    const env = await embeddedEnv();
    node = await startNode(env, 120_000);
    expect(startSteps(node.output())).toEqual([
      expect.stringMatching(/^initialising the embedded PostgreSQL in .+ \(first start\)$/),
      "embedded PostgreSQL started",
      expect.stringMatching(/^applying \d+ database migrations? \(prisma migrate deploy\)$/),
      "database migrations applied",
      "services ready",
      expect.stringMatching(/^chat server ready at /),
    ]);
    expect(node.output()).toContain('"database":"embedded"');
    expect(node.output()).toContain('"pubsub":"in-process"');
    const user = await registerUser(node.url, "embedded");
    const secret = readFileSync(join(dataDir, "jwt-secret"), "utf8");
    await node.stop();

    node = await startNode(env, 120_000);
    // every migration recorded: the migration CLI is not started
    expect(startSteps(node.output())).toEqual([
      expect.stringMatching(/^starting the embedded PostgreSQL in /),
      "embedded PostgreSQL started",
      "database schema up to date (no pending migrations)",
      "services ready",
      expect.stringMatching(/^chat server ready at /),
    ]);
    expect(readFileSync(join(dataDir, "jwt-secret"), "utf8")).toBe(secret);
    const me = await gqlOk(node.url, `{ me { id username } }`, {}, user.accessToken);
    expect(me.me).toEqual({ id: user.id, username: user.username });
  }, 240_000);

  it("on SIGTERM, answers the requests in flight before it stops PostgreSQL, and exits 0", async () => {
    await node?.stop();
    node = await startNode(await embeddedEnv(), 120_000);
    const user = await registerUser(node.url, "drain");
    const { createRoom } = await gqlOk(
      node.url,
      `mutation { createRoom(input: { name: "Drain", type: GROUP }) { id } }`,
      {},
      user.accessToken,
    );
    const send = { query: `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { content } }` };
    // in flight: each request's head read by the server (its 100 Continue), its body still to come
    const requests = await Promise.all(Array.from({ length: 10 }, () => headSent(node!.url, user.accessToken)));
    const exit = new Promise<number | null>((resolve) => node!.child.once("exit", resolve));
    node.child.kill("SIGTERM");
    const answers = await Promise.all(
      requests.map((finish, i) => finish(JSON.stringify({ ...send, variables: { r: createRoom.id, c: `m${i}` } }))),
    );
    expect(answers).toEqual(answers.map((_, i) => ({ status: 200, body: { data: { sendMessage: { content: `m${i}` } } } })));
    expect(await exit).toBe(0);
    // no request failed on the way down, and nothing was logged as an error (a write-pool connection that
    // PostgreSQL ends while idle is a warning the pool recovers from: seen once under a full CI run's load)
    const errors = node
      .output()
      .split("\n")
      .filter((line) => /"level":(50|60)/.test(line) || line.includes("Database unavailable"));
    expect(errors).toEqual([]);
  }, 240_000);
});

/** The messages of the info lines (JSON, pino) that tell how a start goes, in the order they were printed. */
function startSteps(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter(({ level, msg }) => level === 30 && /PostgreSQL|migration|ready/.test(msg))
    .map(({ msg }) => msg);
}

/** A GraphQL-over-HTTP answer: its status and its JSON body. */
type Answer = { status: number; body: unknown };

/**
 * Starts a GraphQL POST to `url` with `token`: only its head, with `Expect: 100-continue`.
 * Resolves once the server has read the head (its 100 Continue), with a function that
 * sends the body and resolves the answer; rejects if the request fails before.
 */
function headSent(url: string, token: string): Promise<(body: string) => Promise<Answer>> {
  const req = request(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, expect: "100-continue" },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.once("error", reject).once("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.once("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
  });
  // awaited once the body is sent; an error before that rejects the promise below instead
  answer.catch(() => {});
  req.flushHeaders();
  return new Promise((resolve, reject) => {
    req.once("error", reject).once("continue", () =>
      resolve((body) => {
        req.end(body);
        return answer;
      }),
    );
  });
}
