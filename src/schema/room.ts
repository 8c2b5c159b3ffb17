import type { Context } from "../context.js";
import { MAX_MAX_MEMBERS } from "../chat/rooms.js";
import { builder } from "./builder.js";
import { MessageRef } from "./message.js";
import { rules } from "./validation.js";

const RoomTypeEnum = builder.enumType("RoomType", {
  values: { DIRECT: { description: "Exactly two members, one room per pair" }, GROUP: { description: "Invite-only" }, PUBLIC: { description: "Anyone may find and join" } },
});
export const RoomRoleEnum = builder.enumType("RoomRole", { values: ["OWNER", "ADMIN", "MEMBER"] as const });
const CreatableRoomType = builder.enumType("CreatableRoomType", { values: ["GROUP", "PUBLIC"] as const });

/** The viewer's own membership row, selected the same way by every field that needs it (so plugin-prisma merges them). */
const viewerMembership = (ctx: Context) => ({
  members: { where: { userId: ctx.viewer?.userId ?? "00000000-0000-0000-0000-000000000000" }, take: 1 as const },
});

const RoomMemberRef = builder.prismaObject("RoomMember", {
  description: "A user's membership of a room.",
  fields: (t) => ({
    user: t.relation("user"),
    room: t.relation("room"),
    role: t.expose("role", { type: RoomRoleEnum }),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("Room", {
  fields: (t) => ({
    id: t.exposeID("id"),
    type: t.expose("type", { type: RoomTypeEnum }),
    name: t.exposeString("name", { nullable: true, description: "Null for DIRECT rooms: show the other member's name." }),
    description: t.exposeString("description", { nullable: true }),
    maxMembers: t.exposeInt("maxMembers"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastActivityAt: t.expose("lastActivityAt", { type: "DateTime", description: "Time of the newest message, or of creation." }),
    memberCount: t.relationCount("members"),
    members: t.relation("members", {
      description: "Members: OWNERs, then ADMINs, then MEMBERs, each oldest first (at most `first`, default 50, max 100).",
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
      description: "Messages after the viewer's read marker (0 for non-members). Sending a message moves the marker.",
      select: (_args, ctx) => ({ lastSeq: true, ...viewerMembership(ctx) }),
      resolve: (room) => (room.members[0] ? room.lastSeq - room.members[0].lastReadSeq : 0),
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
  }),
});

builder.queryFields((t) => ({
  room: t.prismaField({
    type: "Room",
    nullable: true,
    description: "A room the viewer is a member of, or any PUBLIC room; null otherwise.",
    authScopes: { viewer: true },
    args: { id: t.arg.id({ required: true, validate: rules.id }) },
    resolve: (query, _root, args, ctx) =>
      ctx.app.db.room.findFirst({
        ...query,
        where: { id: args.id, OR: [{ type: "PUBLIC" }, { members: { some: { userId: ctx.viewer!.userId } } }] },
      }),
  }),
  myRooms: t.prismaConnection({
    type: "Room",
    cursor: "id",
    description: "The viewer's rooms, most recent activity first.",
    authScopes: { viewer: true },
    resolve: (query, _root, _args, ctx) =>
      ctx.app.db.room.findMany({
        ...query,
        where: { members: { some: { userId: ctx.viewer!.userId } } },
        orderBy: [{ lastActivityAt: "desc" }, { id: "desc" }],
      }),
  }),
}));

const CreateRoomInput = builder.inputType("CreateRoomInput", {
  fields: (t) => ({
    name: t.string({ required: true, validate: rules.roomName }),
    description: t.string({ validate: rules.roomDescription }),
    type: t.field({ type: CreatableRoomType, required: true }),
    memberIds: t.idList({ description: "Users to add as MEMBERs.", validate: rules.idList }),
    maxMembers: t.int({ description: `Default 100, at most ${MAX_MAX_MEMBERS}.`, validate: rules.maxMembers }),
  }),
});

/** Re-reads a room with the selection the operation asked for. */
const loadRoom = (ctx: Context, query: object, id: string) => ctx.app.db.room.findUniqueOrThrow({ ...query, where: { id } });

builder.mutationFields((t) => ({
  createRoom: t.prismaField({
    type: "Room",
    description: "Creates a GROUP or PUBLIC room owned by the viewer.",
    authScopes: { viewer: true },
    args: { input: t.arg({ type: CreateRoomInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const room = await ctx.app.rooms.create(ctx.viewer!.userId, input);
      return loadRoom(ctx, query, room.id);
    },
  }),
  directRoom: t.prismaField({
    type: "Room",
    description: "The one DIRECT room between the viewer and `userId`, created on first call.",
    authScopes: { viewer: true },
    args: { userId: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (query, _root, args, ctx) => loadRoom(ctx, query, (await ctx.app.rooms.direct(ctx.viewer!.userId, args.userId)).id),
  }),
  joinRoom: t.prismaField({
    type: "Room",
    description: "Joins a PUBLIC room (no-op when already a member).",
    authScopes: { viewer: true },
    args: { roomId: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (query, _root, args, ctx) => loadRoom(ctx, query, (await ctx.app.rooms.join(ctx.viewer!.userId, args.roomId)).id),
  }),
  leaveRoom: t.boolean({
    description: "Leaves a room. The last OWNER must make someone else OWNER first.",
    authScopes: { viewer: true },
    args: { roomId: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (_root, args, ctx) => {
      await ctx.app.rooms.leave(ctx.viewer!.userId, args.roomId);
      return true;
    },
  }),
  addRoomMember: t.prismaField({
    type: "RoomMember",
    description: "Adds a user to a GROUP or PUBLIC room. OWNERs add any role, ADMINs add MEMBERs.",
    authScopes: { viewer: true },
    args: {
      roomId: t.arg.id({ required: true, validate: rules.id }),
      userId: t.arg.id({ required: true, validate: rules.id }),
      role: t.arg({ type: RoomRoleEnum }),
    },
    resolve: async (query, _root, args, ctx) => {
      const member = await ctx.app.rooms.addMember(ctx.viewer!.userId, args.roomId, args.userId, args.role ?? "MEMBER");
      return ctx.app.db.roomMember.findUniqueOrThrow({ ...query, where: { roomId_userId: { roomId: member.roomId, userId: member.userId } } });
    },
  }),
}));
