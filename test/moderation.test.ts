/**
 * Moderation (issue 16): banMember / unbanMember / kickMember and their role
 * rules, events (roomEvents MemberLeft BANNED / KICKED with the note, myEvents
 * RemovedFromRoom) and the end of the removed user's subscriptions; a ban holds
 * on every way back in (joinRoom, an old invite, a new invite, addRoomMember)
 * until unbanned; the audit log (Room.moderationLog) and Room.bans; reports
 * (reportMessage, reportUser), the queue (Room.reports) and each resolution;
 * moderators-only reads and writes; the reporting rate limit. Over HTTP and
 * graphql-ws against a real server.
 */
import { describe, expect, it } from "vitest";
import { errorCode, ext, type GqlResponse, type Subscription, subscribe, type TestUser, warmUp } from "./helpers/client.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api,
  api: { run, ok },
  client,
  users: [alice, bob, carol, dave, erin],
} = useTestServer(["alice", "bob", "carol", "dave", "erin"]);

const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role } }`;
const JOIN = `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`;
const INVITE = `mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }`;
const ACCEPT = `mutation($id: ID!) { acceptInvite(id: $id) { id } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
const BAN = `mutation($r: ID!, $u: ID!, $why: String!) { banMember(roomId: $r, userId: $u, reason: $why) }`;
const UNBAN = `mutation($r: ID!, $u: ID!) { unbanMember(roomId: $r, userId: $u) }`;
const KICK = `mutation($r: ID!, $u: ID!, $why: String!) { kickMember(roomId: $r, userId: $u, reason: $why) }`;
const REPORT_MESSAGE = `mutation($m: ID!, $why: String!) { reportMessage(messageId: $m, reason: $why) { id status reason reportedUser { id } message { id } room { id } } }`;
const REPORT_USER = `mutation($u: ID!, $r: ID, $why: String!) { reportUser(userId: $u, roomId: $r, reason: $why) { id status reportedUser { id } room { id } } }`;
const RESOLVE = `mutation($id: ID!, $a: ReportResolution!) { resolveReport(reportId: $id, action: $a) { id status resolution resolvedBy { id } resolvedAt } }`;
const MODERATION = `query($r: ID!, $s: ReportStatus) { room(id: $r) {
  reports(status: $s) { edges { node { id status resolution reason reporter { id } reportedUser { id } message { id } } } }
  moderationLog { edges { node { action reason actor { id } target { id } report { id } } } }
  bans { user { id } bannedBy { id } reason } } }`;
const ROOM_EVENTS = `subscription($r: ID!) { roomEvents(roomId: $r) { __typename ... on MemberLeft { user { id } reason note removedBy { id } } } }`;
const MESSAGE_ADDED = `subscription($r: ID!) { messageAdded(roomId: $r) { id } }`;
const MY_EVENTS = `subscription { myEvents { __typename ... on RemovedFromRoom { roomId reason note by { id } } } }`;

/** The room's moderation fields as `viewer` reads them. */
const moderation = async (viewer: TestUser, r: string, status?: string) => (await ok(viewer, MODERATION, { r, s: status })).room;
const nodes = (connection: { edges: { node: any }[] }) => connection.edges.map((e) => e.node);
const isMemberLeft = (userId: string) => (e: GqlResponse) =>
  e.data?.roomEvents?.__typename === "MemberLeft" && e.data.roomEvents.user.id === userId;

/** `user`'s live roomEvents and messageAdded of `r`, and their myEvents, each seen to deliver (warmed up by `alice`'s messages). */
async function watch(user: TestUser, r: string): Promise<{ events: Subscription; messages: Subscription; mine: Subscription }> {
  const socket = client(user);
  const events = subscribe(socket, ROOM_EVENTS, { r });
  const messages = subscribe(socket, MESSAGE_ADDED, { r });
  const mine = subscribe(socket, MY_EVENTS);
  await warmUp(events, () => ok(alice, SEND, { r, c: "warm-up" }));
  await warmUp(messages, () => ok(alice, SEND, { r, c: "warm-up" }));
  // myEvents: being added to a new room is an event of one's own
  await warmUp(mine, () => ok(alice, CREATE, { input: { name: "warm-up", type: "GROUP", memberIds: [user.id] } }));
  return { events, messages, mine };
}

describe("banMember", () => {
  it("removes the user now (MemberLeft BANNED with the note, their subscriptions end, RemovedFromRoom), keeps them out until unbanned, and audits both", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC", members: [bob, carol] });
    const bobs = await watch(bob, r);
    const carols = subscribe(client(carol), ROOM_EVENTS, { r });
    await warmUp(carols, () => ok(alice, SEND, { r, c: "warm-up" }));

    expect((await ok(alice, BAN, { r, u: bob.id, why: "spam links" })).banMember).toBe(true);
    const left = { __typename: "MemberLeft", user: { id: bob.id }, reason: "BANNED", note: "spam links", removedBy: { id: alice.id } };
    expect((await carols.nextWhere(isMemberLeft(bob.id))).data!.roomEvents).toEqual(left);
    expect((await bobs.events.nextWhere(isMemberLeft(bob.id))).data!.roomEvents).toEqual(left);
    await bobs.events.completed;
    await bobs.messages.completed;
    expect((await bobs.mine.nextWhere((e) => e.data?.myEvents?.__typename === "RemovedFromRoom")).data!.myEvents).toEqual({
      __typename: "RemovedFromRoom",
      roomId: r,
      reason: "BANNED",
      note: "spam links",
      by: { id: alice.id },
    });
    expect(await server.app.db.roomMember.count({ where: { roomId: r, userId: bob.id } })).toBe(0);

    // every way back in is refused while banned
    const refusals = [
      await run(bob, JOIN, { r }),
      await run(alice, INVITE, { r, u: bob.id }),
      await run(carol, INVITE, { r, u: bob.id }),
      await run(alice, ADD, { r, u: bob.id }),
    ];
    for (const refusal of refusals) {
      expect(errorCode(refusal)).toBe("FORBIDDEN");
      expect(refusal.errors![0]!.message).toMatch(/banned/i);
    }
    expect(errorCode(await run(bob, SEND, { r, c: "still here?" }))).toBe("FORBIDDEN");

    const whileBanned = await moderation(alice, r);
    expect(whileBanned.bans).toEqual([{ user: { id: bob.id }, bannedBy: { id: alice.id }, reason: "spam links" }]);
    expect((await ok(alice, UNBAN, { r, u: bob.id })).unbanMember).toBe(true);
    expect((await ok(bob, JOIN, { r })).joinRoom.id).toBe(r);
    const after = await moderation(alice, r);
    expect(after.bans).toEqual([]);
    expect(nodes(after.moderationLog)).toEqual([
      { action: "UNBAN", reason: null, actor: { id: alice.id }, target: { id: bob.id }, report: null },
      { action: "BAN", reason: "spam links", actor: { id: alice.id }, target: { id: bob.id }, report: null },
    ]);
  });

  it("bans a user who is not a member: their old invite is refused until unbanned, then accepted", async () => {
    const r = await makeRoom(api, alice, { type: "GROUP", members: [carol] });
    const invite = (await ok(alice, INVITE, { r, u: dave.id })).inviteToRoom.id;
    await ok(alice, BAN, { r, u: dave.id, why: "known troll" });
    const refused = await run(dave, ACCEPT, { id: invite });
    expect(errorCode(refused)).toBe("FORBIDDEN");
    expect(refused.errors![0]!.message).toMatch(/banned/i);
    expect(await server.app.db.roomMember.count({ where: { roomId: r, userId: dave.id } })).toBe(0);
    await ok(alice, UNBAN, { r, u: dave.id });
    expect((await ok(dave, ACCEPT, { id: invite })).acceptInvite.id).toBe(r);
  });

  it("refuses a second ban, an unban without a ban, an unknown user, oneself and an empty reason", async () => {
    const r = await makeRoom(api, alice, { type: "GROUP", members: [bob] });
    await ok(alice, BAN, { r, u: bob.id, why: "once" });
    expect(ext(await run(alice, BAN, { r, u: bob.id, why: "twice" }))).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    expect(errorCode(await run(alice, UNBAN, { r, u: carol.id }))).toBe("NOT_FOUND");
    expect(errorCode(await run(alice, BAN, { r, u: "00000000-0000-4000-8000-000000000000", why: "ghost" }))).toBe("NOT_FOUND");
    expect(ext(await run(alice, BAN, { r, u: alice.id, why: "me" }))).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    expect(ext(await run(alice, KICK, { r, u: carol.id, why: "  " }))).toMatchObject({ code: "BAD_USER_INPUT", field: "reason" });
    expect(await server.app.db.moderationLogEntry.count({ where: { roomId: r } })).toBe(1);
  });
});

describe("kickMember", () => {
  it("removes the member now (MemberLeft KICKED, subscriptions end); they may rejoin a PUBLIC room or accept a new invite; audited", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC", members: [bob] });
    const bobs = await watch(bob, r);
    expect((await ok(alice, KICK, { r, u: bob.id, why: "cool off" })).kickMember).toBe(true);
    expect((await bobs.events.nextWhere(isMemberLeft(bob.id))).data!.roomEvents).toMatchObject({
      reason: "KICKED",
      note: "cool off",
      removedBy: { id: alice.id },
    });
    await bobs.events.completed;
    await bobs.messages.completed;
    expect((await bobs.mine.nextWhere((e) => e.data?.myEvents?.__typename === "RemovedFromRoom")).data!.myEvents).toMatchObject({
      reason: "KICKED",
      note: "cool off",
    });
    expect((await ok(bob, JOIN, { r })).joinRoom.id).toBe(r);
    expect(nodes((await moderation(alice, r)).moderationLog)).toEqual([
      { action: "KICK", reason: "cool off", actor: { id: alice.id }, target: { id: bob.id }, report: null },
    ]);

    const group = await makeRoom(api, alice, { type: "GROUP", members: [bob] });
    await ok(alice, KICK, { r: group, u: bob.id, why: "out" });
    const invite = (await ok(alice, INVITE, { r: group, u: bob.id })).inviteToRoom.id;
    expect((await ok(bob, ACCEPT, { id: invite })).acceptInvite.id).toBe(group);
  });

  it("refuses a user who is not a member (NOT_FOUND)", async () => {
    const r = await makeRoom(api, alice, { type: "GROUP", members: [bob] });
    expect(errorCode(await run(alice, KICK, { r, u: carol.id, why: "who?" }))).toBe("NOT_FOUND");
  });
});

describe("role rules", () => {
  it("the OWNER bans and kicks ADMINs and MEMBERs; ADMINs only MEMBERs; MEMBERs and outsiders nobody", async () => {
    const r = await makeRoom(api, alice, { type: "GROUP", members: [carol, dave], admins: [bob, erin] });
    // an ADMIN on the OWNER or another ADMIN
    for (const op of [BAN, KICK]) {
      expect(errorCode(await run(bob, op, { r, u: alice.id, why: "coup" }))).toBe("FORBIDDEN");
      expect(errorCode(await run(bob, op, { r, u: erin.id, why: "rival" }))).toBe("FORBIDDEN");
      // a MEMBER on anyone
      expect(errorCode(await run(carol, op, { r, u: dave.id, why: "peer" }))).toBe("FORBIDDEN");
    }
    expect(errorCode(await run(carol, UNBAN, { r, u: dave.id }))).toBe("FORBIDDEN");
    // nothing changed, nothing audited
    expect(await server.app.db.roomMember.count({ where: { roomId: r } })).toBe(5);
    expect(await server.app.db.moderationLogEntry.count({ where: { roomId: r } })).toBe(0);

    await ok(bob, KICK, { r, u: carol.id, why: "admin on member" });
    await ok(bob, BAN, { r, u: dave.id, why: "admin on member" });
    await ok(bob, UNBAN, { r, u: dave.id });
    await ok(alice, BAN, { r, u: erin.id, why: "owner on admin" });
    const outsider = await run(carol, BAN, { r, u: bob.id, why: "from outside" });
    expect(errorCode(outsider)).toBe("NOT_FOUND"); // carol was kicked: a GROUP room's outsider
    expect(nodes((await moderation(alice, r)).moderationLog).map((e) => e.action)).toEqual(["BAN", "UNBAN", "BAN", "KICK"]);
  });

  it("shows reports, the audit log and bans to the OWNER and ADMINs only (null for MEMBERs and outsiders of a PUBLIC room)", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC", members: [carol], admins: [bob] });
    await ok(alice, KICK, { r, u: carol.id, why: "to log something" });
    await ok(carol, JOIN, { r });
    expect(nodes((await moderation(bob, r)).moderationLog)).toHaveLength(1);
    for (const viewer of [carol, dave]) expect(await moderation(viewer, r)).toEqual({ reports: null, moderationLog: null, bans: null });
  });
});

describe("reports", () => {
  it("a member reports a message (again: the same open report); the OWNER and ADMINs see the queue; DISMISS resolves it, audited", async () => {
    const r = await makeRoom(api, alice, { type: "GROUP", members: [bob, carol], admins: [erin] });
    const m = (await ok(bob, SEND, { r, c: "buy cheap watches" })).sendMessage.id;
    const report = (await ok(carol, REPORT_MESSAGE, { m, why: "spam" })).reportMessage;
    expect(report).toEqual({
      id: report.id,
      status: "OPEN",
      reason: "spam",
      reportedUser: { id: bob.id },
      message: { id: m },
      room: { id: r },
    });
    expect((await ok(carol, REPORT_MESSAGE, { m, why: "spam!" })).reportMessage.id).toBe(report.id);
    expect(errorCode(await run(bob, REPORT_MESSAGE, { m, why: "me" }))).toBe("FORBIDDEN");
    expect(errorCode(await run(dave, REPORT_MESSAGE, { m, why: "outsider" }))).toBe("NOT_FOUND");

    const queue = nodes((await moderation(erin, r)).reports);
    expect(queue).toEqual([
      {
        id: report.id,
        status: "OPEN",
        resolution: null,
        reason: "spam",
        reporter: { id: carol.id },
        reportedUser: { id: bob.id },
        message: { id: m },
      },
    ]);
    expect(errorCode(await run(carol, RESOLVE, { id: report.id, a: "DISMISS" }))).toBe("FORBIDDEN");
    expect(errorCode(await run(dave, RESOLVE, { id: report.id, a: "DISMISS" }))).toBe("NOT_FOUND");

    const resolved = (await ok(erin, RESOLVE, { id: report.id, a: "DISMISS" })).resolveReport;
    expect(resolved).toMatchObject({ id: report.id, status: "RESOLVED", resolution: "DISMISS", resolvedBy: { id: erin.id } });
    expect(ext(await run(alice, RESOLVE, { id: report.id, a: "DISMISS" }))).toMatchObject({ code: "BAD_USER_INPUT", field: "reportId" });
    const after = await moderation(alice, r);
    expect(nodes(after.reports)).toEqual([]);
    expect(nodes((await moderation(alice, r, "RESOLVED")).reports).map((x) => x.id)).toEqual([report.id]);
    expect(nodes(after.moderationLog)).toEqual([
      { action: "DISMISS_REPORT", reason: "spam", actor: { id: erin.id }, target: { id: bob.id }, report: { id: report.id } },
    ]);
    // resolved: the reporter may report it again, a new report
    expect((await ok(carol, REPORT_MESSAGE, { m, why: "still spam" })).reportMessage.id).not.toBe(report.id);
  });

  it("DELETE_MESSAGE deletes the reported message (MessageDeleted on roomEvents) and is audited; not for a report of a user", async () => {
    const r = await makeRoom(api, alice, { type: "GROUP", members: [bob, carol] });
    const m = (await ok(bob, SEND, { r, c: "something awful" })).sendMessage.id;
    const report = (await ok(carol, REPORT_MESSAGE, { m, why: "abuse" })).reportMessage;
    const events = subscribe(
      client(alice),
      `subscription($r: ID!) { roomEvents(roomId: $r) { __typename ... on MessageDeleted { message { id content deletedAt } deletedBy { id } } } }`,
      { r },
    );
    await warmUp(events, () => ok(alice, SEND, { r, c: "warm-up" }));
    expect((await ok(alice, RESOLVE, { id: report.id, a: "DELETE_MESSAGE" })).resolveReport).toMatchObject({
      status: "RESOLVED",
      resolution: "DELETE_MESSAGE",
    });
    const deleted = (await events.nextWhere((e) => e.data?.roomEvents?.__typename === "MessageDeleted")).data!.roomEvents;
    expect(deleted).toMatchObject({ message: { id: m, content: "" }, deletedBy: { id: alice.id } });
    expect(nodes((await moderation(alice, r)).moderationLog)).toEqual([
      { action: "DELETE_MESSAGE", reason: "abuse", actor: { id: alice.id }, target: { id: bob.id }, report: { id: report.id } },
    ]);

    const userReport = (await ok(carol, REPORT_USER, { u: bob.id, r, why: "rude" })).reportUser;
    expect(ext(await run(alice, RESOLVE, { id: userReport.id, a: "DELETE_MESSAGE" }))).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "action",
    });
    expect((await server.app.db.report.findUniqueOrThrow({ where: { id: userReport.id } })).status).toBe("OPEN");
  });

  it("BAN_USER on a report of a user bans them (removed, kept out), audited with the report", async () => {
    const r = await makeRoom(api, alice, { type: "PUBLIC", members: [bob, carol] });
    const report = (await ok(carol, REPORT_USER, { u: bob.id, r, why: "harassment" })).reportUser;
    expect(report).toMatchObject({ status: "OPEN", reportedUser: { id: bob.id }, room: { id: r } });
    expect(errorCode(await run(carol, REPORT_USER, { u: dave.id, r, why: "not here" }))).toBe("NOT_FOUND");
    expect(errorCode(await run(carol, REPORT_USER, { u: carol.id, r, why: "me" }))).toBe("FORBIDDEN");
    expect(errorCode(await run(dave, REPORT_USER, { u: bob.id, r, why: "outsider" }))).toBe("FORBIDDEN"); // a PUBLIC room not joined

    expect((await ok(alice, RESOLVE, { id: report.id, a: "BAN_USER" })).resolveReport).toMatchObject({
      status: "RESOLVED",
      resolution: "BAN_USER",
    });
    expect(await server.app.db.roomMember.count({ where: { roomId: r, userId: bob.id } })).toBe(0);
    expect(errorCode(await run(bob, JOIN, { r }))).toBe("FORBIDDEN");
    const after = await moderation(alice, r);
    expect(after.bans).toEqual([{ user: { id: bob.id }, bannedBy: { id: alice.id }, reason: "harassment" }]);
    expect(nodes(after.moderationLog)).toEqual([
      { action: "BAN", reason: "harassment", actor: { id: alice.id }, target: { id: bob.id }, report: { id: report.id } },
    ]);
  });

  it("a report of a user without a room is stored for the operators: no room's queue, nobody resolves it through the API", async () => {
    const report = (await ok(carol, REPORT_USER, { u: erin.id, why: "impersonation" })).reportUser;
    expect(report).toMatchObject({ status: "OPEN", reportedUser: { id: erin.id }, room: null });
    expect(errorCode(await run(alice, RESOLVE, { id: report.id, a: "DISMISS" }))).toBe("NOT_FOUND");
    expect(errorCode(await run(carol, REPORT_USER, { u: "00000000-0000-4000-8000-000000000000", why: "ghost" }))).toBe("NOT_FOUND");
  });
});

describe("reporting rate limit", () => {
  const limited = useTestServer(["reporter", "owner"], { env: { RATE_LIMIT_REPORT: "2/600" } });

  it("refuses the third report within the window with RATE_LIMITED and retryAfter, writing nothing", async () => {
    const [reporter, owner] = limited.users;
    const r = await makeRoom(limited.api, owner, { name: "Limited", members: [reporter] });
    const m = (await limited.api.ok(owner, SEND, { r, c: "one" })).sendMessage.id;
    await limited.api.ok(reporter, REPORT_MESSAGE, { m, why: "first" });
    await limited.api.ok(reporter, REPORT_USER, { u: owner.id, r, why: "second" });
    const third = await limited.api.run(reporter, REPORT_USER, { u: owner.id, why: "third" });
    expect(ext(third)).toMatchObject({ code: "RATE_LIMITED", retryAfter: expect.any(Number) });
    expect(await limited.server.app.db.report.count({ where: { reporterId: reporter.id } })).toBe(2);
  });
});
