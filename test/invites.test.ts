/**
 * Room invites (issue 3 contract): who may inviteToRoom in GROUP / PUBLIC /
 * BROADCAST / DIRECT rooms, repeated invites, blocked inviters; myInvites;
 * acceptInvite (only the invitee, full rooms keep the invite); declineInvite.
 * Ends with the seed-000 flow end to end: register -> updateProfile -> createRoom
 * -> inviteToRoom -> InviteReceived on myEvents -> acceptInvite -> MemberJoined
 * on the inviter's roomEvents (both over graphql-ws).
 */
import { describe, expect, it } from "vitest";
import { errorCode, ext, registerUser, registerUsers, subscribe, type TestUser, warmUp, wsClient } from "./helpers/client.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api,
  api: { run, ok },
  users: [alice, bob, carol, dave, erin],
} = useTestServer(["alice", "bob", "carol", "dave", "erin"]);

const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role } }`;
const INVITE = `mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id room { id } inviter { id } invitee { id } createdAt } }`;
const ACCEPT = `mutation($id: ID!) { acceptInvite(id: $id) { id memberCount viewerMembership { role } } }`;
const DECLINE = `mutation($id: ID!) { declineInvite(id: $id) }`;
const MY_INVITES = `{ myInvites { id room { id name } inviter { id username } invitee { id } createdAt } }`;
const UPDATE = `mutation($r: ID!, $input: UpdateRoomInput!) { updateRoom(roomId: $r, input: $input) { id } }`;

const isMember = async (roomId: string, user: TestUser) =>
  (await server.app.db.roomMember.count({ where: { roomId, userId: user.id } })) === 1;
const myInviteIds = async (user: TestUser) => ((await ok(user, MY_INVITES)).myInvites as any[]).map((i) => i.id as string);

describe("inviteToRoom", () => {
  it("in a GROUP room: the OWNER and ADMINs may invite, a MEMBER may not (FORBIDDEN)", async () => {
    const r = await makeRoom(api, alice, { admins: [bob], members: [carol] });
    const byOwner = (await ok(alice, INVITE, { r, u: dave.id })).inviteToRoom;
    expect(byOwner).toMatchObject({ room: { id: r }, inviter: { id: alice.id }, invitee: { id: dave.id } });
    expect((await ok(bob, INVITE, { r, u: erin.id })).inviteToRoom).toMatchObject({ inviter: { id: bob.id }, invitee: { id: erin.id } });
    const other = await registerUser(server.url, "other");
    expect(errorCode(await run(carol, INVITE, { r, u: other.id }))).toBe("FORBIDDEN");
    expect(await myInviteIds(other)).toEqual([]);
  });

  it("in a BROADCAST room: OWNER and ADMINs only", async () => {
    const r = await makeRoom(api, alice, { type: "BROADCAST", admins: [bob], members: [carol] });
    await ok(bob, INVITE, { r, u: dave.id });
    expect(errorCode(await run(carol, INVITE, { r, u: erin.id }))).toBe("FORBIDDEN");
  });

  it("in a PUBLIC room: any member may invite", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC", members: [carol] });
    expect((await ok(carol, INVITE, { r, u: dave.id })).inviteToRoom).toMatchObject({
      room: { id: r },
      inviter: { id: carol.id },
      invitee: { id: dave.id },
    });
  });

  it("refuses DIRECT rooms (FORBIDDEN)", async () => {
    const direct = (await ok(alice, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: bob.id })).directRoom.id;
    expect(errorCode(await run(alice, INVITE, { r: direct, u: carol.id }))).toBe("FORBIDDEN");
    expect(((await ok(carol, MY_INVITES)).myInvites as any[]).map((i) => i.room.id)).not.toContain(direct);
  });

  it("refuses a user who is already a member (BAD_USER_INPUT on userId)", async () => {
    const r = await makeRoom(api, alice, { members: [carol] });
    expect(ext(await run(alice, INVITE, { r, u: carol.id }))).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
  });

  it("returns the existing invite when the user is already invited", async () => {
    const invitee = await registerUser(server.url, "again");
    const r = await makeRoom(api, alice, { admins: [bob] });
    const first = (await ok(alice, INVITE, { r, u: invitee.id })).inviteToRoom;
    const second = (await ok(alice, INVITE, { r, u: invitee.id })).inviteToRoom;
    expect(second.id).toBe(first.id);
    // by another inviter too: still one pending invite to that room
    const third = (await ok(bob, INVITE, { r, u: invitee.id })).inviteToRoom;
    expect(third.id).toBe(first.id);
    expect(await myInviteIds(invitee)).toEqual([first.id]);
  });

  it("refuses inviting a user who has blocked the inviter (FORBIDDEN)", async () => {
    const [owner, blocker] = await registerUsers(server.url, ["owner", "blocker"]);
    const r = await makeRoom(api, owner);
    expect((await ok(blocker, `mutation($u: ID!) { blockUser(userId: $u) }`, { u: owner.id })).blockUser).toBe(true);
    expect(errorCode(await run(owner, INVITE, { r, u: blocker.id }))).toBe("FORBIDDEN");
    expect(await myInviteIds(blocker)).toEqual([]);
  });
});

describe("myInvites, acceptInvite and declineInvite", () => {
  it("lists the viewer's pending invites, newest first", async () => {
    const invitee = await registerUser(server.url, "invitee");
    const r1 = await makeRoom(api, alice, { name: "older" });
    const r2 = await makeRoom(api, bob, { name: "newer" });
    const i1 = (await ok(alice, INVITE, { r: r1, u: invitee.id })).inviteToRoom.id;
    const i2 = (await ok(bob, INVITE, { r: r2, u: invitee.id })).inviteToRoom.id;
    const invites = (await ok(invitee, MY_INVITES)).myInvites;
    expect(invites.map((i: any) => i.id)).toEqual([i2, i1]);
    expect(invites[0]).toMatchObject({
      room: { id: r2, name: "newer" },
      inviter: { id: bob.id, username: bob.username },
      invitee: { id: invitee.id },
    });
    // nobody else sees them
    expect(await myInviteIds(alice)).not.toContain(i1);
  });

  it("acceptInvite makes the invitee a MEMBER and removes the invite; anyone else gets NOT_FOUND", async () => {
    const invitee = await registerUser(server.url, "accepter");
    const r = await makeRoom(api, alice);
    const id = (await ok(alice, INVITE, { r, u: invitee.id })).inviteToRoom.id;
    expect(errorCode(await run(carol, ACCEPT, { id }))).toBe("NOT_FOUND");
    expect(errorCode(await run(alice, ACCEPT, { id }))).toBe("NOT_FOUND");
    expect(await isMember(r, carol)).toBe(false);

    expect((await ok(invitee, ACCEPT, { id })).acceptInvite).toEqual({ id: r, memberCount: 2, viewerMembership: { role: "MEMBER" } });
    expect(await isMember(r, invitee)).toBe(true);
    expect(await myInviteIds(invitee)).not.toContain(id);
    expect(errorCode(await run(invitee, ACCEPT, { id }))).toBe("NOT_FOUND");
  });

  it("acceptInvite on a full room is FORBIDDEN and the invite stays", async () => {
    const invitee = await registerUser(server.url, "waiting");
    const r = await makeRoom(api, alice, { maxMembers: 3 });
    const id = (await ok(alice, INVITE, { r, u: invitee.id })).inviteToRoom.id;
    await ok(alice, ADD, { r, u: bob.id });
    await ok(alice, ADD, { r, u: carol.id });
    expect(errorCode(await run(invitee, ACCEPT, { id }))).toBe("FORBIDDEN");
    expect(await isMember(r, invitee)).toBe(false);
    expect(await myInviteIds(invitee)).toEqual([id]);
    // a seat frees up: the same invite works
    await ok(alice, UPDATE, { r, input: { maxMembers: 4 } });
    expect((await ok(invitee, ACCEPT, { id })).acceptInvite.memberCount).toBe(4);
  });

  it("declineInvite removes the invite without joining; only the invitee may (else NOT_FOUND)", async () => {
    const invitee = await registerUser(server.url, "decliner");
    const r = await makeRoom(api, alice);
    const id = (await ok(alice, INVITE, { r, u: invitee.id })).inviteToRoom.id;
    expect(errorCode(await run(carol, DECLINE, { id }))).toBe("NOT_FOUND");
    expect(await myInviteIds(invitee)).toEqual([id]);
    expect((await ok(invitee, DECLINE, { id })).declineInvite).toBe(true);
    expect(await myInviteIds(invitee)).toEqual([]);
    expect(await isMember(r, invitee)).toBe(false);
    expect(errorCode(await run(invitee, ACCEPT, { id }))).toBe("NOT_FOUND");
    expect(errorCode(await run(invitee, DECLINE, { id }))).toBe("NOT_FOUND");
  });
});

// ------------------------------------------------------------------ the seed-000 flow over graphql-ws

const MY_EVENTS = `subscription { myEvents { __typename
  ... on InviteReceived { invite { id room { id name } inviter { id username displayName } invitee { id } } at }
  ... on AddedToRoom { room { id } addedBy { id } at } } }`;
const ROOM_EVENTS = `subscription($r: ID!) { roomEvents(roomId: $r) { __typename
  ... on MemberJoined { roomId user { id username } role addedBy { id } invitedBy { id } at }
  ... on RoomUpdated { room { id } updatedBy { id } at } } }`;

describe("the seed-000 flow", () => {
  it("register -> updateProfile -> createRoom -> inviteToRoom -> InviteReceived -> acceptInvite -> MemberJoined", async () => {
    const owner = await registerUser(server.url, "seedowner");
    const guest = await registerUser(server.url, "seedguest");
    const helper = await registerUser(server.url, "seedhelper");
    const profile = (
      await ok(owner, `mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { id displayName bio } }`, {
        input: { displayName: "The Owner", bio: "I run things" },
      })
    ).updateProfile;
    expect(profile).toEqual({ id: owner.id, displayName: "The Owner", bio: "I run things" });
    const r = (await ok(owner, `mutation { createRoom(input: { name: "Project X", type: GROUP, description: "secret" }) { id name } }`))
      .createRoom.id;

    const guestClient = wsClient(server.wsUrl, guest.accessToken);
    const ownerClient = wsClient(server.wsUrl, owner.accessToken);
    try {
      const guestEvents = subscribe(guestClient, MY_EVENTS);
      // AddedToRoom events from throwaway rooms until the guest's myEvents is live
      await warmUp(guestEvents, () => ok(helper, CREATE, { input: { name: "warm-up", type: "GROUP", memberIds: [guest.id] } }));
      const roomEvents = subscribe(ownerClient, ROOM_EVENTS, { r });
      await warmUp(roomEvents, () => ok(owner, UPDATE, { r, input: { description: `warm-up ${Date.now()}` } }));

      const invite = (await ok(owner, INVITE, { r, u: guest.id })).inviteToRoom;
      const received = await guestEvents.nextWhere((e) => e.data?.myEvents.__typename === "InviteReceived");
      expect(received.data!.myEvents).toMatchObject({
        __typename: "InviteReceived",
        invite: {
          id: invite.id,
          room: { id: r, name: "Project X" },
          inviter: { id: owner.id, username: owner.username, displayName: "The Owner" },
          invitee: { id: guest.id },
        },
      });
      expect(Number.isNaN(Date.parse(received.data!.myEvents.at))).toBe(false);

      await ok(guest, ACCEPT, { id: invite.id });
      const joined = await roomEvents.nextWhere((e) => e.data?.roomEvents.__typename === "MemberJoined");
      expect(joined.data!.roomEvents).toMatchObject({
        __typename: "MemberJoined",
        roomId: r,
        user: { id: guest.id, username: guest.username },
        role: "MEMBER",
        addedBy: null,
        invitedBy: { id: owner.id },
      });
      expect(await myInviteIds(guest)).toEqual([]);
    } finally {
      await guestClient.dispose();
      await ownerClient.dispose();
    }
  });
});
