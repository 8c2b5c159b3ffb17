import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gqlOk, registerUser } from "./helpers/client.js";
import { freePort, type NodeProcess, startNode } from "./helpers/node-process.js";

/**
 * The README's start command on a machine with no PostgreSQL or Redis:
 * no DATABASE_URL → embedded PostgreSQL under DATA_DIR, migrated at start;
 * no REDIS_URL → in-process pub/sub; no JWT_SECRET → generated and kept.
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

  it("starts, serves, and keeps data and tokens across a restart", async () => {
    const env = { NODE_ENV: "development", DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: "", REDIS_URL: "" };
    node = await startNode(env, 120_000);
    expect(node.output()).toContain('"database":"embedded"');
    expect(node.output()).toContain('"pubsub":"in-process"');
    const user = await registerUser(node.url, "embedded");
    const secret = readFileSync(join(dataDir, "jwt-secret"), "utf8");
    await node.stop();

    node = await startNode(env, 120_000);
    expect(readFileSync(join(dataDir, "jwt-secret"), "utf8")).toBe(secret);
    const me = await gqlOk(node.url, `{ me { id username } }`, {}, user.accessToken);
    expect(me.me).toEqual({ id: user.id, username: user.username });
  }, 240_000);
});
