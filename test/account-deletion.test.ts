/**
 * Account deletion and data export (issue 16, GDPR art. 17 and 20), over HTTP and
 * graphql-ws with Redis pub/sub: deleteAccount checks the password, closes the
 * user's other sockets with 4403, anonymises the profile (messages stay, from
 * "Deleted user"), passes room ownership on (longest-standing ADMIN, else
 * member), leaves DIRECT rooms to the other member and deletes rooms with no
 * other member; the old credentials stop working and the username is free again;
 * a socket on another node closes too.
 * exportMyData gives the viewer's own data and never others' messages.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { errorCode, ext, type GqlResponse, gql, registerUser, subscribe, type TestUser, warmUp } from "./helpers/client.js";
import { useNodes } from "./helpers/nodes.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";
import { closeCode, openSocket } from "./helpers/sockets.js";

const PASSWORD = "correct horse battery";
const DELETE_ACCOUNT = `mutation($p: String!) { deleteAccount(password: $p) }`;
const EXPORT = `{ exportMyData }`;
const LOGIN = `mutation($u: String!, $p: String!) { login(input: { username: $u, password: $p }) { accessToken } }`;
const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role } }`;
const UPDATE = `mutation($r: ID!, $input: UpdateRoomInput!) { updateRoom(roomId: $r, input: $input) { id } }`;
const LEAVE = `mutation($r: ID!) { leaveRoom(roomId: $r) }`;
const DIRECT = `mutation($u: ID!) { directRoom(userId: $u) { id } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
const HISTORY = `query($r: ID!) { messages(roomId: $r, last: 50) { edges { node { content sender { id username displayName deleted } } } } }`;
const MEMBERS = `query($r: ID!) { room(id: $r) { members { role user { id } } } }`;
const ROOM_EVENTS = `subscription($r: ID!) { roomEvents(roomId: $r) { __typename
  ... on MemberLeft { roomId user { id displayName deleted } reason }
  ... on MemberRoleChanged { roomId user { id } role previousRole changedBy { id } }
  ... on RoomUpdated { updatedBy { id } } } }`;

const roomEvent = (e: GqlResponse) => e.data?.roomEvents;
const isRoomEvent = (type: string) => (e: GqlResponse) => roomEvent(e)?.__typename === type;

describe("deleteAccount and exportMyData", () => {
  const {
    server,
    api,
    client,
    users: [bob, carol, dave, erin],
  } = useTestServer(["bob", "carol", "dave", "erin"], { redis: true });

  /** `viewer`'s live roomEvents, warmed up with RoomUpdated events made by `updater`. */
  async function watchRoom(viewer: TestUser, roomId: string, updater: TestUser) {
    const sub = subscribe(client(viewer), ROOM_EVENTS, { r: roomId });
    await warmUp(sub, () => api.ok(updater, UPDATE, { r: roomId, input: { description: `warm-up ${randomUUID()}` } }));
    return sub;
  }

  it("needs a logged-in user: UNAUTHENTICATED", async () => {
    expect(errorCode(await gql(server.url, DELETE_ACCOUNT, { p: PASSWORD }))).toBe("UNAUTHENTICATED");
    expect(errorCode(await gql(server.url, EXPORT))).toBe("UNAUTHENTICATED");
  });

  it("refuses a wrong password with BAD_USER_INPUT on password, and changes nothing", async () => {
    const victim = await registerUser(server.url, "wrongpw");
    const room = await makeRoom(api, victim, { members: [bob] });
    const answer = await api.run(victim, DELETE_ACCOUNT, { p: "not the password" });
    expect(ext(answer)).toMatchObject({ code: "BAD_USER_INPUT", field: "password" });
    expect(answer.data).toBeNull();
    expect((await api.ok(victim, `{ me { id username deleted } }`)).me).toEqual({
      id: victim.id,
      username: victim.username,
      deleted: false,
    });
    expect((await api.ok(bob, MEMBERS, { r: room })).room.members).toHaveLength(2);
    expect((await gql(server.url, LOGIN, { u: victim.username, p: PASSWORD })).data?.login.accessToken).toBeTruthy();
  });

  it("closes the user's other sockets with 4403, anonymises the profile, keeps the messages as from Deleted user, and frees the username", async () => {
    const victim = await registerUser(server.url, "leaving");
    const phone = (await gql(server.url, LOGIN, { u: victim.username, p: PASSWORD })).data!.login.accessToken as string;
    const group = await makeRoom(api, victim, { members: [bob], name: "Kept" });
    await api.ok(victim, SEND, { r: group, c: "words that stay" });
    await api.ok(
      victim,
      `mutation { updateProfile(input: { bio: "my bio", avatar: "https://example.com/me.png", phoneNumber: "+14155550123" }) { id } }`,
    );
    await api.ok(victim, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: carol.id });
    await api.ok(victim, `mutation($u: ID!) { blockUser(userId: $u) }`, { u: dave.id });
    const unsent = await server.app.attachments.upload(victim.id, new File(["draft"], "draft.txt", { type: "text/plain" }));
    const unsentFile = join(server.app.config.ATTACHMENTS_DIR!, unsent.storageKey); // the test server sets it
    expect(existsSync(unsentFile)).toBe(true);
    const socket = await openSocket(server.wsUrl, phone);
    const watcher = await watchRoom(bob, group, victim);

    expect((await api.ok(victim, DELETE_ACCOUNT, { p: PASSWORD })).deleteAccount).toBe(true);

    expect(await closeCode(socket)).toBe(4403);
    const left = roomEvent(await watcher.nextWhere(isRoomEvent("MemberLeft")));
    expect(left).toMatchObject({ roomId: group, user: { id: victim.id, displayName: "Deleted user", deleted: true }, reason: "LEFT" });
    const history = (await api.ok(bob, HISTORY, { r: group })).messages.edges.map((e: any) => e.node);
    expect(history.find((m: any) => m.content === "words that stay").sender).toEqual({
      id: victim.id,
      username: `deleted-${victim.id}`,
      displayName: "Deleted user",
      deleted: true,
    });

    // every token and credential is dead
    for (const token of [victim.accessToken, phone])
      expect(errorCode(await gql(server.url, `{ me { id } }`, {}, token))).toBe("UNAUTHENTICATED");
    expect(
      errorCode(
        await gql(server.url, `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`, { t: victim.refreshToken }),
      ),
    ).toBe("UNAUTHENTICATED");
    expect(errorCode(await gql(server.url, LOGIN, { u: victim.username, p: PASSWORD }))).toBe("UNAUTHENTICATED");
    expect(
      errorCode(
        await gql(
          server.url,
          `mutation { login(input: { email: "${victim.username}@example.com", password: "${PASSWORD}" }) { accessToken } }`,
        ),
      ),
    ).toBe("UNAUTHENTICATED");

    // the row is a tombstone: nothing personal left
    const row = await server.app.db.user.findUniqueOrThrow({ where: { id: victim.id } });
    expect(row).toMatchObject({
      username: `deleted-${victim.id}`,
      email: `deleted-${victim.id}`,
      displayName: "Deleted user",
      avatar: null,
      bio: null,
      phoneNumber: null,
      lastSeenAt: null,
    });
    expect(row.deletedAt).toBeInstanceOf(Date);
    expect(row.passwordHash.startsWith("$argon2")).toBe(false);
    const [contacts, blocks, sessions] = await Promise.all([
      server.app.db.contact.count({ where: { OR: [{ fromId: victim.id }, { toId: victim.id }] } }),
      server.app.db.block.count({ where: { OR: [{ blockerId: victim.id }, { blockedId: victim.id }] } }),
      server.app.db.session.count({ where: { userId: victim.id } }),
    ]);
    expect({ contacts, blocks, sessions }).toEqual({ contacts: 0, blocks: 0, sessions: 0 });
    // the unsent upload: row and file
    expect(await server.app.db.attachment.count({ where: { id: unsent.id } })).toBe(0);
    expect(existsSync(unsentFile)).toBe(false);

    // nobody finds or reaches the deleted account; its old username is free
    const directory = await api.ok(bob, `query($s: String) { users(search: $s, first: 100) { edges { node { id } } } }`, { s: "deleted" });
    expect(directory.users.edges.map((e: any) => e.node.id)).not.toContain(victim.id);
    expect(errorCode(await api.run(bob, DIRECT, { u: victim.id }))).toBe("NOT_FOUND");
    expect(errorCode(await api.run(carol, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: victim.id }))).toBe(
      "NOT_FOUND",
    );
    const again = await gql(server.url, `mutation($i: RegisterInput!) { register(input: $i) { user { id username } } }`, {
      i: { username: victim.username, email: `${victim.username}@example.com`, password: PASSWORD, firstName: "New", lastName: "Person" },
    });
    expect(again.data?.register.user).toMatchObject({ username: victim.username });
    expect(again.data?.register.user.id).not.toBe(victim.id);
  });

  it("deletes once: of two calls at once, one answers true and the other UNAUTHENTICATED", async () => {
    const victim = await registerUser(server.url, "twice");
    const answers = await Promise.all([api.run(victim, DELETE_ACCOUNT, { p: PASSWORD }), api.run(victim, DELETE_ACCOUNT, { p: PASSWORD })]);
    expect(answers.map((a) => a.data?.deleteAccount ?? errorCode(a)).sort()).toEqual([true, "UNAUTHENTICATED"].sort());
  });

  it("passes ownership to the longest-standing ADMIN, else the longest-standing member, with MemberRoleChanged", async () => {
    const victim = await registerUser(server.url, "owner");
    // carol joined first as a MEMBER; dave, then erin, became ADMINs later: dave takes over
    const withAdmins = await makeRoom(api, victim, { members: [carol], name: "Admins" });
    await api.ok(victim, ADD, { r: withAdmins, u: dave.id, role: "ADMIN" });
    await api.ok(victim, ADD, { r: withAdmins, u: erin.id, role: "ADMIN" });
    // no ADMIN: carol (joined at creation) before erin (added later)
    const membersOnly = await makeRoom(api, victim, { members: [carol], name: "Members", type: "PUBLIC" });
    await api.ok(victim, ADD, { r: membersOnly, u: erin.id });
    const [adminWatch, memberWatch] = await Promise.all([watchRoom(carol, withAdmins, victim), watchRoom(erin, membersOnly, victim)]);

    await api.ok(victim, DELETE_ACCOUNT, { p: PASSWORD });

    expect(roomEvent(await adminWatch.nextWhere(isRoomEvent("MemberRoleChanged")))).toMatchObject({
      roomId: withAdmins,
      user: { id: dave.id },
      role: "OWNER",
      previousRole: "ADMIN",
      changedBy: { id: victim.id },
    });
    expect(roomEvent(await adminWatch.nextWhere(isRoomEvent("MemberLeft")))).toMatchObject({ user: { id: victim.id }, reason: "LEFT" });
    expect(roomEvent(await memberWatch.nextWhere(isRoomEvent("MemberRoleChanged")))).toMatchObject({
      roomId: membersOnly,
      user: { id: carol.id },
      role: "OWNER",
      previousRole: "MEMBER",
    });
    expect(roomEvent(await memberWatch.nextWhere(isRoomEvent("MemberLeft")))).toMatchObject({ user: { id: victim.id }, reason: "LEFT" });

    const roles = async (r: string) =>
      Object.fromEntries((await api.ok(carol, MEMBERS, { r })).room.members.map((m: any) => [m.user.id, m.role]));
    expect(await roles(withAdmins)).toEqual({ [carol.id]: "MEMBER", [dave.id]: "OWNER", [erin.id]: "ADMIN" });
    expect(await roles(membersOnly)).toEqual({ [carol.id]: "OWNER", [erin.id]: "MEMBER" });
    // the new owner owns for real
    expect((await api.ok(dave, `mutation($r: ID!) { deleteRoom(roomId: $r) }`, { r: withAdmins })).deleteRoom).toBe(true);
  });

  it("leaves a DIRECT room to the other member, who keeps the history; deletes a room with no other member", async () => {
    const victim = await registerUser(server.url, "direct");
    const direct = (await api.ok(victim, DIRECT, { u: bob.id })).directRoom.id as string;
    await api.ok(victim, SEND, { r: direct, c: "hi bob" });
    await api.ok(bob, SEND, { r: direct, c: "hi there" });
    const alone = await makeRoom(api, victim, { name: "Alone" });
    await api.ok(victim, SEND, { r: alone, c: "note to self" });
    // a room the others have left is alone too
    const deserted = await makeRoom(api, victim, { members: [carol], name: "Deserted" });
    await api.ok(carol, LEAVE, { r: deserted });

    await api.ok(victim, DELETE_ACCOUNT, { p: PASSWORD });

    const history = (await api.ok(bob, HISTORY, { r: direct })).messages.edges.map((e: any) => [e.node.content, e.node.sender.displayName]);
    expect(history.sort()).toEqual([
      ["hi bob", "Deleted user"],
      ["hi there", "bob Test"],
    ]);
    expect((await api.ok(bob, MEMBERS, { r: direct })).room.members.map((m: any) => m.user.id)).toEqual([bob.id]);
    expect(await server.app.db.room.count({ where: { id: { in: [alone, deserted] } } })).toBe(0);
    expect(await server.app.db.message.count({ where: { roomId: alone } })).toBe(0);
  });

  it("exportMyData gives the viewer's profile, settings, contacts, blocks, rooms and own messages, never others'", async () => {
    const viewer = await registerUser(server.url, "exporter");
    const room = await makeRoom(api, viewer, { members: [bob], name: "Export room" });
    const left = await makeRoom(api, carol, { members: [viewer], name: "Left room" });
    await api.ok(viewer, SEND, { r: room, c: "mine one" });
    await api.ok(bob, SEND, { r: room, c: "bob's words" });
    await api.ok(viewer, SEND, { r: left, c: "mine before leaving" });
    await api.ok(carol, SEND, { r: left, c: "carol's words" });
    await api.ok(viewer, LEAVE, { r: left });
    const edited = (await api.ok(viewer, SEND, { r: room, c: "first draft" })).sendMessage.id;
    await api.ok(viewer, `mutation($id: ID!) { editMessage(id: $id, content: "final") { id } }`, { id: edited });
    await api.ok(viewer, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: dave.id });
    await api.ok(viewer, `mutation($u: ID!) { blockUser(userId: $u) }`, { u: erin.id });
    await api.ok(viewer, `mutation { updateSettings(input: { showReadReceipts: false }) { showReadReceipts } }`);

    const data = (await api.ok(viewer, EXPORT)).exportMyData;

    expect(data.profile).toMatchObject({
      id: viewer.id,
      username: viewer.username,
      email: `${viewer.username}@example.com`,
      firstName: "exporter",
    });
    expect(data.profile).not.toHaveProperty("passwordHash");
    expect(JSON.stringify(data)).not.toContain("$argon2");
    expect(data.settings).toMatchObject({ showReadReceipts: false, showOnlineStatus: true });
    expect(data.settings).toHaveProperty("notificationPreviews", true);
    expect(data.profile).not.toHaveProperty("notificationPreviews");
    expect(data.contacts).toEqual([
      expect.objectContaining({ userId: dave.id, username: dave.username, status: "PENDING", direction: "SENT" }),
    ]);
    expect(data.blocks).toEqual([expect.objectContaining({ userId: erin.id, username: erin.username })]);
    expect(data.rooms).toEqual([expect.objectContaining({ id: room, name: "Export room", type: "GROUP", role: "OWNER" })]);
    expect(Number.isNaN(Date.parse(data.rooms[0].joinedAt))).toBe(false);
    const contents = data.messages.map((m: any) => m.content).sort();
    expect(contents).toEqual(["final", "mine before leaving", "mine one"]);
    expect(data.messages.find((m: any) => m.id === edited).edits).toEqual([expect.objectContaining({ content: "first draft" })]);
    expect(JSON.stringify(data)).not.toMatch(/bob's words|carol's words/);
  });
});

describe("deleteAccount across two nodes sharing PostgreSQL and Redis", () => {
  const {
    nodes: [a, b],
  } = useNodes(2);

  it("closes the user's socket on node A with 4403 when the account is deleted through node B", async () => {
    const victim = await registerUser(a.url, "across");
    const socket = await openSocket(a.wsUrl, victim.accessToken);
    expect((await gql(b.url, DELETE_ACCOUNT, { p: PASSWORD }, victim.accessToken)).data).toEqual({ deleteAccount: true });
    expect(await closeCode(socket)).toBe(4403);
    expect(errorCode(await gql(a.url, `{ me { id } }`, {}, victim.accessToken))).toBe("UNAUTHENTICATED");
  });
});
