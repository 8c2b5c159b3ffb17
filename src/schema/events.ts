import type { Message, Notification } from "../generated/prisma/client.js";
import type { MyEventsItem, RoomActivityPayload } from "../realtime/room-activity.js";
import { parseCursor, sequencedStream } from "../realtime/stream.js";
import { messageFromJson, type RoomEventPayload, type UserEventPayload } from "../realtime/topics.js";
import { parseSyncCursor } from "../sync/cursor.js";
import { builder } from "./builder.js";
import { ContactRequestRef, type ContactRequestShape } from "./contact.js";
import { load } from "./load.js";
import { MessageRef } from "./message.js";
import { MentionNotificationRef } from "./notification.js";
import { RoomRoleEnum } from "./room.js";
import { rules } from "./validation.js";

type Kind<U, K> = Extract<U, { kind: K }>;

type Fields<T> = Parameters<ReturnType<typeof builder.objectRef<T>>["implement"]>[0]["fields"];

/** Defines one event object type of a union: `at` plus `fields`. */
function eventType<T extends { at: string }>(name: string, description: string, fields: Fields<T>) {
  return builder.objectRef<T>(name).implement({
    description,
    fields: (t) => ({ ...fields!(t), at: t.field({ type: "DateTime", description: "When it happened.", resolve: (e) => e.at }) }),
  });
}

const SequencedEvent = builder.interfaceRef<RoomEventPayload>("SequencedEvent").implement({
  description: "A stored room event: every RoomEvent type implements it.",
  fields: (t) => ({
    seq: t.exposeInt("seq", { description: "The room's event sequence number: 1, 2, 3, … one per stored event, so a jump is a gap." }),
    cursor: t.string({ description: "Pass as `after` to roomEvents to resume after this event.", resolve: (e) => String(e.seq) }),
    at: t.field({ type: "DateTime", description: "When it happened.", resolve: (e) => e.at }),
  }),
});

/** Defines one RoomEvent type: a SequencedEvent (seq, cursor, at) with `fields`. */
function roomEventType<K extends RoomEventPayload["kind"]>(kind: K, description: string, fields: Fields<Kind<RoomEventPayload, K>>) {
  return builder
    .objectRef<Kind<RoomEventPayload, K>>(kind)
    .implement({ description, interfaces: [SequencedEvent], fields: (t) => fields!(t) });
}

const MemberLeftReason = builder.enumType("MemberLeftReason", {
  values: {
    LEFT: { description: "leaveRoom" },
    REMOVED: { description: "removeRoomMember" },
    KICKED: { description: "kickMember: they may come back where the room allows" },
    BANNED: { description: "banMember: kept out until unbanMember" },
  } as const,
});
export const RemovedFromRoomReason = builder.enumType("RemovedFromRoomReason", {
  values: {
    REMOVED: { description: "removeRoomMember" },
    KICKED: { description: "kickMember" },
    BANNED: { description: "banMember" },
    ROOM_DELETED: { description: "deleteRoom by its OWNER (the OWNER's own devices get it too)" },
    LEFT: { description: "Your own leaveRoom, on your other devices" },
    HIDDEN: {
      description:
        "Your own deleteRoom on a DIRECT room, on your other devices: hidden from myRooms until a newer message; you stay a member",
    },
  } as const,
});
/** The `note` field of MemberLeft and RemovedFromRoom. */
const noteOptions = { nullable: true, description: "The moderator's reason, for KICKED and BANNED; null otherwise." } as const;

const MemberJoined = roomEventType(
  "MemberJoined",
  "A user joined the room, accepted an invite (invitedBy), or was added (addedBy).",
  (t) => ({
    roomId: t.exposeID("roomId"),
    user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
    role: t.field({ type: RoomRoleEnum, resolve: (e) => e.role }),
    addedBy: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.byId ? load.user(ctx, q, e.byId) : null) }),
    invitedBy: t.prismaField({
      type: "User",
      nullable: true,
      resolve: (q, e, _a, ctx) => (e.invitedById ? load.user(ctx, q, e.invitedById) : null),
    }),
  }),
);
const MemberLeft = roomEventType(
  "MemberLeft",
  "A member left, or was removed, kicked or banned (removedBy). The last event a removed member gets.",
  (t) => ({
    roomId: t.exposeID("roomId"),
    user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
    reason: t.field({ type: MemberLeftReason, resolve: (e) => e.reason }),
    note: t.string({ ...noteOptions, resolve: (e) => e.note ?? null }),
    removedBy: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.byId ? load.user(ctx, q, e.byId) : null) }),
  }),
);
const MemberRoleChanged = roomEventType(
  "MemberRoleChanged",
  "A member's role changed (updateMemberRole; transferOwnership sends two).",
  (t) => ({
    roomId: t.exposeID("roomId"),
    user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
    role: t.field({ type: RoomRoleEnum, resolve: (e) => e.role }),
    previousRole: t.field({ type: RoomRoleEnum, resolve: (e) => e.previousRole }),
    changedBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
  }),
);
const RoomUpdated = roomEventType(
  "RoomUpdated",
  "The room's name, description, avatar, maxMembers, slow mode or blocked words changed.",
  (t) => ({
    room: t.prismaField({ type: "Room", resolve: (q, e, _a, ctx) => load.room(ctx, q, e.roomId) }),
    updatedBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
  }),
);
const RoomDeleted = roomEventType("RoomDeleted", "The room was deleted; the subscription ends after this event.", (t) => ({
  roomId: t.exposeID("roomId"),
  deletedBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
}));

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** The `message` field of a message event: the message as it is now. */
const messageField = <T extends { messageId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<Types, T>) =>
  t.prismaField({ type: "Message", resolve: (q, e, _a, ctx) => load.message(ctx, q, e.messageId) });

const MessageAdded = roomEventType("MessageAdded", "A message was sent (also on messageAdded).", (t) => ({ message: messageField(t) }));
const MessageEdited = roomEventType("MessageEdited", "A message's content changed (its current content).", (t) => ({
  message: messageField(t),
}));
const MessageDeleted = roomEventType(
  "MessageDeleted",
  "A message was deleted (its tombstone), by its sender or a room OWNER or ADMIN.",
  (t) => ({
    message: messageField(t),
    deletedBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
  }),
);
const ReactionAdded = roomEventType("ReactionAdded", "A member reacted to a message.", (t) => ({
  message: messageField(t),
  user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
  emoji: t.exposeString("emoji"),
}));
const ReactionRemoved = roomEventType("ReactionRemoved", "A member took a reaction back.", (t) => ({
  message: messageField(t),
  user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
  emoji: t.exposeString("emoji"),
}));
const ReadReceipt = roomEventType(
  "ReadReceipt",
  "A member's read marker moved to `message` (not sent for members who hide read receipts).",
  (t) => ({
    user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
    message: messageField(t),
  }),
);
const DeliveryReceipt = roomEventType(
  "DeliveryReceipt",
  "A member's delivery mark moved to `upToSeq`: a device of theirs acknowledged every message up to it (markDelivered). Not sent for members who hide read receipts, nor in rooms above DELIVERY_RECEIPTS_MAX_MEMBERS members.",
  (t) => ({
    user: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.userId) }),
    upToSeq: t.exposeInt("upToSeq", { description: "The seq of the newest message acknowledged." }),
  }),
);
const MessageExpired = roomEventType("MessageExpired", "A self-destructing message's time came: it is now a tombstone.", (t) => ({
  message: messageField(t),
}));
const MessagePinned = roomEventType("MessagePinned", "A message was pinned (`pinned: true`) or unpinned.", (t) => ({
  message: messageField(t),
  pinned: t.exposeBoolean("pinned"),
  by: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
}));

const RoomEvent = builder.unionType("RoomEvent", {
  description: "Something stored in a room's event log: membership and settings changes, and message events.",
  types: [
    MemberJoined,
    MemberLeft,
    MemberRoleChanged,
    RoomUpdated,
    RoomDeleted,
    MessageAdded,
    MessageEdited,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    ReadReceipt,
    DeliveryReceipt,
    MessagePinned,
    MessageExpired,
  ],
  resolveType: (event) => event.kind,
});

const InviteReceived = eventType<Kind<UserEventPayload, "InviteReceived">>("InviteReceived", "Someone invited you to a room.", (t) => ({
  invite: t.prismaField({
    type: "RoomInvite",
    resolve: (q, e, _a, ctx) => ctx.app.db.roomInvite.findUniqueOrThrow({ ...q, where: { id: e.inviteId } }),
  }),
}));
const AddedToRoom = eventType<Kind<UserEventPayload, "AddedToRoom">>(
  "AddedToRoom",
  "You were added to a room (addedBy null: auto-joined a new PUBLIC room).",
  (t) => ({
    room: t.prismaField({ type: "Room", resolve: (q, e, _a, ctx) => load.room(ctx, q, e.roomId) }),
    addedBy: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.byId ? load.user(ctx, q, e.byId) : null) }),
  }),
);
const RemovedFromRoom = eventType<Kind<UserEventPayload, "RemovedFromRoom">>(
  "RemovedFromRoom",
  "You are out of a room: removed, kicked or banned, it was deleted, you left it (LEFT), or you hid a direct room (HIDDEN: still a member).",
  (t) => ({
    roomId: t.exposeID("roomId"),
    roomName: t.exposeString("roomName", { nullable: true }),
    reason: t.field({ type: RemovedFromRoomReason, resolve: (e) => e.reason }),
    note: t.string({ ...noteOptions, resolve: (e) => e.note ?? null }),
    by: t.prismaField({ type: "User", nullable: true, resolve: (q, e, _a, ctx) => (e.byId ? load.user(ctx, q, e.byId) : null) }),
  }),
);
const DirectRoomCreated = eventType<Kind<UserEventPayload, "DirectRoomCreated">>(
  "DirectRoomCreated",
  "Someone opened a direct room with you.",
  (t) => ({
    room: t.prismaField({ type: "Room", resolve: (q, e, _a, ctx) => load.room(ctx, q, e.roomId) }),
    createdBy: t.prismaField({ type: "User", resolve: (q, e, _a, ctx) => load.user(ctx, q, e.byId) }),
  }),
);

const RoomActivity = eventType<RoomActivityPayload>(
  "RoomActivity",
  "A new message in one of your rooms (any room, followed or not: for room lists). Once per message per subscription; in rooms of more than ACTIVITY_COALESCE_ABOVE members (default 500), at most one per room per ACTIVITY_COALESCE_MS (default 1 s), with the newest message. Not sent for messages from users you blocked.",
  (t) => ({
    roomId: t.exposeID("roomId"),
    room: t.prismaField({ type: "Room", resolve: (q, e, _a, ctx) => load.room(ctx, q, e.roomId) }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      description: "The new message (the room's newest, as Room.lastMessage); null when you muted the room (the count still comes).",
      resolve: (e): Message | null => (e.message ? messageFromJson(e.message) : null),
    }),
    unreadCount: t.exposeInt("unreadCount", {
      description: "Your unread messages in the room as of this message (Room.unreadCount then).",
    }),
  }),
);

/** What myEvents yields: the payload, or for ContactRequest and MentionNotification the object itself, marked with its kind. */
type UserEventValue =
  | RoomActivityPayload
  | Exclude<UserEventPayload, { kind: "ContactRequest" | "MentionNotification" }>
  | (ContactRequestShape & { kind: "ContactRequest" })
  | (Notification & { kind: "MentionNotification" });

const UserEvent = builder.unionType("UserEvent", {
  description: "Something that happened to you, across rooms.",
  types: [InviteReceived, AddedToRoom, RemovedFromRoom, ContactRequestRef, DirectRoomCreated, MentionNotificationRef, RoomActivity],
  // ContactRequest objects from mutations carry no kind; everything myEvents yields does
  resolveType: (event) => ("kind" in event && event.kind ? event.kind : "ContactRequest"),
});

builder.subscriptionFields((t) => ({
  roomEvents: t.withAuth({ viewer: true }).field({
    type: RoomEvent,
    description:
      "A room's events in seq order, the viewer's own included. Members only. With `after` (an event's cursor) it first replays every event stored after it, then continues live, with no gap and no duplicate. When the viewer leaves or is removed (or the room is deleted), they get that event and the subscription ends.",
    args: { roomId: t.arg.id({ required: true, validate: rules.id }), after: t.arg.string() },
    subscribe: (_root, args, ctx) =>
      sequencedStream(
        ctx.app.roomStreams.events(args.roomId, ctx.viewer.userId, ctx.socket),
        parseCursor(args.after, "a cursor from a RoomEvent"),
      ),
    resolve: (event: RoomEventPayload) => event,
  }),
  myEvents: t.withAuth({ viewer: true }).field({
    type: UserEvent,
    description:
      "The viewer's own events across rooms: invites, being added or removed, contact requests, new direct rooms, mentions, and a RoomActivity for each new message in any of their rooms. With `after` (sync's nextCursor) it first replays what happened since that sync, oldest first: the viewer's events (those whose invite, notification or room is gone since are left out), then one RoomActivity per room with newer messages (its newest message, the unread count now); then it continues live, with no gap and no duplicate. A cursor older than SYNC_RETENTION_DAYS: BAD_USER_INPUT with reason SYNC_CURSOR_EXPIRED (sync from scratch).",
    args: { after: t.arg.string({ description: "A sync cursor (sync's nextCursor): replay what happened after it first." }) },
    subscribe: (_root, args, ctx) =>
      ctx.app.activity.open(ctx.viewer.userId, parseSyncCursor(args.after, "after", ctx.app.config.SYNC_RETENTION_DAYS)),
    resolve: async (event: MyEventsItem, _args, ctx): Promise<UserEventValue> => {
      if (event.kind === "ContactRequest") return { ...event.contact, kind: "ContactRequest" };
      if (event.kind === "MentionNotification")
        return {
          ...(await ctx.app.db.notification.findUniqueOrThrow({ where: { id: event.notificationId } })),
          kind: "MentionNotification",
        };
      return event;
    },
  }),
}));
