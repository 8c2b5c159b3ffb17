/**
 * myRooms without N+1: the whole room list (lastMessage with its sender,
 * unreadCount, the first members with their users' status, the viewer's
 * membership) is read in a bounded number of SQL statements, the same for a
 * page of 1, 5 or 30 rooms.
 *
 * How statements are counted: the server runs in this process, and the app's
 * PrismaClient emits a `query` event per SQL statement (`app.db.$on("query")`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gqlOk, registerUsers, type TestUser } from "./helpers/client.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let owner: TestUser, bob: TestUser, carol: TestUser, dave: TestUser;
const ROOMS = 30;

beforeAll(async () => {
  // the background sweeps (expired messages, presence) run their own statements: slowed out of the counting window
  server = await startTestServer({ env: { EXPIRY_SWEEP_MS: "60000", PRESENCE_TTL_MS: "60000" } });
  [owner, bob, carol, dave] = await registerUsers(server.url, ["owner", "bob", "carol", "dave"]);
  for (let i = 0; i < ROOMS; i++) {
    const id = (
      await gqlOk(
        server.url,
        `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`,
        { input: { name: `room ${i}`, type: i % 2 ? "GROUP" : "PUBLIC", memberIds: [bob.id, carol.id, dave.id] } },
        owner.accessToken,
      )
    ).createRoom.id;
    // a message from someone else: the owner has one unread message per room
    await gqlOk(server.url, `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`, { r: id, c: `hello ${i}` }, bob.accessToken);
  }
}, 120_000);
afterAll(() => server.close());

/** Statements reported by Prisma's `query` events while `recording` is set. */
let recording: string[] | null = null;
beforeAll(() => {
  server.app.db.$on("query", (e) => recording?.push(e.query));
});

/** The SQL statements the server runs while `fn` runs. */
async function countStatements<T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  recording = statements;
  try {
    return { result: await fn(), statements };
  } finally {
    recording = null;
  }
}

const MY_ROOMS = `query($first: Int) { myRooms(first: $first) {
  edges { node {
    id name
    lastMessage { content sender { username } }
    unreadCount
    members(first: 3) { role user { username status } }
    viewerMembership { role archived }
  } }
  pageInfo { hasNextPage }
} }`;

describe("myRooms", () => {
  it("the statement counter sees the server's statements", async () => {
    const counted = await countStatements(() => gqlOk(server.url, `{ me { id } }`, {}, owner.accessToken));
    expect(counted.statements.length).toBeGreaterThan(0);
  });

  it("returns every room with its last message, unread count, first members and the viewer's membership", async () => {
    const rooms = (await gqlOk(server.url, MY_ROOMS, { first: ROOMS }, owner.accessToken)).myRooms;
    expect(rooms.edges).toHaveLength(ROOMS);
    // most recent activity first: the last room made got the last message
    expect(rooms.edges.map((e: any) => e.node.name)).toEqual(Array.from({ length: ROOMS }, (_, i) => `room ${ROOMS - 1 - i}`));
    for (const { node } of rooms.edges) {
      const i = Number(node.name.split(" ")[1]);
      expect(node).toMatchObject({
        lastMessage: { content: `hello ${i}`, sender: { username: bob.username } },
        unreadCount: 1,
        viewerMembership: { role: "OWNER", archived: false },
      });
      expect(node.members).toHaveLength(3);
      expect(node.members[0]).toEqual({ role: "OWNER", user: { username: owner.username, status: "OFFLINE" } });
      expect(node.members.slice(1).map((m: any) => m.role)).toEqual(["MEMBER", "MEMBER"]);
    }
  });

  it("reads a page in the same small number of SQL statements whatever its size", async () => {
    const counts: Record<number, number> = {};
    let statementsFor30: string[] = [];
    // once unmeasured, so nothing one-off (connections, caches) is counted
    await gqlOk(server.url, MY_ROOMS, { first: 5 }, owner.accessToken);
    for (const first of [1, 5, ROOMS]) {
      const { result, statements } = await countStatements(() => gqlOk(server.url, MY_ROOMS, { first }, owner.accessToken));
      expect(result.myRooms.edges).toHaveLength(first);
      counts[first] = statements.length;
      if (first === ROOMS) statementsFor30 = statements;
    }
    const report = JSON.stringify({ counts, statementsFor30 }, null, 1);
    expect(counts[5], report).toBe(counts[1]);
    expect(counts[ROOMS], report).toBe(counts[5]);
    expect(counts[ROOMS], report).toBeLessThan(15);
  });
});
