import { formatPrismaCursor, queryFromInfo } from "@pothos/plugin-prisma";
import { unreadCount } from "../chat/rooms.js";
import type { Message, Room, RoomInvite } from "../generated/prisma/client.js";
import { type LeftRoom, readChanges } from "../sync/changes.js";
import { encodeSyncCursor, parseSyncCursor } from "../sync/cursor.js";
import { builder } from "./builder.js";
import { RemovedFromRoomReason } from "./events.js";
import { MessageRef } from "./message.js";
import { pendingInvites, RoomInviteRef, RoomRef } from "./room.js";
import { rules } from "./validation.js";

/** One changed room of a sync: the rows loaded with the operation's selection, the positions from the sync's snapshot. */
interface SyncRoomShape {
  room: Room;
  joined: boolean;
  messages: Message[];
  limited: boolean;
  unreadCount: number;
  lastSeq: number;
  lastEventSeq: number;
}

interface SyncPayloadShape {
  nextCursor: string;
  initial: boolean;
  rooms: SyncRoomShape[];
  leftRooms: LeftRoom[];
  invites: RoomInvite[];
}

const SyncRoomRef = builder.objectRef<SyncRoomShape>("SyncRoom").implement({
  description: "A room of the viewer that changed since the cursor, as of the sync.",
  fields: (t) => ({
    room: t.field({ type: RoomRef, resolve: (r) => r.room }),
    joined: t.exposeBoolean("joined", { description: "The viewer's membership began since the cursor (always true on the initial sync)." }),
    messages: t.field({
      type: [MessageRef],
      description: "The newest messages sent since the cursor, at most limitPerRoom, oldest first.",
      resolve: (r) => r.messages,
    }),
    limited: t.exposeBoolean("limited", {
      description: "More messages were sent since the cursor than limitPerRoom: page further back with previousCursor.",
    }),
    previousCursor: t.string({
      nullable: true,
      description:
        "Pass as `after` to messages(roomId:, first:) to page further back from the oldest message returned (that list is newest first, so older messages come after). Null unless limited, and when no message was returned (limitPerRoom 0: page from the newest).",
      resolve: (r) => (r.limited && r.messages[0] ? formatPrismaCursor(r.messages[0], "id") : null),
    }),
    unreadCount: t.exposeInt("unreadCount", { description: "As Room.unreadCount, as of the sync." }),
    lastSeq: t.exposeInt("lastSeq", { description: "The seq of the room's newest message as of the sync (0 when none)." }),
    messageCursor: t.string({
      description: "Pass as `after` to messageAdded(roomId:): it continues right after this sync, with no gap and no duplicate.",
      resolve: (r) => String(r.lastSeq),
    }),
    eventCursor: t.string({
      description: "Pass as `after` to roomEvents(roomId:): it continues right after this sync, with no gap and no duplicate.",
      resolve: (r) => String(r.lastEventSeq),
    }),
  }),
});

const SyncLeftRoomRef = builder.objectRef<LeftRoom>("SyncLeftRoom").implement({
  description: "A room the viewer left or was removed from, or that was deleted or hidden, since the cursor (its latest RemovedFromRoom).",
  fields: (t) => ({
    roomId: t.exposeID("roomId"),
    roomName: t.exposeString("roomName", { nullable: true }),
    reason: t.field({ type: RemovedFromRoomReason, resolve: (l) => l.reason }),
    at: t.field({ type: "DateTime", resolve: (l) => l.at }),
  }),
});

const SyncPayloadRef = builder.objectRef<SyncPayloadShape>("SyncPayload").implement({
  description: "What changed for the viewer since a sync, read under one database snapshot.",
  fields: (t) => ({
    nextCursor: t.exposeString("nextCursor", {
      description: `Pass as \`since\` to the next sync, and as \`after\` to myEvents. Usable for SYNC_RETENTION_DAYS (default 30); older, it answers BAD_USER_INPUT with reason SYNC_CURSOR_EXPIRED.`,
    }),
    initial: t.exposeBoolean("initial", { description: "since was null: every room of the viewer is in `rooms`." }),
    rooms: t.field({
      type: [SyncRoomRef],
      description:
        "The viewer's rooms that changed since the cursor: new messages, the viewer's read marker, mute or archive, the room's settings or events, a membership begun. DIRECT rooms the viewer hid are left out until a newer message.",
      resolve: (p) => p.rooms,
    }),
    leftRooms: t.field({
      type: [SyncLeftRoomRef],
      description:
        "Rooms the viewer left or was removed from, or that were deleted or hidden, since the cursor, unless the viewer is in them again (empty on the initial sync).",
      resolve: (p) => p.leftRooms,
    }),
    invites: t.field({
      type: [RoomInviteRef],
      description: "The viewer's pending invitations (all of them), newest first.",
      resolve: (p) => p.invites,
    }),
  }),
});

builder.queryField("sync", (t) =>
  t.withAuth({ viewer: true }).field({
    type: SyncPayloadRef,
    description:
      "Catch-up in one round trip: the viewer's rooms changed since `since` (a previous nextCursor; null for the initial sync, every room), each with its newest messages (at most limitPerRoom, 0 to 100, default 20), unread count and cursors to follow it live; the rooms left; the pending invites. BAD_USER_INPUT on `since` when it is not a cursor, or (reason SYNC_CURSOR_EXPIRED) older than SYNC_RETENTION_DAYS: sync from scratch then.",
    args: {
      since: t.arg.string(),
      limitPerRoom: t.arg.int({ defaultValue: 20, validate: rules.syncLimitPerRoom }),
    },
    resolve: async (_root, args, ctx, info) => {
      const userId = ctx.viewer.userId;
      const since = parseSyncCursor(args.since, "since", ctx.app.config.SYNC_RETENTION_DAYS);
      const at = Date.now();
      const changes = await readChanges(ctx.app.db, userId, since?.snapshot ?? null, args.limitPerRoom ?? 20);
      // the rows, with what the operation selects under them, by id: statements of their own, whatever the number of rooms
      const roomIds = changes.rooms.map((r) => r.roomId);
      const messageIds = changes.rooms.flatMap((r) => r.messageIds);
      const [rooms, messages, invites] = await Promise.all([
        roomIds.length > 0
          ? ctx.app.db.room.findMany({ ...queryFromInfo({ context: ctx, info, path: ["rooms", "room"] }), where: { id: { in: roomIds } } })
          : [],
        messageIds.length > 0
          ? ctx.app.db.message.findMany({
              ...queryFromInfo({ context: ctx, info, path: ["rooms", "messages"] }),
              where: { id: { in: messageIds } },
            })
          : [],
        pendingInvites(ctx, queryFromInfo({ context: ctx, info, path: ["invites"] }), userId),
      ]);
      const roomById = new Map(rooms.map((r) => [r.id, r as Room]));
      const messageById = new Map(messages.map((m) => [m.id, m as Message]));
      return {
        nextCursor: encodeSyncCursor({ snapshot: changes.snapshot, at }),
        initial: since === null,
        // a room deleted between the snapshot and its load is left out: the next sync lists it in leftRooms
        rooms: changes.rooms.flatMap((c) => {
          const room = roomById.get(c.roomId);
          if (!room) return [];
          const shown = c.messageIds.flatMap((id) => messageById.get(id) ?? []);
          return [
            {
              room,
              joined: c.joined,
              messages: shown,
              limited: c.limited,
              unreadCount: unreadCount(c.lastSeq, c.lastReadSeq),
              lastSeq: c.lastSeq,
              lastEventSeq: c.lastEventSeq,
            },
          ];
        }),
        leftRooms: changes.left,
        invites: invites as RoomInvite[],
      };
    },
  }),
);
