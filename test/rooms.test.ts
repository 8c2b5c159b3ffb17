import { describe, expect, it } from "vitest";
import { errorCode, gql, registerUser, registerUsers, type TestUser } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api,
  users: [alice, bob, carol],
} = useTestServer(["alice", "bob", "carol"]);

const ROOM_FIELDS = `id type name description maxMembers memberCount members { role user { id } } viewerMembership { role }`;
const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { ${ROOM_FIELDS} } }`;
const createRoom = (user: TestUser, input: Record<string, unknown>) => api.run(user, CREATE, { input });

describe("createRoom", () => {
  it("makes the creator OWNER and the listed users MEMBERs", async () => {
    const { createRoom: room } = await api.ok(alice, CREATE, {
      input: { name: " Team ", type: "GROUP", memberIds: [bob.id, bob.id, alice.id] },
    });
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
      ...Array.from({ length: 5 }, () => api.ok(bob, DIRECT, { id: carol.id })),
      ...Array.from({ length: 5 }, () => api.ok(carol, DIRECT, { id: bob.id })),
    ]);
    const ids = new Set(results.map((r) => r.directRoom.id));
    expect(ids.size).toBe(1);
    expect(results[0].directRoom).toMatchObject({ type: "DIRECT", maxMembers: 2, memberCount: 2 });
  });

  it("refuses oneself (BAD_USER_INPUT) and unknown users (NOT_FOUND)", async () => {
    const DIRECT = `mutation($id: ID!) { directRoom(userId: $id) { id } }`;
    expect((await api.run(alice, DIRECT, { id: alice.id })).errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "userId",
    });
    expect(errorCode(await api.run(alice, DIRECT, { id: "00000000-0000-4000-8000-000000000000" }))).toBe("NOT_FOUND");
  });

  it("reads a user ID in upper case as the same user: oneself is refused, another user gets the pair's one room", async () => {
    const DIRECT = `mutation($id: ID!) { directRoom(userId: $id) { id } }`;
    expect((await api.run(alice, DIRECT, { id: alice.id.toUpperCase() })).errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "userId",
    });
    const lower = await api.ok(alice, DIRECT, { id: carol.id });
    const upper = await api.ok(alice, DIRECT, { id: carol.id.toUpperCase() });
    expect(upper.directRoom.id).toBe(lower.directRoom.id);
  });
});

describe("joinRoom and leaveRoom", () => {
  it("lets anyone join a PUBLIC room, and no one join a GROUP room uninvited", async () => {
    const pub = (await api.ok(alice, CREATE, { input: { name: "Lobby", type: "PUBLIC" } })).createRoom;
    const group = (await api.ok(alice, CREATE, { input: { name: "Secret", type: "GROUP" } })).createRoom;
    const JOIN = `mutation($id: ID!) { joinRoom(roomId: $id) { id memberCount viewerMembership { role } } }`;
    const joined = await api.ok(carol, JOIN, { id: pub.id });
    expect(joined.joinRoom).toMatchObject({ memberCount: 2, viewerMembership: { role: "MEMBER" } });
    expect((await api.ok(carol, JOIN, { id: pub.id })).joinRoom.memberCount).toBe(2);
    expect(errorCode(await api.run(carol, JOIN, { id: group.id }))).toBe("NOT_FOUND");
  });

  it("keeps maxMembers under concurrent joins", async () => {
    const room = (await api.ok(alice, CREATE, { input: { name: "Tiny", type: "PUBLIC", maxMembers: 3 } })).createRoom;
    const joiners = await Promise.all(Array.from({ length: 6 }, (_, i) => registerUser(server.url, `j${i}`)));
    const results = await Promise.all(
      joiners.map((u) => api.run(u, `mutation($id: ID!) { joinRoom(roomId: $id) { id } }`, { id: room.id })),
    );
    expect(results.filter((r) => !r.errors).length).toBe(2);
    expect(results.filter((r) => errorCode(r) === "FORBIDDEN").length).toBe(4);
    expect(await server.app.db.roomMember.count({ where: { roomId: room.id } })).toBe(3);
  });

  it("refuses the owner leaving a room with others in it, then lets them leave once another is OWNER; the last member leaving deletes it", async () => {
    const room = (await api.ok(alice, CREATE, { input: { name: "Hand-over", type: "GROUP", memberIds: [bob.id] } })).createRoom;
    const LEAVE = `mutation($id: ID!) { leaveRoom(roomId: $id) }`;
    expect(errorCode(await api.run(alice, LEAVE, { id: room.id }))).toBe("FORBIDDEN");
    await api.ok(alice, `mutation($r: ID!, $u: ID!) { transferOwnership(roomId: $r, userId: $u) { id } }`, { r: room.id, u: bob.id });
    expect((await api.ok(alice, LEAVE, { id: room.id })).leaveRoom).toBe(true);
    expect((await api.ok(bob, LEAVE, { id: room.id })).leaveRoom).toBe(true);
    expect(await server.app.db.room.findUnique({ where: { id: room.id } })).toBeNull();
    expect(errorCode(await api.run(bob, LEAVE, { id: room.id }))).toBe("NOT_FOUND");
  });
});

describe("addRoomMember", () => {
  const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role user { id } room { id memberCount } } }`;

  it("lets the OWNER add ADMINs or MEMBERs and ADMINs add MEMBERs only; MEMBERs add no one", async () => {
    const dave = await registerUser(server.url, "dave");
    const erin = await registerUser(server.url, "erin");
    const room = (await api.ok(alice, CREATE, { input: { name: "Roles", type: "GROUP" } })).createRoom;
    const added = await api.ok(alice, ADD, { r: room.id, u: bob.id, role: "ADMIN" });
    expect(added.addRoomMember).toMatchObject({ role: "ADMIN", user: { id: bob.id }, room: { id: room.id, memberCount: 2 } });
    expect(errorCode(await api.run(bob, ADD, { r: room.id, u: carol.id, role: "ADMIN" }))).toBe("FORBIDDEN");
    await api.ok(bob, ADD, { r: room.id, u: carol.id });
    expect(errorCode(await api.run(carol, ADD, { r: room.id, u: dave.id }))).toBe("FORBIDDEN");
    expect(errorCode(await api.run(dave, ADD, { r: room.id, u: erin.id }))).toBe("NOT_FOUND");
    expect((await api.run(alice, ADD, { r: room.id, u: carol.id })).errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "userId",
    });
  });
});

describe("room and myRooms", () => {
  it("shows members their rooms, most recent activity first, and hides GROUP rooms from others", async () => {
    const frank = await registerUser(server.url, "frank");
    const ids: string[] = [];
    for (const name of ["first", "second", "third"]) {
      ids.push((await api.ok(frank, CREATE, { input: { name, type: "GROUP" } })).createRoom.id);
    }
    await api.ok(frank, `mutation($id: ID!) { sendMessage(input: { roomId: $id, content: "bump" }) { id } }`, { id: ids[0] });
    const MY = `query($after: String) { myRooms(first: 2, after: $after) { edges { cursor node { id name lastMessage { content } unreadCount } } pageInfo { hasNextPage endCursor } } }`;
    const page1 = (await api.ok(frank, MY, {})).myRooms;
    expect(page1.edges.map((e: any) => e.node.name)).toEqual(["first", "third"]);
    expect(page1.edges[0].node).toMatchObject({ lastMessage: { content: "bump" }, unreadCount: 0 });
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await api.ok(frank, MY, { after: page1.pageInfo.endCursor })).myRooms;
    expect(page2.edges.map((e: any) => e.node.name)).toEqual(["second"]);
    expect(page2.pageInfo.hasNextPage).toBe(false);

    const ROOM = `query($id: ID!) { room(id: $id) { id } }`;
    expect((await api.ok(frank, ROOM, { id: ids[0] })).room.id).toBe(ids[0]);
    expect((await api.ok(alice, ROOM, { id: ids[0] })).room).toBeNull();
    expect((await api.run(alice, ROOM, { id: "not-a-uuid" })).errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "id",
    });
  });
});

describe("autoJoinPublicRooms", () => {
  it("adds the users who turned it on to new PUBLIC rooms while there is room, and to nothing else", async () => {
    const [host, eager, other] = await registerUsers(server.url, ["host", "eager", "other"]);
    await api.ok(eager, `mutation { updateSettings(input: { autoJoinPublicRooms: true }) { autoJoinPublicRooms } }`, {});
    const make = async (input: Record<string, unknown>) => (await api.ok(host, CREATE, { input })).createRoom.id as string;
    const membership = async (roomId: string) =>
      (await api.ok(eager, `query($id: ID!) { room(id: $id) { viewerMembership { role } } }`, { id: roomId })).room?.viewerMembership ??
      null;

    expect(await membership(await make({ name: "Open", type: "PUBLIC" }))).toEqual({ role: "MEMBER" });
    expect(await membership(await make({ name: "Closed", type: "GROUP" }))).toBeNull();
    expect(await membership(await make({ name: "Full", type: "PUBLIC", maxMembers: 2, memberIds: [other.id] }))).toBeNull();
  });
});
