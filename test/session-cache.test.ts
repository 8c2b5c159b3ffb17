/**
 * The session cache (auth/session-cache.ts): each node keeps the access tokens it
 * has verified and found live, so a repeated token costs no JWT check and no
 * session query. What must still hold (issue 13, test/sessions.test.ts):
 * - an ended session is refused on every node: the revocation broadcast drops its
 *   tokens from every node's cache;
 * - a send checks the session in its own statement, so it is refused even by a
 *   node whose cache still holds the token;
 * - while Redis is away a node may miss a broadcast, so its cache fails closed:
 *   every token is checked against PostgreSQL until Redis is back.
 * Two node processes over a Redis of the test's own, which it stops and starts.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, gql, gqlOk, registerUser, type TestUser } from "./helpers/client.js";
import { type DedicatedRedis, startDedicatedRedis } from "./helpers/dedicated-redis.js";
import { useNodes } from "./helpers/nodes.js";

const ME = `{ me { id } }`;
const LOGIN = `mutation($u: String!) { login(input: { username: $u, password: "correct horse battery" }) { accessToken } }`;
const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`;

/** Polls `probe` every 50 ms until it resolves true; fails after `timeoutMs`. */
async function until(probe: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("session cache across two nodes", () => {
  let redis: DedicatedRedis;
  afterAll(() => redis?.stop());
  const group = useNodes(2, async () => {
    redis = await startDedicatedRedis();
    return { REDIS_URL: redis.url, RATE_LIMITS: "off" };
  });
  const [a, b] = group.nodes;
  let user: TestUser;
  let roomId: string;

  beforeAll(async () => {
    user = await registerUser(a.url, "cached");
    roomId = (await gqlOk(a.url, `mutation { createRoom(input: { name: "Cache", type: GROUP }) { id } }`, {}, user.accessToken)).createRoom
      .id;
  });

  /** A new session of `user` (logged in through node A), its token used once on node B so B has cached it. */
  async function sessionCachedOnB(): Promise<string> {
    const token = (await gqlOk(a.url, LOGIN, { u: user.username })).login.accessToken as string;
    expect((await gqlOk(b.url, ME, {}, token)).me.id).toBe(user.id);
    return token;
  }

  it("drops a session's tokens on every node when it ends: node B refuses a token it had cached once node A logs it out", async () => {
    const token = await sessionCachedOnB();
    expect((await gqlOk(a.url, `mutation { logout }`, {}, token)).logout).toBe(true);
    await until(async () => errorCode(await gql(b.url, ME, {}, token)) === "UNAUTHENTICATED", "node B refuses the logged-out token");
    expect(errorCode(await gql(b.url, SEND, { i: { roomId, content: "after logout" } }, token))).toBe("UNAUTHENTICATED");
  });

  it("refuses a send whose session ended without a broadcast, though the node's cache still serves the token to reads", async () => {
    const token = await sessionCachedOnB();
    // ended in PostgreSQL behind the nodes' backs: no broadcast, so B's cache still holds the token
    const db = new pg.Client({ connectionString: group.env.DATABASE_URL });
    await db.connect();
    try {
      const { rowCount } = await db.query(
        `UPDATE "Session" SET "revokedAt" = now() WHERE "userId" = $1 AND "revokedAt" IS NULL AND "createdAt" = (SELECT max("createdAt") FROM "Session" WHERE "userId" = $1)`,
        [user.id],
      );
      expect(rowCount).toBe(1);
    } finally {
      await db.end();
    }
    expect((await gqlOk(b.url, ME, {}, token)).me.id).toBe(user.id);
    const before = await gqlOk(a.url, `query($r: ID!) { room(id: $r) { lastMessage { id } } }`, { r: roomId }, user.accessToken);
    expect(errorCode(await gql(b.url, SEND, { i: { roomId, content: "from an ended session" } }, token))).toBe("UNAUTHENTICATED");
    expect(await gqlOk(a.url, `query($r: ID!) { room(id: $r) { lastMessage { id } } }`, { r: roomId }, user.accessToken)).toEqual(before);
  });

  it("fails closed while Redis is away: a session ended meanwhile is refused by a node that had cached it, and caching resumes once Redis is back", async () => {
    const token = await sessionCachedOnB();
    await redis.stop();
    try {
      // node A ends the session; its broadcast is lost with Redis (logout still succeeds: the end is stored)
      expect((await gqlOk(a.url, `mutation { logout }`, {}, token)).logout).toBe(true);
      expect(errorCode(await gql(b.url, ME, {}, token))).toBe("UNAUTHENTICATED");
    } finally {
      await redis.start();
    }
    const next = await sessionCachedOnB();
    expect((await gqlOk(a.url, `mutation { logout }`, {}, next)).logout).toBe(true);
    await until(
      async () => errorCode(await gql(b.url, ME, {}, next)) === "UNAUTHENTICATED",
      "node B refuses the logged-out token after Redis came back",
    );
  }, 60_000);
});
