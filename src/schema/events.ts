import { requireMember } from "../chat/access.js";
import { untilRemoved } from "../realtime/removal.js";
import { type RoomEventPayload, topics, type UserEventPayload } from "../realtime/topics.js";
import { builder } from "./builder.js";
import { load } from "./load.js";
import { type ContactRequestShape, ContactRequestRef } from "./contact.js";
import { RoomRoleEnum } from "./room.js";
import { rules } from "./validation.js";

type Kind<U, K> = Extract<U, { kind: K }>;


/** Defines one event object type of a union: `at` plus `fields`. */
function eventType<T extends { at: string }>(name: string, description: string, fields: Parameters<ReturnType<typeof builder.objectRef<T>>["implement"]>[0]["fields"]) {
  return builder.objectRef<T>(name).implement({
    description,
    fields: (t) => ({ ...fields!(t), at: t.field({ type: "DateTime", description: "When it happened.", resolve: (e) => e.at }) }),
  });
}

const MemberLeftReason = builder.enumType("MemberLeftReason", { values: ["LEFT", "REMOVED"] as const });
const RemovedFromRoomReason = builder.enumType("RemovedFromRoomReason", { values: ["REMOVED", "ROOM_DELETED"] as const });

const MemberJoined = eventType<Kind<RoomEventPayload, "MemberJoined">>("MemberJoined", "A user joined the room, accepted an invite (invitedBy), or was added (addedBy).", (t) => ({
  roomId: t.exposeID("roomId"),
  user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
  role: t.field({ type: RoomRoleEnum, resolve: (e) => e.role }),
  addedBy: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.byId ? load.user(ctx, q, e.byId) : null) }),
  invitedBy: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.invitedById ? load.user(ctx, q, e.invitedById) : null) }),
}));
const MemberLeft = eventType<Kind<RoomEventPayload, "MemberLeft">>("MemberLeft", "A member left or was removed (removedBy). The last event a removed member gets.", (t) => ({
  roomId: t.exposeID("roomId"),
  user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
  reason: t.field({ type: MemberLeftReason, resolve: (e) => e.reason }),
  removedBy: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.byId ? load.user(ctx, q, e.byId) : null) }),
}));
const MemberRoleChanged = eventType<Kind<RoomEventPayload, "MemberRoleChanged">>("MemberRoleChanged", "A member's role changed (updateMemberRole; transferOwnership sends two).", (t) => ({
  roomId: t.exposeID("roomId"),
  user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
  role: t.field({ type: RoomRoleEnum, resolve: (e) => e.role }),
  previousRole: t.field({ type: RoomRoleEnum, resolve: (e) => e.previousRole }),
  changedBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
}));
const RoomUpdated = eventType<Kind<RoomEventPayload, "RoomUpdated">>("RoomUpdated", "The room's name, description, avatar or maxMembers changed.", (t) => ({
  room: t.prismaField({ type: "Room", resolve: (q, e, _a, ctx) => load.room(ctx, q, e.roomId) }),
  updatedBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
}));
const RoomDeleted = eventType<Kind<RoomEventPayload, "RoomDeleted">>("RoomDeleted", "The room was deleted; the subscription ends after this event.", (t) => ({
  roomId: t.exposeID("roomId"),
  deletedBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
}));

const RoomEvent = builder.unionType("RoomEvent", {
  description: "A change to a room's members or settings.",
  types: [MemberJoined, MemberLeft, MemberRoleChanged, RoomUpdated, RoomDeleted],
  resolveType: (event) => event.kind,
});

const InviteReceived = eventType<Kind<UserEventPayload, "InviteReceived">>("InviteReceived", "Someone invited you to a room.", (t) => ({
  invite: t.prismaField({ type: "RoomInvite", resolve: (q, e, _a, ctx) => ctx.app.db.roomInvite.findUniqueOrThrow({ ...q, where: { id: e.inviteId } }) }),
}));
const AddedToRoom = eventType<Kind<UserEventPayload, "AddedToRoom">>("AddedToRoom", "You were added to a room (addedBy null: auto-joined a new PUBLIC room).", (t) => ({
  room: t.prismaField({ type: "Room", resolve: (q, e, _a, ctx) => load.room(ctx, q, e.roomId) }),
  addedBy: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.byId ? load.user(ctx, q, e.byId) : null) }),
}));
const RemovedFromRoom = eventType<Kind<UserEventPayload, "RemovedFromRoom">>("RemovedFromRoom", "You were removed from a room, or it was deleted.", (t) => ({
  roomId: t.exposeID("roomId"),
  roomName: t.exposeString("roomName", { nullable: true }),
  reason: t.field({ type: RemovedFromRoomReason, resolve: (e) => e.reason }),
  by: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.byId ? load.user(ctx, q, e.byId) : null) }),
}));
const DirectRoomCreated = eventType<Kind<UserEventPayload, "DirectRoomCreated">>("DirectRoomCreated", "Someone opened a direct room with you.", (t) => ({
  room: t.prismaField({ type: "Room", resolve: (q, e, _a, ctx) => load.room(ctx, q, e.roomId) }),
  createdBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
}));

type UserEventValue = Exclude<UserEventPayload, { kind: "ContactRequest" }> | ContactRequestShape;

const UserEvent = builder.unionType("UserEvent", {
  description: "Something that happened to you, across rooms.",
  types: [InviteReceived, AddedToRoom, RemovedFromRoom, ContactRequestRef, DirectRoomCreated],
  resolveType: (event: UserEventValue) => ("kind" in event && event.kind ? event.kind : "ContactRequest"),
});

builder.subscriptionFields((t) => ({
  roomEvents: t.field({
    type: RoomEvent,
    description:
      "Membership and settings changes of a room, the viewer's own included. Members only. When the viewer leaves or is removed (or the room is deleted), they get that event and the subscription ends.",
    authScopes: { viewer: true },
    args: { roomId: t.arg.id({ required: true, validate: rules.id }) },
    subscribe: async (_root, args, ctx) => {
      await requireMember(ctx.app.db, args.roomId, ctx.viewer!.userId);
      return untilRemoved(ctx.app.pubsub.asyncIterableIterator<RoomEventPayload>(topics.roomEvents(args.roomId)), ctx.viewer!.userId);
    },
    resolve: (event: RoomEventPayload) => event,
  }),
  myEvents: t.field({
    type: UserEvent,
    description: "The viewer's own events across rooms: invites, being added or removed, contact requests, new direct rooms.",
    authScopes: { viewer: true },
    subscribe: (_root, _args, ctx) => ctx.app.pubsub.asyncIterableIterator<UserEventPayload>(topics.userEvents(ctx.viewer!.userId)),
    resolve: (event: UserEventPayload): UserEventValue => (event.kind === "ContactRequest" ? { ...event.contact, kind: "ContactRequest" } : event),
  }),
}));
