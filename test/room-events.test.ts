/**
 * Room and user events over graphql-ws (issue 3 contract), with Redis pub/sub:
 * roomEvents (MemberJoined, MemberLeft, MemberRoleChanged, RoomUpdated,
 * RoomDeleted; non-members refused) and myEvents (AddedToRoom, RemovedFromRoom,
 * DirectRoomCreated). Above all: a member removed from a room stops receiving
 * that room's events at once — their roomEvents gets the MemberLeft about them
 * and completes, their messageAdded (and typing, presence) complete — on one
 * node and across two server processes (removal through B, subscriber on A).
 */
import { randomUUID } from "node:crypto";
import type { Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connected,
  type GqlResponse,
  on,
  registerUser,
  registerUsers,
  type Subscription,
  subscribe,
  type TestUser,
  warmUp,
  within,
  wsClient,
} from "./helpers/client.js";
import { useNodes } from "./helpers/nodes.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const ROOM_EVENTS = `subscription($r: ID!) { roomEvents(roomId: $r) { __typename
  ... on MemberJoined { roomId user { id } role addedBy { id } at }
  ... on MemberLeft { roomId user { id } reason removedBy { id } at }
  ... on MemberRoleChanged { roomId user { id } role previousRole changedBy { id } at }
  ... on RoomUpdated { room { id name description } updatedBy { id } at }
  ... on RoomDeleted { roomId deletedBy { id } at } } }`;
const MY_EVENTS = `subscription { myEvents { __typename
  ... on InviteReceived { invite { id room { id } } at }
  ... on AddedToRoom { room { id name } addedBy { id } at }
  ... on RemovedFromRoom { roomId roomName reason by { id } at }
  ... on DirectRoomCreated { room { id type } createdBy { id } at }
  ... on ContactRequest { id status } } }`;
const MESSAGE_ADDED = `subscription($r: ID!) { messageAdded(roomId: $r) { id content } }`;
const TYPING = `subscription($r: ID!) { typing(roomId: $r) { isTyping user { id } } }`;
const PRESENCE = `subscription($r: ID!) { presence(roomId: $r) { status user { id } } }`;

const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role } }`;
const REMOVE = `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`;
const SET_ROLE = `mutation($r: ID!, $u: ID!, $role: RoomRole!) { updateMemberRole(roomId: $r, userId: $u, role: $role) { role } }`;
const TRANSFER = `mutation($r: ID!, $u: ID!) { transferOwnership(roomId: $r, userId: $u) { id } }`;
const LEAVE = `mutation($r: ID!) { leaveRoom(roomId: $r) }`;
const JOIN = `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`;
const UPDATE = `mutation($r: ID!, $input: UpdateRoomInput!) { updateRoom(roomId: $r, input: $input) { id } }`;
const DELETE = `mutation($r: ID!) { deleteRoom(roomId: $r) }`;
const DIRECT = `mutation($u: ID!) { directRoom(userId: $u) { id } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
const SET_TYPING = `mutation($r: ID!, $on: Boolean!) { setTyping(roomId: $r, isTyping: $on) }`;

const roomEvent = (e: GqlResponse) => e.data?.roomEvents;
const myEvent = (e: GqlResponse) => e.data?.myEvents;
const isRoomEvent = (type: string, userId?: string) => (e: GqlResponse) =>
  roomEvent(e)?.__typename === type && (userId === undefined || roomEvent(e)?.user?.id === userId);
const isMyEvent = (type: string, roomId?: string) => (e: GqlResponse) =>
  myEvent(e)?.__typename === type && (roomId === undefined || (myEvent(e)?.roomId ?? myEvent(e)?.room?.id) === roomId);

describe("room and user events (one node, Redis pub/sub)", () => {
  const {
    server,
    api,
    client,
    users: [alice, bob, carol, dave],
  } = useTestServer(["alice", "bob", "carol", "dave"], { redis: true });

  /** `viewer`'s live roomEvents on `roomId`, warmed up with RoomUpdated events made by `updater` (an OWNER or ADMIN). */
  async function watchRoom(viewer: TestUser, roomId: string, updater: TestUser): Promise<Subscription> {
    const sub = subscribe(client(viewer), ROOM_EVENTS, { r: roomId });
    await warmUp(sub, () => api.ok(updater, UPDATE, { r: roomId, input: { description: `warm-up ${randomUUID()}` } }));
    return sub;
  }
  /** `viewer`'s live myEvents, warmed up with AddedToRoom events from throwaway rooms made by `helper`. */
  async function watchMe(viewer: TestUser, helper: TestUser = dave): Promise<Subscription> {
    const sub = subscribe(client(viewer), MY_EVENTS);
    await warmUp(sub, () => api.ok(helper, CREATE, { input: { name: "warm-up", type: "GROUP", memberIds: [viewer.id] } }));
    return sub;
  }

  describe("roomEvents", () => {
    it("MemberJoined when someone joins a PUBLIC room (addedBy null)", async () => {
      const r = await makeRoom(api, alice, { type: "PUBLIC" });
      const sub = await watchRoom(alice, r, alice);
      await api.ok(bob, JOIN, { r });
      const event = roomEvent(await sub.nextWhere(isRoomEvent("MemberJoined")));
      expect(event).toMatchObject({ roomId: r, user: { id: bob.id }, role: "MEMBER", addedBy: null });
      expect(Number.isNaN(Date.parse(event.at))).toBe(false);
    });

    it("MemberJoined with addedBy for addRoomMember", async () => {
      const r = await makeRoom(api, alice);
      const sub = await watchRoom(alice, r, alice);
      await api.ok(alice, ADD, { r, u: carol.id, role: "ADMIN" });
      expect(roomEvent(await sub.nextWhere(isRoomEvent("MemberJoined")))).toMatchObject({
        roomId: r,
        user: { id: carol.id },
        role: "ADMIN",
        addedBy: { id: alice.id },
      });
    });

    it("MemberLeft with reason LEFT (removedBy null) and REMOVED (removedBy the remover)", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const sub = await watchRoom(alice, r, alice);
      await api.ok(bob, LEAVE, { r });
      expect(roomEvent(await sub.nextWhere(isRoomEvent("MemberLeft")))).toMatchObject({
        roomId: r,
        user: { id: bob.id },
        reason: "LEFT",
        removedBy: null,
      });
      await api.ok(alice, REMOVE, { r, u: carol.id });
      expect(roomEvent(await sub.nextWhere(isRoomEvent("MemberLeft")))).toMatchObject({
        roomId: r,
        user: { id: carol.id },
        reason: "REMOVED",
        removedBy: { id: alice.id },
      });
    });

    it("MemberRoleChanged for updateMemberRole, and two of them for transferOwnership", async () => {
      const r = await makeRoom(api, alice, { members: [bob, carol] });
      const sub = await watchRoom(carol, r, alice);
      await api.ok(alice, SET_ROLE, { r, u: bob.id, role: "ADMIN" });
      expect(roomEvent(await sub.nextWhere(isRoomEvent("MemberRoleChanged")))).toMatchObject({
        roomId: r,
        user: { id: bob.id },
        role: "ADMIN",
        previousRole: "MEMBER",
        changedBy: { id: alice.id },
      });
      await api.ok(alice, TRANSFER, { r, u: bob.id });
      const changes = [
        roomEvent(await sub.nextWhere(isRoomEvent("MemberRoleChanged"))),
        roomEvent(await sub.nextWhere(isRoomEvent("MemberRoleChanged"))),
      ];
      const byUser = Object.fromEntries(
        changes.map((c) => [c.user.id, { role: c.role, previousRole: c.previousRole, changedBy: c.changedBy }]),
      );
      expect(byUser).toEqual({
        [bob.id]: { role: "OWNER", previousRole: "ADMIN", changedBy: { id: alice.id } },
        [alice.id]: { role: "ADMIN", previousRole: "OWNER", changedBy: { id: alice.id } },
      });
    });

    it("RoomUpdated with the new room and who updated it", async () => {
      const r = await makeRoom(api, alice, { admins: [bob], members: [carol] });
      const sub = await watchRoom(carol, r, alice);
      await api.ok(bob, UPDATE, { r, input: { name: "New name" } });
      const event = await sub.nextWhere((e) => isRoomEvent("RoomUpdated")(e) && roomEvent(e).room.name === "New name");
      expect(roomEvent(event)).toMatchObject({ room: { id: r, name: "New name" }, updatedBy: { id: bob.id } });
    });

    it("RoomDeleted, then the subscription completes (and the members' messageAdded completes)", async () => {
      const r = await makeRoom(api, alice, { members: [bob] });
      const sub = await watchRoom(bob, r, alice);
      const messages = subscribe(client(bob), MESSAGE_ADDED, { r });
      await warmUp(messages, () => api.ok(alice, SEND, { r, c: "warm-up" }));
      await api.ok(alice, DELETE, { r });
      expect(roomEvent(await sub.nextWhere(isRoomEvent("RoomDeleted")))).toMatchObject({ roomId: r, deletedBy: { id: alice.id } });
      await within(sub.completed, 5000, "roomEvents completes after RoomDeleted");
      await within(messages.completed, 5000, "messageAdded completes after RoomDeleted");
    });

    it("refuses non-members: NOT_FOUND for a GROUP room, FORBIDDEN for a PUBLIC one", async () => {
      const group = await makeRoom(api, alice);
      const pub = await makeRoom(api, alice, { type: "PUBLIC" });
      const c = client(dave);
      expect(await subscribe(c, ROOM_EVENTS, { r: group }).errorCode()).toBe("NOT_FOUND");
      expect(await subscribe(c, ROOM_EVENTS, { r: pub }).errorCode()).toBe("FORBIDDEN");
    });
  });

  describe("myEvents", () => {
    it("AddedToRoom for addRoomMember and for createRoom memberIds", async () => {
      const sub = await watchMe(bob);
      const r1 = await makeRoom(api, alice, { name: "added later" });
      await api.ok(alice, ADD, { r: r1, u: bob.id });
      expect(myEvent(await sub.nextWhere(isMyEvent("AddedToRoom", r1)))).toMatchObject({
        room: { id: r1, name: "added later" },
        addedBy: { id: alice.id },
      });
      const r2 = await makeRoom(api, carol, { name: "made with bob", members: [bob] });
      expect(myEvent(await sub.nextWhere(isMyEvent("AddedToRoom", r2)))).toMatchObject({
        room: { id: r2, name: "made with bob" },
        addedBy: { id: carol.id },
      });
    });

    it("RemovedFromRoom with reason REMOVED, and ROOM_DELETED when the room is deleted", async () => {
      const sub = await watchMe(bob);
      const r1 = await makeRoom(api, alice, { name: "Bye", members: [bob] });
      await api.ok(alice, REMOVE, { r: r1, u: bob.id });
      expect(myEvent(await sub.nextWhere(isMyEvent("RemovedFromRoom", r1)))).toMatchObject({
        roomId: r1,
        roomName: "Bye",
        reason: "REMOVED",
        by: { id: alice.id },
      });
      const r2 = await makeRoom(api, alice, { name: "Doomed", members: [bob] });
      await api.ok(alice, DELETE, { r: r2 });
      expect(myEvent(await sub.nextWhere(isMyEvent("RemovedFromRoom", r2)))).toMatchObject({
        roomId: r2,
        roomName: "Doomed",
        reason: "ROOM_DELETED",
        by: { id: alice.id },
      });
    });

    it("DirectRoomCreated to the other user when a new direct room is opened, and not again afterwards", async () => {
      const [opener, other] = await registerUsers(server.url, ["opener", "other"]);
      const sub = await watchMe(other);
      const roomId = (await api.ok(opener, DIRECT, { u: other.id })).directRoom.id;
      expect(myEvent(await sub.nextWhere(isMyEvent("DirectRoomCreated", roomId)))).toMatchObject({
        room: { id: roomId, type: "DIRECT" },
        createdBy: { id: opener.id },
      });
      expect((await api.ok(opener, DIRECT, { u: other.id })).directRoom.id).toBe(roomId);
      expect((await api.ok(other, DIRECT, { u: opener.id })).directRoom.id).toBe(roomId);
      // a later event on the same stream: anything published by the repeated calls came before it
      const sentinel = await makeRoom(api, alice, { name: "sentinel", members: [other] });
      await sub.nextWhere(isMyEvent("AddedToRoom", sentinel));
      expect(sub.events.filter(isMyEvent("DirectRoomCreated"))).toHaveLength(1);
    });
  });

  describe("a removed member stops receiving the room's events at once", () => {
    it("roomEvents gets the MemberLeft about them and completes; messageAdded completes; later messages never reach them", async () => {
      const r = await makeRoom(api, alice, { name: "Kick", members: [bob, carol] });
      const bobs = client(bob);
      const events = subscribe(bobs, ROOM_EVENTS, { r });
      await warmUp(events, () => api.ok(alice, UPDATE, { r, input: { description: randomUUID() } }));
      const messages = subscribe(bobs, MESSAGE_ADDED, { r });
      await warmUp(messages, () => api.ok(alice, SEND, { r, c: "warm-up" }));
      const carolsMessages = subscribe(client(carol), MESSAGE_ADDED, { r });
      await warmUp(carolsMessages, () => api.ok(alice, SEND, { r, c: "warm-up" }));

      await api.ok(alice, REMOVE, { r, u: bob.id });
      expect(roomEvent(await events.nextWhere(isRoomEvent("MemberLeft", bob.id)))).toMatchObject({
        roomId: r,
        reason: "REMOVED",
        removedBy: { id: alice.id },
      });
      await within(events.completed, 5000, "bob's roomEvents completes");
      await within(messages.completed, 5000, "bob's messageAdded completes");

      await api.ok(alice, SEND, { r, c: "after removal" });
      await carolsMessages.nextWhere((e) => e.data?.messageAdded.content === "after removal");
      expect(messages.events.filter((e) => e.data?.messageAdded.content === "after removal")).toEqual([]);
      // and a new subscription is refused
      expect(await subscribe(bobs, MESSAGE_ADDED, { r }).errorCode()).toBe("NOT_FOUND");
      expect(await subscribe(bobs, ROOM_EVENTS, { r }).errorCode()).toBe("NOT_FOUND");
    });

    it("their typing and presence subscriptions on the room complete too", async () => {
      // `visitor` has no socket open elsewhere: each connect/disconnect is an ONLINE/OFFLINE event
      const visitor = await registerUser(server.url, "visitor");
      const r = await makeRoom(api, alice, { members: [bob, carol, visitor] });
      const bobs = client(bob);
      const typing = subscribe(bobs, TYPING, { r });
      await warmUp(typing, async () => {
        await api.ok(carol, SET_TYPING, { r, on: true });
        await api.ok(carol, SET_TYPING, { r, on: false });
      });
      const presence = subscribe(bobs, PRESENCE, { r });
      await warmUp(presence, async () => (await connected(server.wsUrl, visitor)).dispose());

      await api.ok(alice, REMOVE, { r, u: bob.id });
      await within(typing.completed, 5000, "bob's typing completes");
      await within(presence.completed, 5000, "bob's presence completes");
    });

    it("the same when they leave: MemberLeft (LEFT) about them, then roomEvents and messageAdded complete", async () => {
      const r = await makeRoom(api, alice, { members: [bob] });
      const bobs = client(bob);
      const events = subscribe(bobs, ROOM_EVENTS, { r });
      await warmUp(events, () => api.ok(alice, UPDATE, { r, input: { description: randomUUID() } }));
      const messages = subscribe(bobs, MESSAGE_ADDED, { r });
      await warmUp(messages, () => api.ok(alice, SEND, { r, c: "warm-up" }));
      await api.ok(bob, LEAVE, { r });
      expect(roomEvent(await events.nextWhere(isRoomEvent("MemberLeft", bob.id)))).toMatchObject({ reason: "LEFT", removedBy: null });
      await within(events.completed, 5000, "bob's roomEvents completes");
      await within(messages.completed, 5000, "bob's messageAdded completes");
    });
  });
});

describe("a removed member stops receiving the room's events at once, across two nodes", () => {
  const {
    nodes: [a, b],
  } = useNodes(2);
  let alice: TestUser, bob: TestUser, carol: TestUser;
  const clients: Client[] = [];

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([registerUser(b.url, "alice"), registerUser(a.url, "bob"), registerUser(a.url, "carol")]);
  });
  afterAll(() => Promise.all(clients.map((c) => c.dispose())));

  it("subscribed on A, removed through B: MemberLeft then complete on A; messageAdded completes; later messages never reach them", async () => {
    const viaB = on(b.url);
    const r = (await viaB.ok(alice, CREATE, { input: { name: "Across", type: "GROUP", memberIds: [bob.id, carol.id] } })).createRoom.id;
    const bobsOnA = wsClient(a.wsUrl, bob.accessToken);
    const carolsOnA = wsClient(a.wsUrl, carol.accessToken);
    clients.push(bobsOnA, carolsOnA);

    const events = subscribe(bobsOnA, ROOM_EVENTS, { r });
    await warmUp(events, () => viaB.ok(alice, UPDATE, { r, input: { description: randomUUID() } }), 300);
    const messages = subscribe(bobsOnA, MESSAGE_ADDED, { r });
    await warmUp(messages, () => viaB.ok(alice, SEND, { r, c: "warm-up" }), 300);
    const carolsMessages = subscribe(carolsOnA, MESSAGE_ADDED, { r });
    await warmUp(carolsMessages, () => viaB.ok(alice, SEND, { r, c: "warm-up" }), 300);

    await viaB.ok(alice, REMOVE, { r, u: bob.id });
    expect(roomEvent(await events.nextWhere(isRoomEvent("MemberLeft", bob.id)))).toMatchObject({
      roomId: r,
      reason: "REMOVED",
      removedBy: { id: alice.id },
    });
    await within(events.completed, 5000, "bob's roomEvents on A completes");
    await within(messages.completed, 5000, "bob's messageAdded on A completes");

    await viaB.ok(alice, SEND, { r, c: "after removal" });
    await carolsMessages.nextWhere((e) => e.data?.messageAdded.content === "after removal");
    expect(messages.events.filter((e) => e.data?.messageAdded.content === "after removal")).toEqual([]);
    expect(await subscribe(bobsOnA, MESSAGE_ADDED, { r }).errorCode()).toBe("NOT_FOUND");
  }, 60_000);
});
