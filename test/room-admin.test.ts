/**
 * Room administration (issue 3 contract): updateRoom, deleteRoom, addRoomMember,
 * removeRoomMember, updateMemberRole, transferOwnership and leaveRoom role rules;
 * BROADCAST rooms (only OWNER/ADMIN send); maxMembers under concurrent
 * acceptInvite/joinRoom; publicRooms search and paging; per-member archive and mute.
 */
import { describe, expect, it } from "vitest";
import { errorCode, ext, registerUser, registerUsers, type TestUser } from "./helpers/client.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api,
  api: { run, ok },
  users: [alice, bob, carol, dave, erin],
} = useTestServer(["alice", "bob", "carol", "dave", "erin"]);

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role user { id } room { id memberCount } } }`;
const REMOVE = `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`;
const SET_ROLE = `mutation($r: ID!, $u: ID!, $role: RoomRole!) { updateMemberRole(roomId: $r, userId: $u, role: $role) { role user { id } } }`;
const TRANSFER = `mutation($r: ID!, $u: ID!) { transferOwnership(roomId: $r, userId: $u) { id members { role user { id } } } }`;
const LEAVE = `mutation($r: ID!) { leaveRoom(roomId: $r) }`;
const UPDATE = `mutation($r: ID!, $input: UpdateRoomInput!) { updateRoom(roomId: $r, input: $input) { id name description avatar maxMembers updatedAt } }`;
const DELETE = `mutation($r: ID!) { deleteRoom(roomId: $r) }`;
const JOIN = `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`;
const INVITE = `mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }`;
const ACCEPT = `mutation($id: ID!) { acceptInvite(id: $id) { id } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
const ROOM = `query($id: ID!) { room(id: $id) { id name } }`;

/**
 * A room owned by `owner` with the given ADMINs and MEMBERs (added with
 * createRoom memberIds and addRoomMember, the pre-issue-3 ways).
 */

/** `userId → role` of a room, straight from the database. */
async function roles(roomId: string): Promise<Record<string, string>> {
  const rows = await server.app.db.roomMember.findMany({ where: { roomId }, select: { userId: true, role: true } });
  return Object.fromEntries(rows.map((r) => [r.userId, r.role]));
}

describe("updateRoom", () => {
  it("lets the OWNER and ADMINs change name, description, avatar and maxMembers", async () => {
    const r = await makeRoom(api, alice, { admins: [bob], members: [carol] });
    const byOwner = (await ok(alice, UPDATE, { r, input: { name: "Renamed", description: "About", avatar: "https://example.com/a.png" } }))
      .updateRoom;
    expect(byOwner).toMatchObject({ id: r, name: "Renamed", description: "About", avatar: "https://example.com/a.png", maxMembers: 100 });
    const byAdmin = (await ok(bob, UPDATE, { r, input: { maxMembers: 10 } })).updateRoom;
    // omitted fields are unchanged
    expect(byAdmin).toMatchObject({ name: "Renamed", description: "About", avatar: "https://example.com/a.png", maxMembers: 10 });
    expect(new Date(byAdmin.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(byOwner.updatedAt).getTime());
    expect(await server.app.db.room.findUnique({ where: { id: r }, select: { name: true, maxMembers: true } })).toEqual({
      name: "Renamed",
      maxMembers: 10,
    });
  });

  it("refuses a MEMBER (FORBIDDEN) and a non-member of a GROUP room (NOT_FOUND), changing nothing", async () => {
    const r = await makeRoom(api, alice, { members: [carol], name: "Unchanged" });
    expect(errorCode(await run(carol, UPDATE, { r, input: { name: "Hijacked" } }))).toBe("FORBIDDEN");
    expect(errorCode(await run(dave, UPDATE, { r, input: { name: "Hijacked" } }))).toBe("NOT_FOUND");
    expect((await ok(alice, ROOM, { id: r })).room.name).toBe("Unchanged");
  });

  it("refuses maxMembers below the current member count (BAD_USER_INPUT on input.maxMembers); equal is fine", async () => {
    const r = await makeRoom(api, alice, { admins: [bob], members: [carol] });
    expect(ext(await run(alice, UPDATE, { r, input: { maxMembers: 2 } }))).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.maxMembers",
    });
    expect((await ok(alice, UPDATE, { r, input: { maxMembers: 3 } })).updateRoom.maxMembers).toBe(3);
  });

  it.each([
    [{ name: "" }, "input.name"],
    [{ name: "   " }, "input.name"],
    [{ name: "x".repeat(101) }, "input.name"],
    [{ maxMembers: 100_000 }, "input.maxMembers"],
  ])("refuses %j with BAD_USER_INPUT on %s", async (input, field) => {
    const r = await makeRoom(api, alice, { name: "Valid" });
    expect(ext(await run(alice, UPDATE, { r, input }))).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect((await ok(alice, ROOM, { id: r })).room.name).toBe("Valid");
  });

  it("refuses DIRECT rooms (FORBIDDEN); deleteRoom only hides one (test/direct-hide.test.ts)", async () => {
    const direct = (await ok(alice, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: erin.id })).directRoom.id;
    expect(errorCode(await run(alice, UPDATE, { r: direct, input: { name: "x" } }))).toBe("FORBIDDEN");
    expect((await ok(alice, DELETE, { r: direct })).deleteRoom).toBe(true);
    expect(errorCode(await run(alice, ADD, { r: direct, u: bob.id }))).toBe("FORBIDDEN");
    expect(errorCode(await run(alice, REMOVE, { r: direct, u: erin.id }))).toBe("FORBIDDEN");
    expect(await server.app.db.roomMember.count({ where: { roomId: direct } })).toBe(2);
  });
});

describe("deleteRoom", () => {
  it("is the OWNER's only: ADMIN and MEMBER get FORBIDDEN; afterwards the room is gone", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC", admins: [bob], members: [carol] });
    await ok(carol, SEND, { r, c: "soon gone" });
    expect(errorCode(await run(bob, DELETE, { r }))).toBe("FORBIDDEN");
    expect(errorCode(await run(carol, DELETE, { r }))).toBe("FORBIDDEN");
    // a PUBLIC room is visible to anyone while it exists
    expect((await ok(dave, ROOM, { id: r })).room).toMatchObject({ id: r });

    expect((await ok(alice, DELETE, { r })).deleteRoom).toBe(true);
    expect((await ok(alice, ROOM, { id: r })).room).toBeNull();
    expect((await ok(dave, ROOM, { id: r })).room).toBeNull();
    expect(await server.app.db.roomMember.count({ where: { roomId: r } })).toBe(0);
    expect(await server.app.db.message.count({ where: { roomId: r } })).toBe(0);
  });

  it("gives NOT_FOUND for an unknown room", async () => {
    expect(errorCode(await run(alice, DELETE, { r: UNKNOWN_ID }))).toBe("NOT_FOUND");
  });
});

describe("addRoomMember", () => {
  it("lets an ADMIN add a MEMBER but not an ADMIN", async () => {
    const r = await makeRoom(api, alice, { admins: [bob] });
    expect((await ok(bob, ADD, { r, u: carol.id })).addRoomMember).toMatchObject({
      role: "MEMBER",
      user: { id: carol.id },
      room: { id: r, memberCount: 3 },
    });
    expect(errorCode(await run(bob, ADD, { r, u: dave.id, role: "ADMIN" }))).toBe("FORBIDDEN");
    expect((await roles(r))[dave.id]).toBeUndefined();
  });

  it("refuses role OWNER (BAD_USER_INPUT on role), even from the OWNER", async () => {
    const r = await makeRoom(api, alice);
    expect(ext(await run(alice, ADD, { r, u: carol.id, role: "OWNER" }))).toMatchObject({ code: "BAD_USER_INPUT", field: "role" });
    expect((await roles(r))[carol.id]).toBeUndefined();
  });

  it("refuses a user who is already a member (BAD_USER_INPUT on userId)", async () => {
    const r = await makeRoom(api, alice, { members: [carol] });
    expect(ext(await run(alice, ADD, { r, u: carol.id, role: "ADMIN" }))).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    expect((await roles(r))[carol.id]).toBe("MEMBER");
  });

  it("refuses adding to a full room (FORBIDDEN)", async () => {
    const r = await makeRoom(api, alice, { members: [bob], maxMembers: 2 });
    expect(errorCode(await run(alice, ADD, { r, u: carol.id }))).toBe("FORBIDDEN");
    expect(await server.app.db.roomMember.count({ where: { roomId: r } })).toBe(2);
  });
});

describe("removeRoomMember", () => {
  it("lets the OWNER remove an ADMIN and an ADMIN remove a MEMBER", async () => {
    const r = await makeRoom(api, alice, { admins: [bob, dave], members: [carol] });
    expect((await ok(alice, REMOVE, { r, u: dave.id })).removeRoomMember).toBe(true);
    expect((await ok(bob, REMOVE, { r, u: carol.id })).removeRoomMember).toBe(true);
    expect(await roles(r)).toEqual({ [alice.id]: "OWNER", [bob.id]: "ADMIN" });
  });

  it("refuses an ADMIN removing an ADMIN or the OWNER, and a MEMBER removing anyone (FORBIDDEN)", async () => {
    const r = await makeRoom(api, alice, { admins: [bob, dave], members: [carol, erin] });
    expect(errorCode(await run(bob, REMOVE, { r, u: dave.id }))).toBe("FORBIDDEN");
    expect(errorCode(await run(bob, REMOVE, { r, u: alice.id }))).toBe("FORBIDDEN");
    expect(errorCode(await run(carol, REMOVE, { r, u: erin.id }))).toBe("FORBIDDEN");
    expect(Object.keys(await roles(r))).toHaveLength(5);
  });

  it("refuses removing oneself (BAD_USER_INPUT on userId) and a non-member (NOT_FOUND)", async () => {
    const r = await makeRoom(api, alice, { admins: [bob] });
    expect(ext(await run(bob, REMOVE, { r, u: bob.id }))).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    expect(ext(await run(alice, REMOVE, { r, u: alice.id }))).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    expect(errorCode(await run(alice, REMOVE, { r, u: carol.id }))).toBe("NOT_FOUND");
    expect(await roles(r)).toEqual({ [alice.id]: "OWNER", [bob.id]: "ADMIN" });
  });
});

describe("updateMemberRole", () => {
  it("lets the OWNER promote and demote", async () => {
    const r = await makeRoom(api, alice, { members: [carol] });
    expect((await ok(alice, SET_ROLE, { r, u: carol.id, role: "ADMIN" })).updateMemberRole).toEqual({
      role: "ADMIN",
      user: { id: carol.id },
    });
    expect((await roles(r))[carol.id]).toBe("ADMIN");
    expect((await ok(alice, SET_ROLE, { r, u: carol.id, role: "MEMBER" })).updateMemberRole.role).toBe("MEMBER");
    expect((await roles(r))[carol.id]).toBe("MEMBER");
  });

  it("is the OWNER's only (an ADMIN gets FORBIDDEN), and refuses role OWNER (BAD_USER_INPUT on role)", async () => {
    const r = await makeRoom(api, alice, { admins: [bob], members: [carol] });
    expect(errorCode(await run(bob, SET_ROLE, { r, u: carol.id, role: "ADMIN" }))).toBe("FORBIDDEN");
    expect(errorCode(await run(carol, SET_ROLE, { r, u: carol.id, role: "ADMIN" }))).toBe("FORBIDDEN");
    expect(ext(await run(alice, SET_ROLE, { r, u: carol.id, role: "OWNER" }))).toMatchObject({ code: "BAD_USER_INPUT", field: "role" });
    expect(await roles(r)).toEqual({ [alice.id]: "OWNER", [bob.id]: "ADMIN", [carol.id]: "MEMBER" });
  });
});

describe("transferOwnership", () => {
  it("makes the target OWNER and the old owner ADMIN; the old owner can no longer transfer", async () => {
    const r = await makeRoom(api, alice, { members: [carol, bob] });
    const room = (await ok(alice, TRANSFER, { r, u: carol.id })).transferOwnership;
    expect(room.id).toBe(r);
    expect(room.members).toEqual(
      expect.arrayContaining([
        { role: "OWNER", user: { id: carol.id } },
        { role: "ADMIN", user: { id: alice.id } },
      ]),
    );
    expect(await roles(r)).toEqual({ [carol.id]: "OWNER", [alice.id]: "ADMIN", [bob.id]: "MEMBER" });
    expect(errorCode(await run(alice, TRANSFER, { r, u: bob.id }))).toBe("FORBIDDEN");
    expect(await roles(r)).toEqual({ [carol.id]: "OWNER", [alice.id]: "ADMIN", [bob.id]: "MEMBER" });
  });

  it("refuses non-owners (FORBIDDEN) and a target who is not a member (NOT_FOUND)", async () => {
    const r = await makeRoom(api, alice, { admins: [bob], members: [carol] });
    expect(errorCode(await run(bob, TRANSFER, { r, u: carol.id }))).toBe("FORBIDDEN");
    expect(errorCode(await run(alice, TRANSFER, { r, u: dave.id }))).toBe("NOT_FOUND");
    expect(await roles(r)).toEqual({ [alice.id]: "OWNER", [bob.id]: "ADMIN", [carol.id]: "MEMBER" });
  });
});

describe("leaveRoom", () => {
  it("refuses the OWNER while others remain (FORBIDDEN), then lets them leave after transferOwnership", async () => {
    const r = await makeRoom(api, alice, { members: [carol] });
    expect(errorCode(await run(alice, LEAVE, { r }))).toBe("FORBIDDEN");
    await ok(alice, TRANSFER, { r, u: carol.id });
    expect((await ok(alice, LEAVE, { r })).leaveRoom).toBe(true);
    expect(await roles(r)).toEqual({ [carol.id]: "OWNER" });
  });

  it("deletes the room when its last member leaves", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC", members: [carol] });
    await ok(carol, LEAVE, { r });
    expect((await ok(dave, ROOM, { id: r })).room).toMatchObject({ id: r });
    expect((await ok(alice, LEAVE, { r })).leaveRoom).toBe(true);
    expect((await ok(dave, ROOM, { id: r })).room).toBeNull();
    expect(await server.app.db.room.findUnique({ where: { id: r } })).toBeNull();
  });
});

describe("BROADCAST rooms", () => {
  it("can be created, with an avatar", async () => {
    const room = (
      await ok(
        alice,
        `mutation($input: CreateRoomInput!) { createRoom(input: $input) { type avatar updatedAt viewerMembership { role } } }`,
        {
          input: { name: "News", type: "BROADCAST", avatar: "https://example.com/news.png" },
        },
      )
    ).createRoom;
    expect(room).toMatchObject({ type: "BROADCAST", avatar: "https://example.com/news.png", viewerMembership: { role: "OWNER" } });
    expect(Number.isNaN(Date.parse(room.updatedAt))).toBe(false);
  });

  it("let only the OWNER and ADMINs send messages (MEMBER gets FORBIDDEN)", async () => {
    const r = await makeRoom(api, alice, { type: "BROADCAST", admins: [bob], members: [carol] });
    expect(errorCode(await run(carol, SEND, { r, c: "may I?" }))).toBe("FORBIDDEN");
    await ok(alice, SEND, { r, c: "from the owner" });
    await ok(bob, SEND, { r, c: "from an admin" });
    const stored = await server.app.db.message.findMany({ where: { roomId: r }, orderBy: { seq: "asc" }, select: { content: true } });
    expect(stored.map((m) => m.content)).toEqual(["from the owner", "from an admin"]);
  });

  it("cannot be joined uninvited", async () => {
    const r = await makeRoom(api, alice, { type: "BROADCAST" });
    const result = await run(dave, JOIN, { r });
    expect(["NOT_FOUND", "FORBIDDEN"]).toContain(errorCode(result));
    expect((await roles(r))[dave.id]).toBeUndefined();
  });
});

describe("maxMembers under concurrency", () => {
  it("is never exceeded by many concurrent acceptInvite and joinRoom calls on a nearly full room", async () => {
    // PUBLIC room, 5 seats, 2 taken: 3 free seats for 16 concurrent claims
    const r = await makeRoom(api, alice, { type: "PUBLIC", members: [bob], maxMembers: 5 });
    const invitees = await Promise.all(Array.from({ length: 8 }, (_, i) => registerUser(server.url, `inv${i}`)));
    const joiners = await Promise.all(Array.from({ length: 8 }, (_, i) => registerUser(server.url, `join${i}`)));
    const inviteIds: string[] = [];
    for (const u of invitees) inviteIds.push((await ok(alice, INVITE, { r, u: u.id })).inviteToRoom.id);

    const results = await Promise.all([
      ...invitees.map((u, i) => run(u, ACCEPT, { id: inviteIds[i] })),
      ...joiners.map((u) => run(u, JOIN, { r })),
    ]);
    const succeeded = results.filter((x) => !x.errors);
    expect(results.filter((x) => x.errors).map(errorCode)).toEqual(Array(13).fill("FORBIDDEN"));
    expect(succeeded).toHaveLength(3);
    expect(await server.app.db.roomMember.count({ where: { roomId: r } })).toBe(5);
  });
});

describe("publicRooms", () => {
  const PUBLIC_ROOMS = `query($s: String, $first: Int, $after: String) {
    publicRooms(search: $s, first: $first, after: $after) { edges { cursor node { id name type } } pageInfo { hasNextPage endCursor } } }`;

  it("lists only PUBLIC rooms whose name contains the search, case-insensitively, most recent activity first, paged without duplicates", async () => {
    const token = `Zq${Math.random().toString(36).slice(2, 8)}`;
    const names = [`${token.toUpperCase()} one`, `two ${token}`, `three-${token.toLowerCase()}-x`, `four ${token}`, `five ${token}`];
    const ids: string[] = [];
    for (const name of names) ids.push(await makeRoom(api, alice, { type: "PUBLIC", name }));
    await makeRoom(api, alice, { type: "GROUP", name: `group ${token}` });
    await makeRoom(api, alice, { type: "BROADCAST", name: `broadcast ${token}` });
    await makeRoom(api, alice, { type: "PUBLIC", name: "unrelated" });
    // bump the oldest: it becomes the most recent
    await ok(alice, SEND, { r: ids[0], c: "bump" });
    const expected = [ids[0], ids[4], ids[3], ids[2], ids[1]];

    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      // searched by a non-member, in another case
      const res: any = (await ok(dave, PUBLIC_ROOMS, { s: token.toLowerCase(), first: 2, after })).publicRooms;
      expect(res.edges.length).toBeLessThanOrEqual(2);
      for (const edge of res.edges) expect(edge.node.type).toBe("PUBLIC");
      seen.push(...res.edges.map((e: any) => e.node.id));
      if (!res.pageInfo.hasNextPage) break;
      after = res.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);

    const upper = (await ok(dave, PUBLIC_ROOMS, { s: token.toUpperCase(), first: 50 })).publicRooms;
    expect(upper.edges.map((e: any) => e.node.id)).toEqual(expected);
  });

  it("without a search lists PUBLIC rooms only", async () => {
    const group = await makeRoom(api, alice, { type: "GROUP", name: "hidden group" });
    const pub = await makeRoom(api, alice, { type: "PUBLIC", name: "visible public" });
    const res = (await ok(dave, PUBLIC_ROOMS, { first: 100 })).publicRooms;
    const ids = res.edges.map((e: any) => e.node.id);
    expect(ids).toContain(pub);
    expect(ids).not.toContain(group);
    expect(new Set(res.edges.map((e: any) => e.node.type))).toEqual(new Set(["PUBLIC"]));
  });
});

describe("archive and mute (per member)", () => {
  const VM = `id viewerMembership { archived isMuted mutedUntil }`;
  const ARCHIVE = `mutation($r: ID!) { archiveRoom(roomId: $r) { ${VM} } }`;
  const UNARCHIVE = `mutation($r: ID!) { unarchiveRoom(roomId: $r) { ${VM} } }`;
  const MUTE = `mutation($r: ID!, $until: DateTime) { muteRoom(roomId: $r, until: $until) { ${VM} } }`;
  const UNMUTE = `mutation($r: ID!) { unmuteRoom(roomId: $r) { ${VM} } }`;
  const MY_ROOMS = `query($archived: Boolean) { myRooms(archived: $archived, first: 50) { edges { node { id viewerMembership { archived } } } } }`;
  const MY_ROOMS_DEFAULT = `{ myRooms(first: 50) { edges { node { id } } } }`;
  const myRoomIds = async (user: TestUser, variables: Record<string, unknown>) =>
    ((await ok(user, MY_ROOMS, variables)).myRooms.edges as any[]).map((e) => e.node.id as string).sort();

  it("archiveRoom moves a room between myRooms(archived: false) and myRooms(archived: true), for the viewer only", async () => {
    const [owner, other] = await registerUsers(server.url, ["arch_owner", "arch_other"]);
    const kept = await makeRoom(api, owner, { name: "kept", members: [other] });
    const archived = await makeRoom(api, owner, { name: "archived", members: [other] });

    expect((await ok(owner, ARCHIVE, { r: archived })).archiveRoom).toEqual({
      id: archived,
      viewerMembership: { archived: true, isMuted: false, mutedUntil: null },
    });
    expect(await myRoomIds(owner, { archived: false })).toEqual([kept]);
    expect(((await ok(owner, MY_ROOMS_DEFAULT)).myRooms.edges as any[]).map((e) => e.node.id)).toEqual([kept]);
    expect(await myRoomIds(owner, { archived: true })).toEqual([archived]);
    expect(await myRoomIds(owner, { archived: null })).toEqual([kept, archived].sort());
    // the other member still has both unarchived
    expect(await myRoomIds(other, { archived: false })).toEqual([kept, archived].sort());

    expect((await ok(owner, UNARCHIVE, { r: archived })).unarchiveRoom.viewerMembership.archived).toBe(false);
    expect(await myRoomIds(owner, { archived: false })).toEqual([kept, archived].sort());
    expect(await myRoomIds(owner, { archived: true })).toEqual([]);
  });

  it("muteRoom without until mutes indefinitely; with a future until sets mutedUntil; a past until is BAD_USER_INPUT; unmuteRoom clears", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    expect((await ok(alice, MUTE, { r })).muteRoom.viewerMembership).toEqual({ archived: false, isMuted: true, mutedUntil: null });

    const until = new Date(Date.now() + 3_600_000);
    const muted = (await ok(alice, MUTE, { r, until: until.toISOString() })).muteRoom.viewerMembership;
    expect(muted.isMuted).toBe(true);
    expect(new Date(muted.mutedUntil).getTime()).toBe(until.getTime());
    // visible through room(id) as well, and only for the viewer
    expect((await ok(alice, `query($id: ID!) { room(id: $id) { ${VM} } }`, { id: r })).room.viewerMembership.isMuted).toBe(true);
    expect((await ok(bob, `query($id: ID!) { room(id: $id) { ${VM} } }`, { id: r })).room.viewerMembership).toEqual({
      archived: false,
      isMuted: false,
      mutedUntil: null,
    });
    // private to alice: in the member list, bob reads her membership as not muted
    const members = (
      await ok(bob, `query($id: ID!) { room(id: $id) { members(first: 10) { user { id } isMuted mutedUntil archived } } }`, { id: r })
    ).room.members;
    expect(members.find((m: any) => m.user.id === alice.id)).toEqual({
      user: { id: alice.id },
      isMuted: false,
      mutedUntil: null,
      archived: false,
    });
    const own = (await ok(alice, `query($id: ID!) { room(id: $id) { members(first: 10) { user { id } isMuted } } }`, { id: r })).room
      .members;
    expect(own.find((m: any) => m.user.id === alice.id).isMuted).toBe(true);

    const past = await run(alice, MUTE, { r, until: new Date(Date.now() - 60_000).toISOString() });
    expect(ext(past)).toMatchObject({ code: "BAD_USER_INPUT", field: "until" });
    // the earlier mute stands
    expect(
      new Date((await ok(alice, `query($id: ID!) { room(id: $id) { ${VM} } }`, { id: r })).room.viewerMembership.mutedUntil).getTime(),
    ).toBe(until.getTime());

    expect((await ok(alice, UNMUTE, { r })).unmuteRoom.viewerMembership).toEqual({ archived: false, isMuted: false, mutedUntil: null });
  });

  it("refuses archiving or muting a room one is not a member of", async () => {
    const r = await makeRoom(api, alice);
    expect(errorCode(await run(dave, ARCHIVE, { r }))).toBe("NOT_FOUND");
    expect(errorCode(await run(dave, MUTE, { r }))).toBe("NOT_FOUND");
  });
});
