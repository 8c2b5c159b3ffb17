/**
 * The authorization matrix (issue 7, "Trust under load, faults and hostile
 * input"), generated from the schema so a new field cannot be forgotten:
 *
 * - every root field is room-scoped (one of its arguments or input fields names
 *   something in a room: ROOM_REFS, or an `id` that ID_REFS maps to a room thing)
 *   or listed in NOT_ROOM_SCOPED with the reason; anything else fails the test,
 *   and so does an ID argument nobody classified;
 * - each room-scoped field becomes an operation (arguments from the fixtures and a
 *   small table by name, the rest generated from their types) and is tried as a
 *   stranger, a member removed a moment ago, a blocked user, an expired token, a
 *   revoked session and a member of another room (also mixing their own room with
 *   the target's ids), against a GROUP, a DIRECT and a PUBLIC room. Queries select
 *   everything reachable (deepSelection), so Room.members, Message.reactions … are
 *   checked too; mutations and subscriptions the minimum. Every case must be
 *   refused with the expected code (or `null`, where a lookup documents it), the
 *   response must carry none of the target's data, and a refused mutation must
 *   leave the room's rows as they were. The exceptions are listed in ALLOWED, each
 *   with its reason;
 * - the viewer's own lists (myRooms, notifications …) are read by every persona
 *   and must not show the target's data either;
 * - subscriptions already open end when their member is removed (complete) or
 *   their session is revoked (socket closed with 4403), and get nothing sent after.
 */
import { randomUUID } from "node:crypto";
import { getNamedType, isEnumType, isListType, isNonNullType, isNullableType } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { AccessTokens } from "../src/auth/tokens.js";
import { schema } from "../src/schema/index.js";
import { type GqlResponse, gql, registerUsers, type Subscription, subscribe, type TestUser, within, wsClient } from "./helpers/client.js";
import {
  deepSelection,
  type Fill,
  type InputSlot,
  inputSlots,
  minimalSelection,
  operation,
  type RootField,
  rootFields,
} from "./helpers/operations.js";
import { TEST_JWT_SECRET, useTestServer } from "./helpers/server.js";

/** What a room-scoped argument refers to. */
type Ref = "room" | "message" | "invite" | "attachment" | "notification" | "report";

/** Arguments and input fields, by name, that refer to something in a room. */
const ROOM_REFS: Record<string, Ref> = {
  roomId: "room",
  messageId: "message",
  threadRootId: "message",
  replyToId: "message",
  attachmentIds: "attachment",
  reportId: "report",
};

/** What the `id` argument of each field refers to: a room thing, or something of the viewer's own (null). */
const ID_REFS: Record<string, Ref | null> = {
  room: "room",
  acceptInvite: "invite",
  declineInvite: "invite",
  deleteMessage: "message",
  editMessage: "message",
  pinMessage: "message",
  unpinMessage: "message",
  markNotificationRead: "notification",
  user: null,
  revokeSession: null,
  respondToContactRequest: null,
};

/** ID arguments that name users: not room-scoped by themselves. */
const USER_REFS = new Set(["userId", "memberIds"]);

/** Root fields with no room-scoped argument, and why they need none. */
const NOT_ROOM_SCOPED: Record<string, string> = {
  register: "creates an account",
  login: "opens a session by credentials",
  refreshToken: "rotates the caller's own refresh token",
  logout: "ends the caller's own session",
  revokeSession: "ends one of the viewer's own sessions (Sessions.revoke checks the owner)",
  changePassword: "the viewer's own password (account.test.ts)",
  requestPasswordReset: "mails the address's owner, whoever asks (account.test.ts)",
  resetPassword: "the account the mailed token names (account.test.ts)",
  verifyEmail: "the account the mailed token names (account.test.ts)",
  requestEmailVerification: "mails the viewer's own address",
  changeEmail: "the viewer's own address (account.test.ts)",
  mySessions: "the viewer's own sessions",
  me: "the viewer",
  user: "a user's public profile; User has no room fields",
  users: "the user directory; User has no room fields",
  contacts: "the viewer's own contacts",
  contactRequests: "the viewer's own contact requests",
  blockedUsers: "the viewer's own blocks",
  sendContactRequest: "between two users",
  respondToContactRequest: "a request addressed to the viewer",
  removeContact: "between two users",
  blockUser: "between two users",
  unblockUser: "between two users",
  updateProfile: "the viewer's own profile",
  updateSettings: "the viewer's own settings",
  uploadAttachment: "an upload is its uploader's until sent; sendMessage checks attachmentIds",
  uploadAttachmentFromUrl: "as uploadAttachment: the fetched file is its uploader's until sent",
  createRoom: "makes a new room owned by the viewer; memberIds are users",
  directRoom: "the viewer's own DIRECT room with a user (blocks: contacts.test.ts)",
  myRooms: "the viewer's rooms (read by every persona below: no target data)",
  publicRooms: "the PUBLIC rooms, discoverable by design (read by every persona below)",
  myInvites: "invites to the viewer (read by every persona below)",
  sync: "the viewer's own rooms, messages, rooms left and invites since the viewer's cursor (read by every persona below: no target data)",
  notifications: "the viewer's notifications (read by every persona below)",
  myEvents: "the viewer's own events",
  deleteAccount:
    "deletes the viewer's own account (its rooms are left through the same room locks and events as leaveRoom: account-deletion.test.ts)",
  exportMyData: "the viewer's own data (read by every persona below: only their own messages)",
  webPushPublicKey: "the server's public VAPID key, the same for everybody",
  registerPushSubscription: "a subscription of the viewer's own session (push.test.ts)",
  unregisterPushSubscription: "removes only the viewer's own subscription by endpoint (push.test.ts)",
};

/** The room-scoped references of a root field, by input slot; throws on an ID argument nobody classified. */
function roomRefs(root: RootField): { slot: InputSlot; ref: Ref }[] {
  return inputSlots(root.field).flatMap((slot) => {
    if (getNamedType(slot.type).name !== "ID") return [];
    if (slot.name in ROOM_REFS) return [{ slot, ref: ROOM_REFS[slot.name]! }];
    if (slot.name === "id" && root.name in ID_REFS) return ID_REFS[root.name] ? [{ slot, ref: ID_REFS[root.name]! }] : [];
    if (USER_REFS.has(slot.name)) return [];
    throw new Error(`${root.kind} ${root.name}: classify the ID argument ${slot.path.join(".")} (ROOM_REFS, ID_REFS or USER_REFS)`);
  });
}

const roots = rootFields(schema);
const roomScoped = roots.filter((root) => roomRefs(root).length > 0);

/** Kinds of a target room's data; a response showing any of them to an outsider is a leak. */
type Kind = "room" | "members" | "content" | "invite" | "attachment" | "report";
const KINDS: Kind[] = ["room", "members", "content", "invite", "attachment", "report"];

type RoomType = "GROUP" | "DIRECT" | "PUBLIC";

/** A room fixture and the values its references take. */
interface Target {
  type: RoomType;
  refs: Record<Ref, string | undefined>;
  /** A member other than the personas (userId arguments). */
  memberId: string;
  /** A word of its messages (searchMessages' query). */
  word: string;
  markers: Record<Kind, string[]>;
}

/** Who tries, against which room, and what answer is expected. */
interface Column {
  persona:
    | "stranger"
    | "removed member"
    | "blocked user"
    | "expired token"
    | "revoked session"
    | "other room's member"
    | "other room's member, mixing ids";
  token: string;
  target: Target;
  expect: "unauthenticated" | "outsider" | "blocked" | "mixing";
  /** For "mixing": the persona's own room, whose roomId goes with the target's other ids. */
  own?: Target;
}

/** Cases that are not refused, and why. `reveals`: what of the target the answer may show. */
const ALLOWED: { persona: Column["persona"]; target: RoomType; fields: string[]; reveals: Kind[]; because: string }[] = [
  {
    persona: "stranger",
    target: "PUBLIC",
    fields: ["room", "joinRoom", "publicRooms"],
    reveals: ["room", "members"],
    because:
      "PUBLIC rooms are discoverable and open: room(id) answers any PUBLIC room, publicRooms lists them, joinRoom joins (README Rooms; seed 000 is_public rooms and POST /rooms/{id}/join). Messages stay hidden until joined.",
  },
  {
    persona: "removed member",
    target: "PUBLIC",
    fields: ["room", "joinRoom", "publicRooms"],
    reveals: ["room", "members"],
    because: "a member removed from a PUBLIC room is an outsider like any other, and may find and join it again (README Rooms)",
  },
  {
    persona: "blocked user",
    target: "DIRECT",
    fields: [
      "messages",
      "room",
      "searchMessages",
      "myRooms",
      "sync",
      "exportMyData",
      "markRead",
      "markDelivered",
      "deleteMessage",
      "archiveRoom",
      "unarchiveRoom",
      "muteRoom",
      "unmuteRoom",
      "deleteRoom",
      "joinRoom",
      "leaveRoom",
      "messageAdded",
      "roomEvents",
      "typing",
      "presence",
    ],
    reveals: KINDS,
    because:
      "a block stops what reaches the blocker (README Contacts and blocking: no new direct room, no messages; no presence), not membership: the blocked user keeps the DIRECT room's history (myRooms, messages and sync as before the block; exportMyData: the room and their own message in it), may take back their own messages (deleteMessage) and keeps their own settings of it (read marker, delivery mark, archive, mute, hiding it with deleteRoom, leaving; joinRoom is a no-op for a member). Their subscriptions get nothing new: neither side may post, react or type, and the blocker's presence is hidden from them.",
  },
  {
    persona: "blocked user",
    target: "DIRECT",
    fields: ["reportUser"],
    reveals: [],
    because:
      "a report goes to the platform's operators (a DIRECT room has no admins), never to the reported user, so a block does not stop it: whoever was harassed before a block must still be able to report it (docs/security.md, 1a). Their own message they cannot report (reportMessage: FORBIDDEN).",
  },
];

const allowedFor = (column: Column, field: string) =>
  ALLOWED.find((a) => a.persona === column.persona && a.target === column.target.type && a.fields.includes(field));

/** The markers of `target` (kinds not in `reveals`) that appear in `response`. */
function leaks(response: unknown, target: Target, reveals: readonly Kind[] = []): string[] {
  const text = JSON.stringify(response);
  return KINDS.filter((k) => !reveals.includes(k)).flatMap((k) =>
    target.markers[k].filter((m) => text.includes(m)).map((m) => `${k} ${m}`),
  );
}

/** Values of the non-reference arguments, by name; the rest is generated from the type. */
const VALUES: Record<string, unknown> = { content: "x", emoji: "👍", name: "renamed", isTyping: true, accept: true };

/**
 * The argument values of `root` in a case against `target`: its references (all of
 * them, optional ones too), `userId` a member, the rest from VALUES or by type.
 * `mixing`: the one reference slot that takes the target's value while roomId (and
 * any other required reference) takes `own`'s. Returns null when the target has
 * nothing to refer to (a DIRECT room has no invites).
 */
function filler(root: RootField, target: Target, mixing?: { slot: InputSlot; own: Target }): Fill | null {
  const refs = roomRefs(root);
  const refOf = (slot: InputSlot) => refs.find((r) => r.slot.path.join(".") === slot.path.join("."))?.ref;
  if (refs.some((r) => r.slot.required && !target.refs[r.ref])) return null;
  return (slot) => {
    const ref = refOf(slot);
    if (ref) {
      const from =
        !mixing || mixing.slot.path.join(".") === slot.path.join(".")
          ? target
          : slot.name === "roomId" || slot.required
            ? mixing.own
            : null;
      const value = from?.refs[ref];
      const list = isListType(isNonNullType(slot.type) ? slot.type.ofType : slot.type);
      return value === undefined ? undefined : list ? [value] : value;
    }
    if (slot.name === "userId") return target.memberId;
    if (slot.name === "query") return target.word;
    if (slot.name in VALUES) return VALUES[slot.name];
    if (!slot.required) return undefined;
    const named = getNamedType(slot.type);
    if (isEnumType(named)) return named.getValues()[0]!.value;
    const byType: Record<string, unknown> = {
      String: "x",
      Int: 1,
      Boolean: true,
      DateTime: new Date(Date.now() + 86_400_000).toISOString(),
    };
    if (!(named.name in byType)) throw new Error(`${root.name}: no value for ${slot.path.join(".")} (${named.name}); add it to VALUES`);
    return byType[named.name];
  };
}

/** The codes a refusal may carry for `column`, per room type. */
function expectedCodes(column: Column): string[] {
  switch (column.expect) {
    case "unauthenticated":
      return ["UNAUTHENTICATED"];
    case "blocked":
      // NOT_FOUND: the other member's notification (the blocked user is a member: nothing to hide)
      return ["FORBIDDEN", "NOT_FOUND"];
    case "mixing":
      return ["BAD_USER_INPUT", "NOT_FOUND"];
    case "outsider":
      // README Errors: outsiders of a private room get NOT_FOUND (existence does not leak), of a public one FORBIDDEN
      return column.target.type === "PUBLIC" ? ["FORBIDDEN", "NOT_FOUND"] : ["NOT_FOUND"];
  }
}

/** Why `response` is not a proper refusal of `root` for `column`, or null when it is. */
function refusalProblem(response: GqlResponse, root: RootField, column: Column): string | null {
  const code = response.errors?.[0]?.extensions?.code;
  const value = response.data?.[root.name];
  if (code === undefined) {
    // a lookup documented to answer null for what the viewer cannot see (room(id))
    const documentedNull = root.kind === "query" && isNullableType(root.field.type) && column.expect === "outsider";
    return value === null && documentedNull ? null : `not refused: ${JSON.stringify(response).slice(0, 200)}`;
  }
  if (value !== undefined && value !== null) return `refused with ${code}, but data too`;
  return expectedCodes(column).includes(code)
    ? null
    : `refused with ${code}, expected ${expectedCodes(column).join(" or ")} (${response.errors![0]!.message})`;
}

/** The rows of a room that any write would change. */
async function snapshot(roomId: string): Promise<string> {
  const db = server.app.db;
  return JSON.stringify(
    await Promise.all([
      db.room.findUnique({ where: { id: roomId } }),
      db.roomMember.findMany({ where: { roomId }, orderBy: { userId: "asc" } }),
      db.message.findMany({ where: { roomId }, orderBy: { seq: "asc" } }),
      db.messageEdit.count({ where: { message: { roomId } } }),
      db.reaction.findMany({ where: { message: { roomId } }, orderBy: [{ messageId: "asc" }, { userId: "asc" }, { emoji: "asc" }] }),
      db.roomInvite.findMany({ where: { roomId }, orderBy: { id: "asc" } }),
      db.storedEvent.count({ where: { roomId } }),
      db.attachment.findMany({ where: { message: { roomId } }, orderBy: { id: "asc" } }),
      db.notification.findMany({ where: { message: { roomId } }, select: { id: true, readAt: true }, orderBy: { id: "asc" } }),
      db.report.findMany({ where: { roomId }, orderBy: { id: "asc" } }),
      db.roomBan.findMany({ where: { roomId }, orderBy: { userId: "asc" } }),
      db.moderationLogEntry.count({ where: { roomId } }),
    ]),
  );
}

// the deep selections reach every field of the result, far beyond any real operation: document limits raised (they have their own test)
const { server, api, client, clients, users } = useTestServer(
  ["owner", "member", "removed", "stranger", "blocked", "invitee", "other", "colleague"],
  {
    env: { MAX_QUERY_DEPTH: "50", MAX_QUERY_TOKENS: "100000", MAX_QUERY_COST: "10000000" },
  },
);
const [owner, member, removed, stranger, blocked, invitee, other, colleague] = users;

/** What a case came to. */
interface Result {
  column: Column;
  field: string;
  outcome: "refused" | "allowed" | "not applicable";
  problem?: string;
}

describe("authorization matrix", () => {
  const tag = randomUUID().slice(0, 8);
  let group: Target, direct: Target, publicRoom: Target, otherRoom: Target;
  let columns: Column[];

  /**
   * Creates a room of `type` by `creator` with `members`, and in it: `author`'s
   * message (the target's message: an attachment, a mention of `mention`, whose
   * notification the target refers to; pinned), another member's thread reply,
   * reaction, read marker and report of the message, and unless DIRECT an invite. `userId` arguments get a member
   * other than the author (the other member of a DIRECT room).
   */
  async function makeTarget(
    type: RoomType,
    creator: TestUser,
    members: TestUser[],
    mention: TestUser,
    label: string,
    author = creator,
  ): Promise<Target> {
    const name = type === "DIRECT" ? null : `room-${label}-${tag}`;
    const room =
      type === "DIRECT"
        ? (await api.ok(creator, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: members[0]!.id })).directRoom.id
        : (
            await api.ok(creator, `mutation($i: CreateRoomInput!) { createRoom(input: $i) { id } }`, {
              i: { name, type, memberIds: members.map((m) => m.id) },
            })
          ).createRoom.id;
    const word = `zq${label}${tag}`;
    const attachment = (
      await server.app.attachments.upload(author.id, new File([`file ${word}`], `file-${word}.txt`, { type: "text/plain" }))
    ).id;
    const content = `${word} first @${mention.username}`;
    const send = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`;
    const message = (await api.ok(author, send, { i: { roomId: room, content, attachmentIds: [attachment] } })).sendMessage.id;
    const reply = `${word} reply in the thread`;
    const replier = author === creator ? members[0]! : creator;
    await api.ok(replier, send, { i: { roomId: room, content: reply, threadRootId: message } });
    await api.ok(replier, `mutation($m: ID!) { addReaction(messageId: $m, emoji: "🔥") { id } }`, { m: message });
    await api.ok(replier, `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id } }`, { r: room, m: message });
    await api.ok(creator, `mutation($m: ID!) { pinMessage(id: $m) { id } }`, { m: message });
    const notification = (await server.app.db.notification.findFirstOrThrow({ where: { messageId: message, userId: mention.id } })).id;
    const invite =
      type === "DIRECT"
        ? undefined
        : (await api.ok(creator, `mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }`, { r: room, u: invitee.id }))
            .inviteToRoom.id;
    const report = (await api.ok(replier, `mutation($m: ID!) { reportMessage(messageId: $m, reason: "reported") { id } }`, { m: message }))
      .reportMessage.id;
    return {
      type,
      refs: { room, message, invite, attachment, notification, report },
      memberId: replier.id,
      word,
      markers: {
        room: [room, ...(name ? [name] : [])],
        members: [creator.id, ...members.map((m) => m.id)],
        content: [word, content, reply],
        invite: invite ? [invite] : [],
        attachment: [attachment, `file-${word}`],
        report: [report],
      },
    };
  }

  beforeAll(async () => {
    [group, publicRoom, direct, otherRoom] = await Promise.all([
      makeTarget("GROUP", owner, [member, removed], removed, "group"),
      makeTarget("PUBLIC", owner, [member, removed], removed, "public"),
      // the message is the blocked user's own: editing, pinning and reacting are refused, deleting is not
      makeTarget("DIRECT", owner, [blocked], owner, "direct", blocked),
      makeTarget("GROUP", other, [colleague], colleague, "other"),
    ]);
    // the removed member: removed a moment before the matrix, from both rooms
    for (const target of [group, publicRoom]) {
      await api.ok(owner, `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`, {
        r: target.refs.room,
        u: removed.id,
      });
      target.markers.members = target.markers.members.filter((id) => id !== removed.id);
    }
    // the blocked user: still a member of the DIRECT room, blocked by the other member
    await api.ok(owner, `mutation($u: ID!) { blockUser(userId: $u) }`, { u: blocked.id });
    direct.markers.members = [owner.id];
    // expired: a member's live session, its token's exp a minute ago (same secret, issuer and audience as the server's)
    const session = await server.app.db.session.findFirstOrThrow({ where: { userId: member.id } });
    const expired = (await new AccessTokens(TEST_JWT_SECRET, -60).sign({ userId: member.id, sessionId: session.id })).token;
    // revoked: a member's second session, logged out
    const login = `mutation($u: String!) { login(input: { username: $u, password: "correct horse battery" }) { accessToken } }`;
    const revoked = (await gql(server.url, login, { u: member.username })).data!.login.accessToken as string;
    expect((await gql(server.url, `mutation { logout }`, {}, revoked)).data).toEqual({ logout: true });

    columns = [
      { persona: "stranger", token: stranger.accessToken, target: group, expect: "outsider" },
      { persona: "stranger", token: stranger.accessToken, target: direct, expect: "outsider" },
      { persona: "stranger", token: stranger.accessToken, target: publicRoom, expect: "outsider" },
      { persona: "removed member", token: removed.accessToken, target: group, expect: "outsider" },
      { persona: "removed member", token: removed.accessToken, target: publicRoom, expect: "outsider" },
      { persona: "blocked user", token: blocked.accessToken, target: direct, expect: "blocked" },
      { persona: "expired token", token: expired, target: group, expect: "unauthenticated" },
      { persona: "expired token", token: expired, target: direct, expect: "unauthenticated" },
      { persona: "revoked session", token: revoked, target: group, expect: "unauthenticated" },
      { persona: "other room's member", token: other.accessToken, target: group, expect: "outsider" },
      { persona: "other room's member, mixing ids", token: other.accessToken, target: group, expect: "mixing", own: otherRoom },
    ];
  }, 120_000); // four rooms' fixtures: slow on a loaded machine

  it("classifies every root field: room-scoped by its arguments, or listed as not room-scoped", () => {
    const unlisted = roots.filter((r) => !roomScoped.includes(r) && !(r.name in NOT_ROOM_SCOPED)).map((r) => r.name);
    const listedButScoped = roomScoped.filter((r) => r.name in NOT_ROOM_SCOPED).map((r) => r.name);
    const stale = [...Object.keys(NOT_ROOM_SCOPED), ...ALLOWED.flatMap((a) => a.fields)].filter(
      (name) => !roots.some((r) => r.name === name),
    );
    expect({ unlisted, listedButScoped, stale }).toEqual({ unlisted: [], listedButScoped: [], stale: [] });
    expect(roomScoped.length).toBeGreaterThan(0);
  });

  it("shows no target data in the viewer's own lists (every query without required arguments), to any persona", async () => {
    const lists = roots.filter(
      (r) =>
        r.kind === "query" && !roomScoped.includes(r) && !r.field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined),
    );
    const failures: string[] = [];
    for (const column of columns.filter((c) => c.expect !== "mixing")) {
      await Promise.all(
        lists.map(async (root) => {
          const response = await gql(server.url, operation(root, () => undefined, deepSelection(root.field.type)).query, {}, column.token);
          // the directory (users) lists every user, so member ids are no secret here
          const found = leaks(response, column.target, ["members", ...(allowedFor(column, root.name)?.reveals ?? [])]);
          const code = response.errors?.[0]?.extensions?.code;
          const wrong = column.expect === "unauthenticated" ? code !== "UNAUTHENTICATED" : code !== undefined;
          if (found.length || wrong)
            failures.push(
              `${column.persona} @ ${column.target.type}: ${root.name}: ${code ?? "answered"}${found.length ? `, leaks ${found.join(", ")}` : ""}`,
            );
        }),
      );
    }
    expect(lists.map((r) => r.name)).toContain("notifications");
    expect(failures.sort()).toEqual([]);
  }, 60_000);

  it("refuses every room-scoped field to every persona, with the expected code, 0 leaks and no write", async () => {
    const results: Result[] = [];
    const allowedRuns: { field: string; run: () => Promise<void> }[] = [];
    const snapshots = new Map<string, string>();
    // the columns of one room one after the other (a refused mutation is checked against the room's rows), the rooms at once
    const targets = [...new Set(columns.map((c) => c.target))];
    await Promise.all(
      targets.map(async (target) => {
        for (const column of columns.filter((c) => c.target === target)) {
          const record = (root: RootField, problem: string | null, outcome: Result["outcome"] = "refused") =>
            results.push({ column, field: root.name, outcome, ...(problem ? { problem } : {}) });
          const cases = casesOf(column);
          for (const { root, fill } of cases.filter((c) => c.root.kind !== "subscription")) {
            const allowed = allowedFor(column, root.name);
            if (!fill) record(root, null, "not applicable");
            // after every refusal: these may change the persona's membership
            else if (allowed)
              allowedRuns.push({
                field: root.name,
                run: async () => void record(root, await allowedHttp(column, root, fill, allowed.reveals), "allowed"),
              });
            else record(root, await refusedHttp(column, root, fill, snapshots));
          }
          await Promise.all(
            cases
              .filter((c) => c.root.kind === "subscription")
              .map(async ({ root, fill }) => {
                if (!fill) record(root, null, "not applicable");
                else if (allowedFor(column, root.name)) record(root, null, "allowed");
                else record(root, await refusedSubscription(column, root, fill));
              }),
          );
        }
      }),
    );
    // joining and leaving change the persona's membership: last
    const last = (run: { field: string }) => Number(MEMBERSHIP_CHANGES.includes(run.field));
    for (const { run } of allowedRuns.sort((a, b) => last(a) - last(b))) await run();

    const refused = results.filter((r) => r.outcome === "refused");
    const failures = results
      .filter((r) => r.problem)
      .map((r) => `${r.column.persona} @ ${r.column.target.type}: ${r.field}: ${r.problem}`)
      .sort();
    console.log(
      `authorization matrix: ${roomScoped.length} room-scoped fields (${kinds(roomScoped)}) × ${new Set(columns.map((c) => c.persona.replace(", mixing ids", ""))).size} personas ` +
        `in ${columns.length} persona/room columns = ${results.length} cases: ${refused.length} refused, ` +
        `${results.filter((r) => r.outcome === "allowed").length} allowed (listed), ${results.filter((r) => r.outcome === "not applicable").length} not applicable; ` +
        `${results.filter((r) => r.problem?.includes("leaks")).length} leaks, ${failures.length} failures`,
    );
    expect(failures).toEqual([]);
  }, 180_000);
});

/** A column's cases: one per room-scoped field, or for "mixing" one per reference besides roomId of each field that takes a roomId. */
function casesOf(column: Column): { root: RootField; fill: Fill | null }[] {
  return roomScoped.flatMap((root) => {
    if (column.expect !== "mixing") return [{ root, fill: filler(root, column.target) }];
    if (!roomRefs(root).some((r) => r.slot.name === "roomId")) return [];
    return roomRefs(root)
      .filter((r) => r.slot.name !== "roomId")
      .map((r) => ({ root, fill: filler(root, column.target, { slot: r.slot, own: column.own! }) }));
  });
}

/** The selection of a case: queries everything reachable (so object fields are checked too), mutations the minimum. */
const selectionOf = (root: RootField) => (root.kind === "query" ? deepSelection(root.field.type) : minimalSelection(root.field.type));

/**
 * Runs a case over HTTP that must be refused; returns what is wrong with it, or
 * null. A mutation must also leave the target room's rows as they were:
 * `snapshots` holds each room's rows after its last refused mutation.
 */
async function refusedHttp(column: Column, root: RootField, fill: Fill, snapshots: Map<string, string>): Promise<string | null> {
  const { query, variables } = operation(root, fill, selectionOf(root));
  const roomId = column.target.refs.room!;
  const before = root.kind === "mutation" ? (snapshots.get(roomId) ?? (await snapshot(roomId))) : null;
  const response = await gql(server.url, query, variables, column.token);
  const after = before === null ? null : await snapshot(roomId);
  if (after !== null) snapshots.set(roomId, after);
  const found = leaks(response, column.target);
  const problems = [
    refusalProblem(response, root, column),
    found.length ? `leaks ${found.join(", ")}` : null,
    after !== before ? "changed the room's rows" : null,
  ];
  return problems.filter(Boolean).join("; ") || null;
}

/** Runs an ALLOWED case over HTTP: it must answer without errors and show nothing of the target beyond `reveals`. */
async function allowedHttp(column: Column, root: RootField, fill: Fill, reveals: Kind[]): Promise<string | null> {
  const { query, variables } = operation(root, fill, selectionOf(root));
  const response = await gql(server.url, query, variables, column.token);
  const found = leaks(response, column.target, reveals);
  return response.errors ? `allowed, but ${JSON.stringify(response.errors)}` : found.length ? `leaks ${found.join(", ")}` : null;
}

/**
 * Subscribes over graphql-ws with the column's token: a rejected token must close
 * the socket with 4403 at connection_init, anything else be refused at subscribe
 * (one `next` carrying the error). Returns what is wrong, or null.
 */
async function refusedSubscription(column: Column, root: RootField, fill: Fill): Promise<string | null> {
  const client = wsClient(server.wsUrl, column.token);
  clients.push(client);
  const { query, variables } = operation(root, fill, minimalSelection(root.field.type));
  const sub = subscribe(client, query, variables);
  const first = await Promise.race([
    sub.next(5000).then(
      (response) => ({ response }),
      (timeout: Error) => ({ timeout }),
    ),
    sub.error.then((closed) => ({ closed })),
  ]);
  if ("timeout" in first) return `no refusal: ${first.timeout.message}`;
  if ("closed" in first) {
    const code = (first.closed as { code?: number }).code;
    return column.expect === "unauthenticated" && code === 4403 ? null : `socket closed with ${code}`;
  }
  const found = leaks(first.response, column.target);
  const problem = column.expect === "unauthenticated" ? "subscribed with a rejected token" : refusalProblem(first.response, root, column);
  return [problem, found.length ? `leaks ${found.join(", ")}` : null].filter(Boolean).join("; ") || null;
}

/** Allowed mutations that change the persona's membership, run after the others. */
const MEMBERSHIP_CHANGES = ["joinRoom", "leaveRoom"];

/** "12 queries, 30 mutations, 4 subscriptions". */
function kinds(fields: RootField[]): string {
  return (["query", "mutation", "subscription"] as const)
    .map((k) => `${fields.filter((f) => f.kind === k).length} ${k === "query" ? "queries" : `${k}s`}`)
    .join(", ");
}

/** How a room-scoped subscription is made to fire: `actor` does something in `room` (`round` alternates state, `content` marks messages). */
const TRIGGERS: Record<string, (actor: TestUser, room: string, round: number, content: string) => Promise<unknown>> = {
  messageAdded: (actor, room, _round, content) =>
    api.ok(actor, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { roomId: room, content } }),
  roomEvents: (actor, room, round, content) => TRIGGERS.messageAdded!(actor, room, round, content),
  typing: (actor, room, round) =>
    api.ok(actor, `mutation($r: ID!, $t: Boolean!) { setTyping(roomId: $r, isTyping: $t) }`, { r: room, t: round % 2 === 0 }),
  // the actor has a socket open: a status change is announced to the rooms
  presence: (actor, _room, round) =>
    api.ok(actor, `mutation($s: PresenceStatus!) { updateProfile(input: { status: $s }) { id } }`, {
      s: round % 2 === 0 ? "AWAY" : "ONLINE",
    }),
};

/**
 * Repeats `action(round)` until each of `subs` has delivered an event that
 * `match`es (the events before it are dropped): how a test knows subscriptions are
 * live, or that an event reached them, without a sleep.
 * @throws Error after `timeoutMs`.
 */
async function untilEach(
  subs: Subscription[],
  action: (round: number) => Promise<unknown>,
  match: (event: GqlResponse) => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let waiting = subs;
  for (let round = 0; waiting.length > 0; round++) {
    if (Date.now() > deadline) throw new Error(`${waiting.length} subscriptions got no matching event within ${timeoutMs} ms`);
    await action(round);
    const got = await Promise.all(
      waiting.map((sub) =>
        sub.nextWhere(match, 200).then(
          () => true,
          () => false,
        ),
      ),
    );
    waiting = waiting.filter((_, i) => !got[i]);
  }
}

describe("subscriptions already open", () => {
  it("end when their member is removed (complete) or their session revoked (4403), and get nothing sent after", async () => {
    const [boss, watcher, poster, kicked, revokee] = await registerUsers(server.url, ["boss", "watcher", "poster", "kicked", "revokee"]);
    const room = (
      await api.ok(boss, `mutation($i: CreateRoomInput!) { createRoom(input: $i) { id } }`, {
        i: { name: "live", type: "GROUP", memberIds: [watcher.id, poster.id, kicked.id, revokee.id] },
      })
    ).createRoom.id;
    const live = roomScoped.filter((r) => r.kind === "subscription");
    expect(live.filter((r) => !(r.name in TRIGGERS)).map((r) => r.name)).toEqual([]);
    // boss and poster act with sockets open (presence); watcher, kicked and revokee subscribe to everything
    client(boss);
    client(poster);
    const open = (user: TestUser) => {
      const socket = client(user);
      return live.map((root) => {
        const { query, variables } = operation(root, (slot) => (slot.name === "roomId" ? room : undefined), deepSelection(root.field.type));
        return { name: root.name, sub: subscribe(socket, query, variables) };
      });
    };
    const [watching, kickedSubs, revokedSubs] = [open(watcher), open(kicked), open(revokee)];
    // live: each has had an event (alternating rounds, as typing and presence publish changes only)
    const everyone = [...watching, ...kickedSubs, ...revokedSubs];
    for (const { name } of live)
      await untilEach(
        everyone.filter((s) => s.name === name).map((s) => s.sub),
        (round) => TRIGGERS[name]!(boss, room, round, "warm-up"),
        () => true,
      );
    const revokedSession = (await api.ok(revokee, `{ mySessions { id current } }`)).mySessions.find(
      (s: { current: boolean }) => s.current,
    ).id;

    await api.ok(boss, `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`, { r: room, u: kicked.id });
    const login = `mutation($u: String!) { login(input: { username: $u, password: "correct horse battery" }) { accessToken } }`;
    const otherDevice = { ...revokee, accessToken: (await api.ok(revokee, login, { u: revokee.username })).login.accessToken };
    expect((await api.ok(otherDevice, `mutation($id: ID!) { revokeSession(id: $id) }`, { id: revokedSession })).revokeSession).toBe(true);

    // after: the poster, silent so far, fires every subscription until the watcher (still a member) has each event
    const marker = `after-${randomUUID()}`;
    const fromPoster = (name: string) => (event: GqlResponse) =>
      JSON.stringify(event).includes(marker) || event.data?.[name]?.user?.id === poster.id;
    for (const { name, sub } of watching) await untilEach([sub], (round) => TRIGGERS[name]!(poster, room, round, marker), fromPoster(name));
    await within(Promise.all([...kickedSubs, ...revokedSubs].map((s) => s.sub.ended)), 5000, "the subscriptions end");
    for (const { sub } of revokedSubs) expect(((await sub.error) as { code?: number }).code).toBe(4403);
    const received = [...kickedSubs, ...revokedSubs].map(({ name, sub }) => ({ name, events: sub.drain() }));
    const leaked = received.filter(({ name, events }) => events.some(fromPoster(name)));
    expect(leaked.map((l) => l.name)).toEqual([]);
    // the removed member's roomEvents ends with their MemberLeft (README: the last event a removed member gets)
    const kickedEvents = received.find((r) => r.name === "roomEvents")!.events;
    expect(kickedEvents.at(-1)?.data?.roomEvents).toMatchObject({ __typename: "MemberLeft", user: { id: kicked.id }, reason: "REMOVED" });
  }, 60_000);
});

describe("myEvents' RoomActivity", () => {
  it("reaches the room's members only: not a stranger, a removed member, another room's member, a revoked session", async () => {
    const [boss, watcher, kicked, outsider, revokee, greeter] = await registerUsers(server.url, [
      "boss",
      "watcher",
      "kicked",
      "outsider",
      "revokee",
      "greeter",
    ]);
    const create = `mutation($i: CreateRoomInput!) { createRoom(input: $i) { id } }`;
    const room = (await api.ok(boss, create, { i: { name: "activity", type: "GROUP", memberIds: [watcher.id, kicked.id, revokee.id] } }))
      .createRoom.id;
    await api.ok(outsider, create, { i: { name: "elsewhere", type: "GROUP", memberIds: [] } });
    const MY_EVENTS = `subscription { myEvents { __typename ... on RoomActivity { roomId lastMessage { content } room { name } } } }`;
    const subs = new Map([watcher, kicked, outsider, revokee, stranger].map((user) => [user, subscribe(client(user), MY_EVENTS)]));
    // live: each has had an event of its own (a contact request, taken back and sent again until it arrives)
    const request = (user: TestUser, round: number) =>
      round % 2 === 0
        ? api.ok(greeter, `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, { u: user.id })
        : api.ok(greeter, `mutation($u: ID!) { removeContact(userId: $u) }`, { u: user.id });
    for (const [user, sub] of subs)
      await untilEach(
        [sub],
        (round) => request(user, round),
        () => true,
      );
    for (const sub of subs.values()) sub.drain();

    await api.ok(boss, `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`, { r: room, u: kicked.id });
    const revokedSession = (await api.ok(revokee, `{ mySessions { id current } }`)).mySessions.find(
      (s: { current: boolean }) => s.current,
    ).id;
    const login = `mutation($u: String!) { login(input: { username: $u, password: "correct horse battery" }) { accessToken } }`;
    const otherDevice = { ...revokee, accessToken: (await api.ok(revokee, login, { u: revokee.username })).login.accessToken };
    await api.ok(otherDevice, `mutation($id: ID!) { revokeSession(id: $id) }`, { id: revokedSession });
    await within(subs.get(revokee)!.ended, 5000, "the revoked session's socket closes");

    const marker = `activity-${randomUUID()}`;
    await api.ok(boss, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { roomId: room, content: marker } });
    const seen = await subs.get(watcher)!.nextWhere((e) => JSON.stringify(e).includes(marker));
    expect(seen.data.myEvents).toEqual({
      __typename: "RoomActivity",
      roomId: room,
      lastMessage: { content: marker },
      room: { name: "activity" },
    });
    // the others: give the node as long again as it took the watcher, then nothing of the room may have come
    await expect(subs.get(outsider)!.nextWhere((e) => JSON.stringify(e).includes(room), 500)).rejects.toThrow();
    const leaked = [kicked, outsider, revokee, stranger].filter((user) =>
      subs
        .get(user)!
        .drain()
        .some((e) => JSON.stringify(e).includes(marker)),
    );
    expect(leaked.map((u) => u.username)).toEqual([]);
  }, 60_000);
});
