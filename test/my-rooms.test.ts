/**
 * Reads without N+1, counted. myRooms: the whole room list (lastMessage with its
 * sender, unreadCount, the first members with their users' status, the viewer's
 * membership) is read in at most 5 SQL statements, the same for a page of 1, 5,
 * 30 or 50 rooms. messages: a history page of 50 with each message's sender and
 * reactions (grouped, with their users and viewerHasReacted) in at most 4.
 *
 * How statements are counted: the server runs in this process, and the app's
 * PrismaClient emits a `query` event per SQL statement (`app.db.$on("query")`).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { gqlOk } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";
import { useStatementCounter } from "./helpers/statements.js";

// the background sweeps (expired messages, presence) run their own statements: slowed out of the counting window
// (and the rate limits off: the set-up sends more than a user may in a minute)
const {
  server,
  api,
  users: [owner, bob, carol, dave],
} = useTestServer(["owner", "bob", "carol", "dave"], { env: { EXPIRY_SWEEP_MS: "60000", PRESENCE_TTL_MS: "60000", RATE_LIMITS: "off" } });
const ROOMS = 50;

beforeAll(async () => {
  for (let i = 0; i < ROOMS; i++) {
    const id = (
      await api.ok(owner, `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`, {
        input: { name: `room ${i}`, type: i % 2 ? "GROUP" : "PUBLIC", memberIds: [bob.id, carol.id, dave.id] },
      })
    ).createRoom.id;
    // a message from someone else: the owner has one unread message per room
    await api.ok(bob, `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`, {
      r: id,
      c: `hello ${i}`,
    });
  }
}, 120_000);

/** The SQL statements the server runs while a function runs. */
const countStatements = useStatementCounter(server);

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
    const counted = await countStatements(() => api.ok(owner, `{ me { id } }`, {}));
    expect(counted.statements.length).toBeGreaterThan(0);
  });

  it("returns every room with its last message, unread count, first members and the viewer's membership", async () => {
    const rooms = (await api.ok(owner, MY_ROOMS, { first: ROOMS })).myRooms;
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
    let statementsForAll: string[] = [];
    // once unmeasured, so nothing one-off (connections, caches) is counted
    await api.ok(owner, MY_ROOMS, { first: 5 });
    for (const first of [1, 5, 30, ROOMS]) {
      const { result, statements } = await countStatements(() => api.ok(owner, MY_ROOMS, { first }));
      expect(result.myRooms.edges).toHaveLength(first);
      counts[first] = statements.length;
      if (first === ROOMS) statementsForAll = statements;
    }
    const report = JSON.stringify({ counts, statementsForAll }, null, 1);
    if (process.env.STATEMENTS_REPORT) console.log(report);
    expect(counts[5], report).toBe(counts[1]);
    expect(counts[30], report).toBe(counts[5]);
    expect(counts[ROOMS], report).toBe(counts[30]);
    expect(counts[ROOMS], report).toBeLessThanOrEqual(5);
  });
});

describe("messages (a history page)", () => {
  const PAGE = 50;
  let roomId: string;

  beforeAll(async () => {
    roomId = (
      await api.ok(owner, `mutation($m: [ID!]) { createRoom(input: { name: "history", type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id, carol.id, dave.id],
      })
    ).createRoom.id;
    const senders = [owner, bob, carol];
    for (let i = 0; i < PAGE + 5; i++) {
      const id = (
        await gqlOk(
          server.url,
          `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`,
          { r: roomId, c: `m${i}` },
          senders[i % 3]!.accessToken,
        )
      ).sendMessage.id;
      // reactions on most messages: two emoji, up to three users
      for (const [user, emoji] of [
        [bob, "👍"],
        [carol, "👍"],
        [dave, "🎉"],
      ] as const) {
        if ((i + user.username.length) % 4 !== 0) {
          await api.ok(user, `mutation($id: ID!, $e: String!) { addReaction(messageId: $id, emoji: $e) { id } }`, { id, e: emoji });
        }
      }
    }
  }, 120_000);

  const HISTORY = `query($r: ID!, $first: Int, $after: String) { messages(roomId: $r, first: $first, after: $after) {
    edges { cursor node {
      id seq content createdAt
      sender { id username displayName }
      reactions { emoji count viewerHasReacted users { username } }
    } }
    pageInfo { hasNextPage endCursor }
  } }`;

  it(`reads a page of ${PAGE} with senders and reactions in at most 4 SQL statements, whatever its size`, async () => {
    await api.ok(owner, HISTORY, { r: roomId, first: 5 }); // once unmeasured
    const counts: Record<number, number> = {};
    let page: any;
    let statementsForPage: string[] = [];
    for (const first of [1, 10, PAGE]) {
      const { result, statements } = await countStatements(() => api.ok(owner, HISTORY, { r: roomId, first }));
      expect(result.messages.edges).toHaveLength(first);
      counts[first] = statements.length;
      if (first === PAGE) [page, statementsForPage] = [result.messages, statements];
    }
    const report = JSON.stringify({ counts, statementsForPage }, null, 1);
    if (process.env.STATEMENTS_REPORT) console.log(report);
    expect(counts[10], report).toBe(counts[1]);
    expect(counts[PAGE], report).toBe(counts[10]);
    expect(counts[PAGE], report).toBeLessThanOrEqual(4);

    // and it is the right page: newest first, with each message's own sender and reactions
    const nodes = page.edges.map((e: any) => e.node);
    expect(nodes.map((n: any) => n.content)).toEqual(Array.from({ length: PAGE }, (_, k) => `m${PAGE + 4 - k}`));
    for (const node of nodes) {
      const i = Number(node.content.slice(1));
      expect(node.sender.username).toBe([owner, bob, carol][i % 3]!.username);
      const reacted = (
        [
          [bob, "👍"],
          [carol, "👍"],
          [dave, "🎉"],
        ] as const
      ).filter(([user]) => (i + user.username.length) % 4 !== 0);
      const expected = ["👍", "🎉"]
        .map((emoji) => ({ emoji, users: reacted.filter(([, e]) => e === emoji).map(([u]) => u.username) }))
        .filter((g) => g.users.length > 0);
      expect(
        node.reactions
          .map((g: any) => ({ emoji: g.emoji, users: g.users.map((u: any) => u.username).sort() }))
          .sort((a: any, b: any) => a.emoji.localeCompare(b.emoji)),
      ).toEqual(expected.map((g) => ({ ...g, users: g.users.sort() })).sort((a, b) => a.emoji.localeCompare(b.emoji)));
      for (const group of node.reactions) expect(group.count).toBe(group.users.length);
      expect(node.reactions.every((g: any) => g.viewerHasReacted === false)).toBe(true); // the owner reacted to none
    }
  });
});
