/**
 * deleteRoom on a DIRECT room hides it for the caller only, until a newer
 * message arrives (the Matrix and Stream model; docs/architecture.md, "Hiding a
 * direct room"): what the caller and the other member see, over HTTP and on
 * graphql-ws.
 */
import { describe, expect, it } from "vitest";
import { errorCode, registerUsers, subscribe, type TestUser, untilReceived } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const { server, api, users, client } = useTestServer(["ann", "ben", "cat"]);
const [ann, ben, cat] = users;

const DIRECT = `mutation($u: ID!) { directRoom(userId: $u) { id } }`;
const DELETE = `mutation($r: ID!) { deleteRoom(roomId: $r) }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
const MY_ROOMS = `query($a: Boolean) { myRooms(first: 50, archived: $a) { edges { node { id unreadCount lastMessage { content } } } } }`;

const listed = async (user: TestUser, archived: boolean | null = false): Promise<string[]> =>
  (await api.ok(user, MY_ROOMS, { a: archived })).myRooms.edges.map((e: { node: { id: string } }) => e.node.id);

async function directRoom(a: TestUser, b: TestUser): Promise<string> {
  return (await api.ok(a, DIRECT, { u: b.id })).directRoom.id;
}

describe("deleteRoom on a DIRECT room", () => {
  it("hides it from the caller's myRooms (every archive filter) until a newer message; the other member sees nothing change", async () => {
    const r = await directRoom(ann, ben);
    await api.ok(ben, SEND, { r, c: "first" });
    const bensBefore = await api.ok(ben, MY_ROOMS, { a: false });

    expect((await api.ok(ann, DELETE, { r })).deleteRoom).toBe(true);
    expect(await listed(ann)).not.toContain(r);
    expect(await listed(ann, null)).not.toContain(r);
    expect(await listed(ann, true)).not.toContain(r);
    // nothing changes for ben, and the room still exists for both: history, membership
    expect(await api.ok(ben, MY_ROOMS, { a: false })).toEqual(bensBefore);
    expect((await api.ok(ann, `query($r: ID!) { room(id: $r) { id memberCount } }`, { r })).room).toEqual({ id: r, memberCount: 2 });
    expect(
      (await api.ok(ann, `query($r: ID!) { messages(roomId: $r, last: 10) { edges { node { content } } } }`, { r })).messages.edges,
    ).toHaveLength(1);
    expect(await server.app.db.roomMember.count({ where: { roomId: r } })).toBe(2);
    // calling it again is harmless
    expect((await api.ok(ann, DELETE, { r })).deleteRoom).toBe(true);

    // a newer message from the other member brings it back, with what it missed
    await api.ok(ben, SEND, { r, c: "are you there?" });
    const back = (await api.ok(ann, MY_ROOMS, { a: false })).myRooms.edges.map((e: { node: unknown }) => e.node);
    expect(back).toContainEqual({ id: r, unreadCount: 2, lastMessage: { content: "are you there?" } });
  });

  it("comes back when the caller sends in it too", async () => {
    const r = await directRoom(ann, cat);
    await api.ok(cat, SEND, { r, c: "hello" });
    await api.ok(ann, DELETE, { r });
    expect(await listed(ann)).not.toContain(r);
    await api.ok(ann, SEND, { r, c: "hello again" });
    expect(await listed(ann)).toContain(r);
  });

  it("hides an empty room too, until its first message", async () => {
    const [dan, eve] = await registerUsers(server.url, ["dan", "eve"]);
    const r = await directRoom(dan, eve);
    await api.ok(dan, DELETE, { r });
    expect(await listed(dan)).not.toContain(r);
    expect(await listed(eve)).toContain(r);
    await api.ok(eve, SEND, { r, c: "first ever" });
    expect(await listed(dan)).toContain(r);
  });

  it("sends no event to the other member's sockets", async () => {
    const r = await directRoom(ben, cat);
    const socket = client(cat);
    const events = subscribe(socket, `subscription { myEvents { __typename ... on RoomActivity { message: lastMessage { content } } } }`);
    const roomEvents = subscribe(
      socket,
      `subscription($r: ID!) { roomEvents(roomId: $r) { __typename ... on MessageAdded { message { content } } } }`,
      { r },
    );
    // live: messages reach both subscriptions
    await untilReceived(events, () => api.ok(ben, SEND, { r, c: "warm-up" }));
    await untilReceived(roomEvents, () => api.ok(ben, SEND, { r, c: "warm-up" }));
    await api.ok(ben, DELETE, { r });
    await api.ok(cat, SEND, { r, c: "after" });
    // past the warm-ups, the next thing either gets is the message sent after the hide
    const notWarmUp = (e: { data?: Record<string, { message?: { content: string } }> }) =>
      Object.values(e.data ?? {})[0]?.message?.content !== "warm-up";
    expect((await events.nextWhere(notWarmUp)).data.myEvents).toEqual({ __typename: "RoomActivity", message: { content: "after" } });
    expect((await roomEvents.nextWhere(notWarmUp)).data.roomEvents).toEqual({ __typename: "MessageAdded", message: { content: "after" } });
  });

  it("is refused to a non-member (NOT_FOUND), and stays OWNER-only for other rooms (FORBIDDEN)", async () => {
    const r = await directRoom(ann, ben);
    expect(errorCode(await api.run(cat, DELETE, { r }))).toBe("NOT_FOUND");
    const group = (
      await api.ok(ann, `mutation($m: [ID!]) { createRoom(input: { name: "g", type: GROUP, memberIds: $m }) { id } }`, { m: [ben.id] })
    ).createRoom.id;
    expect(errorCode(await api.run(ben, DELETE, { r: group }))).toBe("FORBIDDEN");
    expect(await listed(ben)).toContain(group);
  });
});
