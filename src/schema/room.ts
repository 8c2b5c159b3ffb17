import type { ArgBuilder } from "@pothos/core";
import { hiddenRoomIds, MAX_MAX_MEMBERS, MUTED_FOREVER, unreadCount } from "../chat/rooms.js";
import type { Context } from "../context.js";
import { builder, forViewer } from "./builder.js";
import { load, ok } from "./load.js";
import { MessageRef } from "./message.js";
import { rules } from "./validation.js";

const RoomTypeEnum = builder.enumType("RoomType", {
  values: {
    DIRECT: { description: "Exactly two members, one room per pair" },
    GROUP: { description: "Invite-only" },
    PUBLIC: { description: "Anyone may find and join" },
    BROADCAST: { description: "Invite-only; only the OWNER and ADMINs post" },
  } as const,
});
export const RoomRoleEnum = builder.enumType("RoomRole", {
  description: "A GROUP, PUBLIC or BROADCAST room has one OWNER; DIRECT rooms have two MEMBERs.",
  values: ["OWNER", "ADMIN", "MEMBER"] as const,
});
const CreatableRoomType = builder.enumType("CreatableRoomType", { values: ["GROUP", "PUBLIC", "BROADCAST"] as const });

/** The viewer's own membership row, selected the same way by every field that needs it (so plugin-prisma merges them). */
export const viewerMembership = (ctx: Context) => ({
  members: { where: { userId: ctx.viewer?.userId ?? "00000000-0000-0000-0000-000000000000" }, take: 1 as const },
});

/** `archived` and the mute fields are private to the member: on other members' memberships they read as not set. */
const own = <T>(m: { userId: string }, ctx: { viewer: { userId: string } | null }, value: T, unset: T): T =>
  m.userId === ctx.viewer?.userId ? value : unset;

export const RoomMemberRef = builder.prismaObject("RoomMember", {
  description:
    "A user's membership of a room. archived and the mute fields are that member's own choices, private to them: on other members' memberships they read false / null.",
  fields: (t) => ({
    user: t.relation("user"),
    room: t.relation("room"),
    role: t.expose("role", { type: RoomRoleEnum }),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
    archived: t.boolean({
      select: { archivedAt: true, userId: true },
      resolve: (m, _args, ctx) => own(m, ctx, m.archivedAt !== null, false),
    }),
    isMuted: t.boolean({
      select: { mutedUntil: true, userId: true },
      resolve: (m, _args, ctx) => own(m, ctx, m.mutedUntil !== null && m.mutedUntil > new Date(), false),
    }),
    mutedUntil: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the mute ends; null when not muted or muted until unmuted.",
      select: { mutedUntil: true, userId: true },
      resolve: (m, _args, ctx) =>
        own(m, ctx, m.mutedUntil && m.mutedUntil > new Date() && m.mutedUntil < MUTED_FOREVER ? m.mutedUntil : null, null),
    }),
  }),
});

export const RoomRef = builder.prismaObject("Room", {
  description:
    "A conversation: DIRECT (two users), GROUP, PUBLIC or BROADCAST (RoomType). Each member has a role (RoomRole) and their own archive and mute settings (viewerMembership); its messages are numbered 1, 2, 3, … (Message.seq) and read with messages(roomId). Members see their rooms, and every logged-in user sees PUBLIC ones; lastMessage, pinnedMessages, unreadCount and eventCursor answer for members only (null, [] or 0 otherwise).",
  fields: (t) => ({
    id: t.exposeID("id"),
    type: t.expose("type", { type: RoomTypeEnum }),
    name: t.exposeString("name", { nullable: true, description: "Null for DIRECT rooms: show the other member's name." }),
    description: t.exposeString("description", { nullable: true }),
    avatar: t.exposeString("avatar", { nullable: true, description: "http(s) URL of the room's picture." }),
    maxMembers: t.exposeInt("maxMembers"),
    slowModeSeconds: t.exposeInt("slowModeSeconds", {
      description:
        "Slow mode: a MEMBER may send one message every this many seconds (OWNERs and ADMINs are exempt); 0 when off. Set with setSlowMode.",
    }),
    blockedWords: t.stringList({
      nullable: true,
      description:
        "Words no message of the room may contain (whole words, any case), lower-cased; set with setBlockedWords. Null unless the viewer is the room's OWNER or an ADMIN.",
      select: (_args, ctx) => ({ blockedWords: true, ...viewerMembership(ctx) }),
      resolve: (room) => (room.members[0] && room.members[0].role !== "MEMBER" ? room.blockedWords : null),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    lastActivityAt: t.expose("lastActivityAt", { type: "DateTime", description: "Time of the newest message, or of creation." }),
    memberCount: t.relationCount("members"),
    members: t.relation("members", {
      description: "Members: the OWNER, then ADMINs, then MEMBERs, each oldest first (at most `first`, default 50, max 100).",
      args: { first: t.arg.int({ defaultValue: 50, validate: rules.pageSize }) },
      query: (args) => ({ orderBy: [{ role: "asc" }, { joinedAt: "asc" }, { userId: "asc" }], take: args.first ?? 50 }),
    }),
    viewerMembership: t.field({
      type: RoomMemberRef,
      nullable: true,
      description: "The viewer's membership; null when not a member.",
      select: (_args, ctx, nested) => ({ members: { ...viewerMembership(ctx).members, ...nested() } }),
      resolve: (room) => room.members[0] ?? null,
    }),
    unreadCount: t.int({
      description: "Messages after the viewer's read marker (0 for non-members). markRead and sending a message move the marker.",
      select: (_args, ctx) => ({ lastSeq: true, ...viewerMembership(ctx) }),
      resolve: (room) => (room.members[0] ? unreadCount(room.lastSeq, room.members[0].lastReadSeq) : 0),
    }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      description: "The newest message; null when there is none or the viewer is not a member.",
      select: (_args, ctx, nested) => ({
        ...viewerMembership(ctx),
        messages: nested({ orderBy: { seq: "desc" as const }, take: 1 }),
      }),
      resolve: (room) => (room.members[0] ? (room.messages[0] ?? null) : null),
    }),
    eventCursor: t.string({
      nullable: true,
      description:
        "The cursor of the room's newest event (members only): read it with the history, then subscribe to roomEvents(after: eventCursor) to follow on without a gap (events may repeat what the history showed; match by id).",
      select: (_args, ctx) => ({ lastEventSeq: true, ...viewerMembership(ctx) }),
      resolve: (room) => (room.members[0] ? String(room.lastEventSeq) : null),
    }),
    pinnedMessages: t.field({
      type: [MessageRef],
      description: "Pinned messages, most recently pinned first; empty for non-members.",
      select: (_args, ctx, nested) => ({
        ...viewerMembership(ctx),
        messages: nested({ where: { pinnedAt: { not: null } }, orderBy: [{ pinnedAt: "desc" as const }, { id: "desc" as const }] }),
      }),
      resolve: (room) => (room.members[0] ? room.messages : []),
    }),
  }),
});

export const RoomInviteRef = builder.prismaObject("RoomInvite", {
  description: "A pending invitation to a room; acceptInvite or declineInvite answers it.",
  fields: (t) => ({
    id: t.exposeID("id"),
    room: t.relation("room"),
    inviter: t.relation("inviter"),
    invitee: t.relation("invitee"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

/** The pending invitations to `userId`, newest first, with the selection `query` (myInvites, sync's invites). */
export const pendingInvites = (ctx: Context, query: object, userId: string) =>
  ctx.app.db.roomInvite.findMany({ ...query, where: { inviteeId: userId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });

/** The one Room connection type (myRooms, publicRooms). */
const RoomConnection = forViewer(builder.connectionObject({ type: RoomRef, name: "RoomConnection" }, { name: "RoomEdge" }));

/** Rooms newest activity first, the order of every room list. */
const byActivity = [{ lastActivityAt: "desc" as const }, { id: "desc" as const }];

builder.queryFields((t) => ({
  room: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    nullable: true,
    description: "A room the viewer is a member of, or any PUBLIC room; null otherwise.",
    args: { id: t.arg.id({ required: true, validate: rules.id }) },
    resolve: (query, _root, args, ctx) =>
      ctx.app.db.room.findFirst({
        ...query,
        where: { id: args.id, OR: [{ type: "PUBLIC" }, { members: { some: { userId: ctx.viewer.userId } } }] },
      }),
  }),
  myRooms: t.withAuth({ viewer: true }).prismaConnection(
    {
      type: "Room",
      cursor: "id",
      description:
        "The viewer's rooms, most recent activity first: unarchived ones by default, archived ones with `archived: true`, all with `archived: null`. A DIRECT room the viewer deleted (deleteRoom hides it for them) is left out until a newer message arrives.",
      args: { archived: t.arg.boolean({ defaultValue: false }) },
      resolve: async (query, _root, args, ctx) => {
        const archivedAt = args.archived == null ? undefined : args.archived ? { not: null } : null;
        const hidden = await hiddenRoomIds(ctx.app.db, ctx.viewer.userId);
        return ctx.app.db.room.findMany({
          ...query,
          where: { members: { some: { userId: ctx.viewer.userId, archivedAt } }, ...(hidden.length > 0 ? { id: { notIn: hidden } } : {}) },
          orderBy: byActivity,
        });
      },
    },
    RoomConnection,
  ),
  publicRooms: t.withAuth({ viewer: true }).prismaConnection(
    {
      type: "Room",
      cursor: "id",
      description: "PUBLIC rooms whose name contains `search` (any case), most recent activity first.",
      args: { search: t.arg.string({ validate: rules.search }) },
      resolve: (query, _root, args, ctx) =>
        ctx.app.db.room.findMany({
          ...query,
          where: { type: "PUBLIC", ...(args.search ? { name: { contains: args.search, mode: "insensitive" as const } } : {}) },
          orderBy: byActivity,
        }),
    },
    RoomConnection,
  ),
  myInvites: t.withAuth({ viewer: true }).prismaField({
    type: ["RoomInvite"],
    description: "Pending invitations to the viewer, newest first.",
    resolve: (query, _root, _args, ctx) => pendingInvites(ctx, query, ctx.viewer.userId),
  }),
}));

const CreateRoomInput = builder.inputType("CreateRoomInput", {
  fields: (t) => ({
    name: t.string({ required: true, validate: rules.roomName }),
    description: t.string({ validate: rules.roomDescription }),
    avatar: t.string({ validate: rules.url }),
    type: t.field({ type: CreatableRoomType, required: true }),
    memberIds: t.idList({ description: "Users to add as MEMBERs.", validate: rules.idList }),
    maxMembers: t.int({ description: `Default 100, at most ${MAX_MAX_MEMBERS}.`, validate: rules.maxMembers }),
  }),
});

const UpdateRoomInput = builder.inputType("UpdateRoomInput", {
  description: "Omitted fields stay as they are; null clears description or avatar.",
  fields: (t) => ({
    name: t.string({ validate: rules.roomName }),
    description: t.string({ validate: rules.roomDescription }),
    avatar: t.string({ validate: rules.url }),
    maxMembers: t.int({ description: "Not below the current member count.", validate: rules.maxMembers }),
  }),
});

/** A required ID argument: a malformed one is BAD_USER_INPUT naming it (rules.id). */
const idArg = (arg: ArgBuilder<typeof builder.$inferSchemaTypes>) => arg.id({ required: true, validate: rules.id });

// Rooms: creating, finding, joining, leaving, changing and deleting a room.
builder.mutationFields((t) => ({
  createRoom: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Creates a GROUP, PUBLIC or BROADCAST room owned by the viewer.",
    args: { input: t.arg({ type: CreateRoomInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => load.room(ctx, query, (await ctx.app.rooms.create(ctx.viewer.userId, input)).id),
  }),
  directRoom: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description:
      "The one DIRECT room between the viewer and `userId`, created on first call. FORBIDDEN after a block either way, or for a new room when they accept direct messages from contacts only.",
    args: { userId: idArg(t.arg) },
    resolve: async (query, _root, args, ctx) => load.room(ctx, query, (await ctx.app.rooms.direct(ctx.viewer.userId, args.userId)).id),
  }),
  joinRoom: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Joins a PUBLIC room (no-op when already a member).",
    args: { roomId: idArg(t.arg) },
    resolve: async (query, _root, args, ctx) => load.room(ctx, query, (await ctx.app.rooms.join(ctx.viewer.userId, args.roomId)).id),
  }),
  leaveRoom: t.withAuth({ viewer: true }).boolean({
    description: "Leaves a room. The OWNER must transfer ownership first; the last member leaving deletes the room.",
    args: { roomId: idArg(t.arg) },
    resolve: (_root, args, ctx) => ok(ctx.app.rooms.leave(ctx.viewer.userId, args.roomId)),
  }),
  updateRoom: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Changes a room's name, description, avatar or maxMembers. OWNER or ADMIN.",
    args: { roomId: idArg(t.arg), input: t.arg({ type: UpdateRoomInput, required: true }) },
    resolve: async (query, _root, args, ctx) =>
      load.room(ctx, query, (await ctx.app.rooms.update(ctx.viewer.userId, args.roomId, args.input)).id),
  }),
  deleteRoom: t.withAuth({ viewer: true }).boolean({
    description:
      "Deletes a room and its messages; OWNER only. A DIRECT room (no owner) is not deleted: either member may call it to hide the room from their own myRooms until a newer message arrives; its history stays, and the other member sees nothing change.",
    args: { roomId: idArg(t.arg) },
    resolve: (_root, args, ctx) => ok(ctx.app.rooms.delete(ctx.viewer.userId, args.roomId)),
  }),
}));

// The room's rules for messages: slow mode and blocked words (OWNER or ADMIN).
builder.mutationFields((t) => ({
  setSlowMode: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description:
      "Sets slow mode: a MEMBER may send one message every `seconds` seconds (0 turns it off; at most 6 hours); OWNERs and ADMINs are exempt and edits do not count. A send too soon is RATE_LIMITED with extensions.retryAfter in seconds. OWNER or ADMIN.",
    args: { roomId: idArg(t.arg), seconds: t.arg.int({ required: true, validate: rules.slowModeSeconds }) },
    resolve: async (query, _root, args, ctx) =>
      load.room(ctx, query, (await ctx.app.roomRules.setSlowMode(ctx.viewer.userId, args.roomId, args.seconds)).id),
  }),
  setBlockedWords: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description:
      "Replaces the room's blocked words (at most 200, each one word of letters, digits or _ of at most 50 characters; [] clears them). A message sent or edited with one of them as a whole word, in any case, is refused with BAD_USER_INPUT on its content. OWNER or ADMIN.",
    args: { roomId: idArg(t.arg), words: t.arg.stringList({ required: true, validate: rules.blockedWords }) },
    resolve: async (query, _root, args, ctx) =>
      load.room(ctx, query, (await ctx.app.roomRules.setBlockedWords(ctx.viewer.userId, args.roomId, args.words)).id),
  }),
}));

// Members: adding, removing, roles and ownership.
builder.mutationFields((t) => ({
  addRoomMember: t.withAuth({ viewer: true }).prismaField({
    type: "RoomMember",
    description: "Adds a user to a GROUP, PUBLIC or BROADCAST room. The OWNER adds ADMINs or MEMBERs, ADMINs add MEMBERs.",
    args: { roomId: idArg(t.arg), userId: idArg(t.arg), role: t.arg({ type: RoomRoleEnum, defaultValue: "MEMBER" }) },
    resolve: async (query, _root, args, ctx) => {
      await ctx.app.rooms.addMember(ctx.viewer.userId, args.roomId, args.userId, args.role ?? "MEMBER");
      return load.member(ctx, query, args.roomId, args.userId);
    },
  }),
  removeRoomMember: t.withAuth({ viewer: true }).boolean({
    description: "Removes a member. The OWNER removes ADMINs and MEMBERs, ADMINs remove MEMBERs.",
    args: { roomId: idArg(t.arg), userId: idArg(t.arg) },
    resolve: (_root, args, ctx) => ok(ctx.app.rooms.removeMember(ctx.viewer.userId, args.roomId, args.userId)),
  }),
  updateMemberRole: t.withAuth({ viewer: true }).prismaField({
    type: "RoomMember",
    description: "Makes a member ADMIN or MEMBER. OWNER only; ownership moves with transferOwnership.",
    args: { roomId: idArg(t.arg), userId: idArg(t.arg), role: t.arg({ type: RoomRoleEnum, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      await ctx.app.rooms.updateMemberRole(ctx.viewer.userId, args.roomId, args.userId, args.role);
      return load.member(ctx, query, args.roomId, args.userId);
    },
  }),
  transferOwnership: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Makes another member the OWNER; the previous owner becomes ADMIN.",
    args: { roomId: idArg(t.arg), userId: idArg(t.arg) },
    resolve: async (query, _root, args, ctx) =>
      load.room(ctx, query, (await ctx.app.rooms.transferOwnership(ctx.viewer.userId, args.roomId, args.userId)).id),
  }),
}));

// Invites: inviting a user, accepting or declining.
builder.mutationFields((t) => ({
  inviteToRoom: t.withAuth({ viewer: true }).prismaField({
    type: "RoomInvite",
    description:
      "Invites a user (they get InviteReceived). PUBLIC rooms: any member; GROUP and BROADCAST: the OWNER and ADMINs. Inviting again returns the pending invite.",
    args: { roomId: idArg(t.arg), userId: idArg(t.arg) },
    resolve: async (query, _root, args, ctx) => {
      const invite = await ctx.app.invites.invite(ctx.viewer.userId, args.roomId, args.userId);
      return ctx.app.db.roomInvite.findUniqueOrThrow({ ...query, where: { id: invite.id } });
    },
  }),
  acceptInvite: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Accepts an invitation: joins the room. FORBIDDEN while it is full (the invite stays).",
    args: { id: idArg(t.arg) },
    resolve: async (query, _root, args, ctx) => load.room(ctx, query, (await ctx.app.invites.accept(ctx.viewer.userId, args.id)).id),
  }),
  declineInvite: t.withAuth({ viewer: true }).boolean({
    description: "Declines an invitation.",
    args: { id: idArg(t.arg) },
    resolve: (_root, args, ctx) => ok(ctx.app.invites.decline(ctx.viewer.userId, args.id)),
  }),
}));

// The viewer's own settings for a room, private to them: archive and mute.
builder.mutationFields((t) => ({
  archiveRoom: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Archives the room for the viewer only: it leaves myRooms' default list.",
    args: { roomId: idArg(t.arg) },
    resolve: async (query, _root, args, ctx) => {
      await ctx.app.rooms.archive(ctx.viewer.userId, args.roomId, true);
      return load.room(ctx, query, args.roomId);
    },
  }),
  unarchiveRoom: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Brings an archived room back to the viewer's list.",
    args: { roomId: idArg(t.arg) },
    resolve: async (query, _root, args, ctx) => {
      await ctx.app.rooms.archive(ctx.viewer.userId, args.roomId, false);
      return load.room(ctx, query, args.roomId);
    },
  }),
  muteRoom: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Mutes the room's notifications for the viewer until `until`, or until unmuted when omitted.",
    args: { roomId: idArg(t.arg), until: t.arg({ type: "DateTime" }) },
    resolve: async (query, _root, args, ctx) => {
      await ctx.app.rooms.mute(ctx.viewer.userId, args.roomId, args.until ?? null);
      return load.room(ctx, query, args.roomId);
    },
  }),
  unmuteRoom: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description: "Unmutes the room for the viewer.",
    args: { roomId: idArg(t.arg) },
    resolve: async (query, _root, args, ctx) => {
      await ctx.app.rooms.unmute(ctx.viewer.userId, args.roomId);
      return load.room(ctx, query, args.roomId);
    },
  }),
}));
