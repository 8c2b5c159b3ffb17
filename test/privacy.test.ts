/**
 * Privacy and blocking rules (issue 3), against a server with Redis pub/sub:
 * showOnlineStatus (status, lastSeenAt and presence events), status AWAY,
 * what a user who blocked the viewer shows of their presence,
 * allowDirectMessages, and blocks on direct rooms (directRoom, sendMessage, setTyping).
 */
import type { Client } from "graphql-ws";
import { beforeAll, describe, expect, it } from "vitest";
import {
  connected,
  errorCode,
  registerUser,
  registerUsers,
  type Subscription,
  subscribe,
  type TestUser,
  untilReceived,
  wsClient,
} from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api,
  users: [alice, carol],
} = useTestServer(["alice", "carol"], { redis: true });
let roomId: string;
beforeAll(async () => {
  roomId = (
    await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Lobby", type: PUBLIC, memberIds: $m }) { id } }`, {
      m: [carol.id],
    })
  ).createRoom.id;
});

const PRESENCE = `subscription($roomId: ID!) { presence(roomId: $roomId) { status lastSeenAt user { id status } } }`;
const STATUS = `query($id: ID!) { user(id: $id) { status lastSeenAt } }`;
const ME_STATUS = `{ me { status lastSeenAt } }`;
const UPDATE_SETTINGS = `mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { showOnlineStatus allowDirectMessages } }`;
const UPDATE_PROFILE = `mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { status } }`;
const DIRECT = `mutation($id: ID!) { directRoom(userId: $id) { id } }`;
const SEND = `mutation($roomId: ID!, $content: String!) { sendMessage(input: { roomId: $roomId, content: $content }) { id } }`;
const SET_TYPING = `mutation($roomId: ID!, $on: Boolean!) { setTyping(roomId: $roomId, isTyping: $on) }`;

interface PresencePayload {
  status: string;
  lastSeenAt: string | null;
  user: { id: string; status: string };
}

/** A new user who is a member of the lobby. */
async function member(prefix: string): Promise<TestUser> {
  const user = await registerUser(server.url, prefix);
  await api.ok(user, `mutation($id: ID!) { joinRoom(roomId: $id) { id } }`, { id: roomId });
  return user;
}

const statusAs = (viewer: TestUser, id: string) => api.ok(viewer, STATUS, { id }).then((d) => d.user);
const ownStatus = (user: TestUser) => api.ok(user, ME_STATUS, {}).then((d) => d.me);
const updateSettings = (user: TestUser, input: Record<string, unknown>) => api.ok(user, UPDATE_SETTINGS, { input });
const blockUser = (blocker: TestUser, id: string) => api.ok(blocker, `mutation($id: ID!) { blockUser(userId: $id) }`, { id });
const unblockUser = (blocker: TestUser, id: string) => api.ok(blocker, `mutation($id: ID!) { unblockUser(userId: $id) }`, { id });

/** Polls `viewer`'s view of `userId` until its status is `status`. */
async function untilStatus(viewer: TestUser, userId: string, status: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await statusAs(viewer, userId)).status !== status) {
    if (Date.now() > deadline) throw new Error(`${userId} not ${status} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `viewer`'s presence subscription on the lobby, live: a fresh member comes and goes until it delivers. */
async function watchPresence(viewer: TestUser): Promise<{ client: Client; sub: Subscription<{ presence: PresencePayload }> }> {
  const client = wsClient(server.wsUrl, viewer.accessToken);
  const sub = subscribe<{ presence: PresencePayload }>(client, PRESENCE, { roomId });
  const warmUp = await member("warmup");
  await untilReceived(sub, async () => (await connected(server.wsUrl, warmUp)).dispose(), 200);
  return { client, sub };
}

/**
 * The presence events `sub` delivers before a fresh, visible member's ONLINE
 * event (a marker: whatever was published before it has arrived by then).
 * Resolves them with the marker, still connected.
 */
async function eventsBeforeMarker(
  sub: Subscription<{ presence: PresencePayload }>,
): Promise<{ events: PresencePayload[]; marker: TestUser; socket: Client }> {
  const marker = await member("marker");
  const socket = await connected(server.wsUrl, marker);
  const events: PresencePayload[] = [];
  for (;;) {
    const { presence } = (await sub.next()).data!;
    if (presence.user.id === marker.id && presence.status === "ONLINE") return { events, marker, socket };
    events.push(presence);
  }
}

/** Presence events of `userId` among `events`. */
const of = (events: PresencePayload[], userId: string) => events.filter((e) => e.user.id === userId);

/** Connects `user` once and waits until they are offline again, so they have a lastSeenAt. */
async function seenOnce(user: TestUser): Promise<void> {
  await (await connected(server.wsUrl, user)).dispose();
  await untilStatus(user, user.id, "OFFLINE");
  expect((await ownStatus(user)).lastSeenAt).not.toBeNull();
}

describe("showOnlineStatus: false", () => {
  it("shows the user OFFLINE with no lastSeenAt to others while connected, ONLINE to themselves, and publishes no ONLINE", async () => {
    const hidden = await member("hidden");
    await seenOnce(hidden);
    await updateSettings(hidden, { showOnlineStatus: false });
    const watch = await watchPresence(alice);

    const socket = await connected(server.wsUrl, hidden);
    const { events, marker, socket: markerSocket } = await eventsBeforeMarker(watch.sub);
    expect(of(events, hidden.id)).toEqual([]);
    expect(await statusAs(alice, marker.id)).toMatchObject({ status: "ONLINE" });
    expect(await statusAs(alice, hidden.id)).toEqual({ status: "OFFLINE", lastSeenAt: null });
    expect((await ownStatus(hidden)).status).toBe("ONLINE");
    await Promise.all([socket.dispose(), markerSocket.dispose(), watch.client.dispose()]);
  });

  it("publishes OFFLINE when turned off while connected, and ONLINE when turned back on", async () => {
    const toggler = await member("toggler");
    const watch = await watchPresence(alice);
    const socket = await connected(server.wsUrl, toggler);
    const next = () => watch.sub.nextWhere((e) => e.data?.presence.user.id === toggler.id).then((e) => e.data!.presence);
    expect(await next()).toMatchObject({ status: "ONLINE" });

    await updateSettings(toggler, { showOnlineStatus: false });
    expect(await next()).toMatchObject({ status: "OFFLINE", user: { status: "OFFLINE" } });
    expect((await statusAs(alice, toggler.id)).status).toBe("OFFLINE");

    await updateSettings(toggler, { showOnlineStatus: true });
    expect(await next()).toMatchObject({ status: "ONLINE", user: { status: "ONLINE" } });
    expect((await statusAs(alice, toggler.id)).status).toBe("ONLINE");
    await Promise.all([socket.dispose(), watch.client.dispose()]);
  });
});

describe("status AWAY", () => {
  it("shows a connected user who chose AWAY as AWAY, and OFFLINE once they disconnect", async () => {
    const amy = await member("amy");
    const socket = await connected(server.wsUrl, amy);
    expect((await api.ok(amy, UPDATE_PROFILE, { input: { status: "AWAY" } })).updateProfile.status).toBe("AWAY");
    expect((await statusAs(alice, amy.id)).status).toBe("AWAY");
    expect((await ownStatus(amy)).status).toBe("AWAY");
    await api.ok(amy, UPDATE_PROFILE, { input: { status: "ONLINE" } });
    expect((await statusAs(alice, amy.id)).status).toBe("ONLINE");
    await api.ok(amy, UPDATE_PROFILE, { input: { status: "AWAY" } });
    await socket.dispose();
    await untilStatus(alice, amy.id, "OFFLINE");
  });
});

describe("a user who blocked the viewer", () => {
  it("appears OFFLINE with no lastSeenAt to the viewer, who gets none of their presence events, while a third user does", async () => {
    const bea = await member("bea");
    await seenOnce(bea);
    await blockUser(bea, alice.id);
    const aliceWatch = await watchPresence(alice);
    const carolWatch = await watchPresence(carol);
    const beasNext = () => carolWatch.sub.nextWhere((e) => e.data?.presence.user.id === bea.id).then((e) => e.data!.presence);

    const socket = await connected(server.wsUrl, bea);
    expect(await beasNext()).toMatchObject({ status: "ONLINE" });
    const online = await eventsBeforeMarker(aliceWatch.sub);
    expect(of(online.events, bea.id)).toEqual([]);
    expect(await statusAs(alice, bea.id)).toEqual({ status: "OFFLINE", lastSeenAt: null });
    expect(await statusAs(carol, bea.id)).toMatchObject({ status: "ONLINE", lastSeenAt: expect.any(String) });

    await socket.dispose();
    expect(await beasNext()).toMatchObject({ status: "OFFLINE" });
    const offline = await eventsBeforeMarker(aliceWatch.sub);
    expect(of(offline.events, bea.id)).toEqual([]);
    await Promise.all([online.socket.dispose(), offline.socket.dispose(), aliceWatch.client.dispose(), carolWatch.client.dispose()]);
  });
});

describe("blocking while connected", () => {
  it("shows the blocker going OFFLINE to the blocked user's presence subscription at once, and back on unblock; others see no change", async () => {
    const gus = await member("gus");
    const aliceWatch = await watchPresence(alice);
    const carolWatch = await watchPresence(carol);
    const socket = await connected(server.wsUrl, gus);
    await aliceWatch.sub.nextWhere((e) => e.data?.presence.user.id === gus.id && e.data.presence.status === "ONLINE");
    await carolWatch.sub.nextWhere((e) => e.data?.presence.user.id === gus.id && e.data.presence.status === "ONLINE");

    await blockUser(gus, alice.id);
    const hidden = await aliceWatch.sub.nextWhere((e) => e.data?.presence.user.id === gus.id);
    expect(hidden.data!.presence).toMatchObject({ status: "OFFLINE", lastSeenAt: null });
    await unblockUser(gus, alice.id);
    const shown = await aliceWatch.sub.nextWhere((e) => e.data?.presence.user.id === gus.id);
    expect(shown.data!.presence).toMatchObject({ status: "ONLINE", lastSeenAt: expect.any(String) });

    const carolSaw = await eventsBeforeMarker(carolWatch.sub);
    expect(of(carolSaw.events, gus.id)).toEqual([]);
    await Promise.all([socket.dispose(), carolSaw.socket.dispose(), aliceWatch.client.dispose(), carolWatch.client.dispose()]);
  });
});

describe("allowDirectMessages: false", () => {
  it("refuses a new direct room from a non-contact with FORBIDDEN, but not from a contact or an existing room", async () => {
    const [dora, stranger, friend, earlier] = await registerUsers(server.url, ["dora", "stranger", "friend", "earlier"]);
    const existing = (await api.ok(earlier, DIRECT, { id: dora.id })).directRoom.id;
    const request = (await api.ok(friend, `mutation($id: ID!) { sendContactRequest(userId: $id) { id } }`, { id: dora.id }))
      .sendContactRequest;
    await api.ok(dora, `mutation($id: ID!) { respondToContactRequest(id: $id, accept: true) { id } }`, { id: request.id });
    await updateSettings(dora, { allowDirectMessages: false });

    expect(errorCode(await api.run(stranger, DIRECT, { id: dora.id }))).toBe("FORBIDDEN");
    expect((await api.ok(friend, DIRECT, { id: dora.id })).directRoom.id).toBeTruthy();
    expect((await api.ok(earlier, DIRECT, { id: dora.id })).directRoom.id).toBe(existing);
  });
});

describe("blocks and direct rooms", () => {
  const actions = (user: TestUser, other: TestUser, room: string) => ({
    directRoom: () => api.run(user, DIRECT, { id: other.id }),
    sendMessage: () => api.run(user, SEND, { roomId: room, content: "hi" }),
    setTyping: () => api.run(user, SET_TYPING, { roomId: room, on: true }),
  });

  it.each([
    ["the room's opener blocks", true],
    ["the other member blocks", false],
  ])("%s: directRoom, sendMessage and setTyping are FORBIDDEN to both until unblocked", async (_label, openerBlocks) => {
    const [opener, other] = await registerUsers(server.url, ["opener", "other"]);
    const room = (await api.ok(opener, DIRECT, { id: other.id })).directRoom.id;
    const [blocker, blocked] = openerBlocks ? [opener, other] : [other, opener];
    const both = [actions(opener, other, room), actions(other, opener, room)];

    await blockUser(blocker, blocked.id);
    for (const side of both) {
      for (const action of Object.values(side)) expect(errorCode(await action())).toBe("FORBIDDEN");
    }

    await unblockUser(blocker, blocked.id);
    for (const side of both) {
      expect((await side.directRoom()).data?.directRoom.id).toBe(room);
      expect((await side.sendMessage()).errors).toBeUndefined();
      expect((await side.setTyping()).errors).toBeUndefined();
    }
  });

  it("refuses to open a new direct room across a block, either way", async () => {
    const [blocker, blocked] = await registerUsers(server.url, ["blocker", "blocked"]);
    await blockUser(blocker, blocked.id);
    expect(errorCode(await api.run(blocked, DIRECT, { id: blocker.id }))).toBe("FORBIDDEN");
    expect(errorCode(await api.run(blocker, DIRECT, { id: blocked.id }))).toBe("FORBIDDEN");
  });
});
