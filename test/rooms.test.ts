import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, gql, gqlOk, registerUser, registerUsers, type TestUser } from "./helpers/client.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let alice: TestUser, bob: TestUser, carol: TestUser;
beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, carol] = await registerUsers(server.url, ["alice", "bob", "carol"]);
});
afterAll(() => server.close());

const ROOM_FIELDS = `id type name description maxMembers memberCount members { role user { id } } viewerMembership { role }`;
const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { ${ROOM_FIELDS} } }`;
const createRoom = (user: TestUser, input: Record<string, unknown>) => gql(server.url, CREATE, { input }, user.accessToken);

describe("createRoom", () => {
  it("makes the creator OWNER and the listed users MEMBERs", async () => {
    const { createRoom: room } = await gqlOk(server.url, CREATE, { input: { name: " Team ", type: "GROUP", memberIds: [bob.id, bob.id, alice.id] } }, alice.accessToken);
    expect(room).toMatchObject({ type: "GROUP", name: "Team", maxMembers: 100, memberCount: 2, viewerMembership: { role: "OWNER" } });
    expect(room.members).toEqual([
      { role: "OWNER", user: { id: alice.id } },
      { role: "MEMBER", user: { id: bob.id } },
    ]);
  });

  it.each([
    [{ name: "", type: "GROUP" }, "input.name"],
    [{ name: "x".repeat(101), type: "GROUP" }, "input.name"],
    [{ name: "x", type: "GROUP", maxMembers: 1 }, "input.maxMembers"],
    [{ name: "x", type: "GROUP", memberIds: ["nope"] }, "input.memberIds.0"],
    [{ name: "x", type: "GROUP", memberIds: ["00000000-0000-4000-8000-000000000000"] }, "input.memberIds"],
  ])("refuses bad input %j with BAD_USER_INPUT on %s", async (input, field) => {
    const before = await server.app.db.room.count();
    const result = await createRoom(alice, input);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect(await server.app.db.room.count()).toBe(before);
  });

  it("needs a logged-in user", async () => {
    expect(errorCode(await gql(server.url, CREATE, { input: { name: "x", type: "GROUP" } }))).toBe("UNAUTHENTICATED");
  });
});

describe("directRoom", () => {
  it("creates the pair's room once, whoever asks and however often, even concurrently", async () => {
    const DIRECT = `mutation($id: ID!) { directRoom(userId: $id) { id type maxMembers memberCount } }`;
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => gqlOk(server.url, DIRECT, { id: carol.id }, bob.accessToken)),
      ...Array.from({ length: 5 }, () => gqlOk(server.url, DIRECT, { id: bob.id }, carol.accessToken)),
    ]);
    const ids = new Set(results.map((r) => r.directRoom.id));
    expect(ids.size).toBe(1);
    expect(results[0].directRoom).toMatchObject({ type: "DIRECT", maxMembers: 2, memberCount: 2 });
  });

  it("refuses oneself (BAD_USER_INPUT) and unknown users (NOT_FOUND)", async () => {
    const DIRECT = `mutation($id: ID!) { directRoom(userId: $id) { id } }`;
    expect((await gql(server.url, DIRECT, { id: alice.id }, alice.accessToken)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    expect(errorCode(await gql(server.url, DIRECT, { id: "00000000-0000-4000-8000-000000000000" }, alice.accessToken))).toBe("NOT_FOUND");
  });

  it("reads a user ID in upper case as the same user: oneself is refused, another user gets the pair's one room", async () => {
    const DIRECT = `mutation($id: ID!) { directRoom(userId: $id) { id } }`;
    expect((await gql(server.url, DIRECT, { id: alice.id.toUpperCase() }, alice.accessToken)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    const lower = await gqlOk(server.url, DIRECT, { id: carol.id }, alice.accessToken);
    const upper = await gqlOk(server.url, DIRECT, { id: carol.id.toUpperCase() }, alice.accessToken);
    expect(upper.directRoom.id).toBe(lower.directRoom.id);
  });
});

describe("joinRoom and leaveRoom", () => {
  it("lets anyone join a PUBLIC room, and no one join a GROUP room uninvited", async () => {
    const pub = (await gqlOk(server.url, CREATE, { input: { name: "Lobby", type: "PUBLIC" } }, alice.accessToken)).createRoom;
    const group = (await gqlOk(server.url, CREATE, { input: { name: "Secret", type: "GROUP" } }, alice.accessToken)).createRoom;
    const JOIN = `mutation($id: ID!) { joinRoom(roomId: $id) { id memberCount viewerMembership { role } } }`;
    const joined = await gqlOk(server.url, JOIN, { id: pub.id }, carol.accessToken);
    expect(joined.joinRoom).toMatchObject({ memberCount: 2, viewerMembership: { role: "MEMBER" } });
    expect((await gqlOk(server.url, JOIN, { id: pub.id }, carol.accessToken)).joinRoom.memberCount).toBe(2);
    expect(errorCode(await gql(server.url, JOIN, { id: group.id }, carol.accessToken))).toBe("NOT_FOUND");
  });

  it("keeps maxMembers under concurrent joins", async () => {
    const room = (await gqlOk(server.url, CREATE, { input: { name: "Tiny", type: "PUBLIC", maxMembers: 3 } }, alice.accessToken)).createRoom;
    const joiners = await Promise.all(Array.from({ length: 6 }, (_, i) => registerUser(server.url, `j${i}`)));
    const results = await Promise.all(joiners.map((u) => gql(server.url, `mutation($id: ID!) { joinRoom(roomId: $id) { id } }`, { id: room.id }, u.accessToken)));
    expect(results.filter((r) => !r.errors).length).toBe(2);
    expect(results.filter((r) => errorCode(r) === "FORBIDDEN").length).toBe(4);
    expect(await server.app.db.roomMember.count({ where: { roomId: room.id } })).toBe(3);
  });

  it("refuses the owner leaving a room with others in it, then lets them leave once another is OWNER; the last member leaving deletes it", async () => {
    const room = (await gqlOk(server.url, CREATE, { input: { name: "Hand-over", type: "GROUP", memberIds: [bob.id] } }, alice.accessToken)).createRoom;
    const LEAVE = `mutation($id: ID!) { leaveRoom(roomId: $id) }`;
    expect(errorCode(await gql(server.url, LEAVE, { id: room.id }, alice.accessToken))).toBe("FORBIDDEN");
    await gqlOk(server.url, `mutation($r: ID!, $u: ID!) { transferOwnership(roomId: $r, userId: $u) { id } }`, { r: room.id, u: bob.id }, alice.accessToken);
    expect((await gqlOk(server.url, LEAVE, { id: room.id }, alice.accessToken)).leaveRoom).toBe(true);
    expect((await gqlOk(server.url, LEAVE, { id: room.id }, bob.accessToken)).leaveRoom).toBe(true);
    expect(await server.app.db.room.findUnique({ where: { id: room.id } })).toBeNull();
    expect(errorCode(await gql(server.url, LEAVE, { id: room.id }, bob.accessToken))).toBe("NOT_FOUND");
  });
});

describe("addRoomMember", () => {
  const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role user { id } room { id memberCount } } }`;

  it("lets the OWNER add ADMINs or MEMBERs and ADMINs add MEMBERs only; MEMBERs add no one", async () => {
    const dave = await registerUser(server.url, "dave");
    const erin = await registerUser(server.url, "erin");
    const room = (await gqlOk(server.url, CREATE, { input: { name: "Roles", type: "GROUP" } }, alice.accessToken)).createRoom;
    const added = await gqlOk(server.url, ADD, { r: room.id, u: bob.id, role: "ADMIN" }, alice.accessToken);
    expect(added.addRoomMember).toMatchObject({ role: "ADMIN", user: { id: bob.id }, room: { id: room.id, memberCount: 2 } });
    expect(errorCode(await gql(server.url, ADD, { r: room.id, u: carol.id, role: "ADMIN" }, bob.accessToken))).toBe("FORBIDDEN");
    await gqlOk(server.url, ADD, { r: room.id, u: carol.id }, bob.accessToken);
    expect(errorCode(await gql(server.url, ADD, { r: room.id, u: dave.id }, carol.accessToken))).toBe("FORBIDDEN");
    expect(errorCode(await gql(server.url, ADD, { r: room.id, u: erin.id }, dave.accessToken))).toBe("NOT_FOUND");
    expect((await gql(server.url, ADD, { r: room.id, u: carol.id }, alice.accessToken)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
  });
});

describe("room and myRooms", () => {
  it("shows members their rooms, most recent activity first, and hides GROUP rooms from others", async () => {
    const frank = await registerUser(server.url, "frank");
    const ids: string[] = [];
    for (const name of ["first", "second", "third"]) {
      ids.push((await gqlOk(server.url, CREATE, { input: { name, type: "GROUP" } }, frank.accessToken)).createRoom.id);
    }
    await gqlOk(server.url, `mutation($id: ID!) { sendMessage(input: { roomId: $id, content: "bump" }) { id } }`, { id: ids[0] }, frank.accessToken);
    const MY = `query($after: String) { myRooms(first: 2, after: $after) { edges { cursor node { id name lastMessage { content } unreadCount } } pageInfo { hasNextPage endCursor } } }`;
    const page1 = (await gqlOk(server.url, MY, {}, frank.accessToken)).myRooms;
    expect(page1.edges.map((e: any) => e.node.name)).toEqual(["first", "third"]);
    expect(page1.edges[0].node).toMatchObject({ lastMessage: { content: "bump" }, unreadCount: 0 });
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await gqlOk(server.url, MY, { after: page1.pageInfo.endCursor }, frank.accessToken)).myRooms;
    expect(page2.edges.map((e: any) => e.node.name)).toEqual(["second"]);
    expect(page2.pageInfo.hasNextPage).toBe(false);

    const ROOM = `query($id: ID!) { room(id: $id) { id } }`;
    expect((await gqlOk(server.url, ROOM, { id: ids[0] }, frank.accessToken)).room.id).toBe(ids[0]);
    expect((await gqlOk(server.url, ROOM, { id: ids[0] }, alice.accessToken)).room).toBeNull();
    expect((await gql(server.url, ROOM, { id: "not-a-uuid" }, alice.accessToken)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "id" });
  });
});

describe("autoJoinPublicRooms", () => {
  it("adds the users who turned it on to new PUBLIC rooms while there is room, and to nothing else", async () => {
    const [host, eager, other] = await registerUsers(server.url, ["host", "eager", "other"]);
    await gqlOk(server.url, `mutation { updateSettings(input: { autoJoinPublicRooms: true }) { autoJoinPublicRooms } }`, {}, eager.accessToken);
    const make = async (input: Record<string, unknown>) => (await gqlOk(server.url, CREATE, { input }, host.accessToken)).createRoom.id as string;
    const membership = async (roomId: string) =>
      (await gqlOk(server.url, `query($id: ID!) { room(id: $id) { viewerMembership { role } } }`, { id: roomId }, eager.accessToken)).room?.viewerMembership ?? null;

    expect(await membership(await make({ name: "Open", type: "PUBLIC" }))).toEqual({ role: "MEMBER" });
    expect(await membership(await make({ name: "Closed", type: "GROUP" }))).toBeNull();
    expect(await membership(await make({ name: "Full", type: "PUBLIC", maxMembers: 2, memberIds: [other.id] }))).toBeNull();
  });
});
