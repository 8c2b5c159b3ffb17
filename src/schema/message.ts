import { resolveOffsetConnection } from "@pothos/plugin-relay";
import { requireMember } from "../chat/access.js";
import { deliveryStateOf } from "../chat/delivery.js";
import { MAX_ATTACHMENTS, MAX_PINNED, SELF_DESTRUCT_TIMERS_S } from "../chat/messages.js";
import type { Context } from "../context.js";
import type { Message, Reaction, User } from "../generated/prisma/client.js";
import { endWhenRemoved } from "../realtime/removal.js";
import { parseCursor, sequencedStream } from "../realtime/stream.js";
import { type MessageAddedPayload, messageFromJson } from "../realtime/topics.js";
import { builder, forViewer } from "./builder.js";
import { load } from "./load.js";
import { UserRef } from "./user.js";
import { rules } from "./validation.js";

/** All reactions with one emoji on one message. */
interface ReactionGroup {
  emoji: string;
  count: number;
  viewerHasReacted: boolean;
  users: User[];
}

const ReactionGroupRef = builder.objectRef<ReactionGroup>("ReactionGroup").implement({
  description: "The reactions with one emoji on a message, in the order they were first added.",
  fields: (t) => ({
    emoji: t.exposeString("emoji"),
    count: t.exposeInt("count"),
    viewerHasReacted: t.exposeBoolean("viewerHasReacted"),
    users: t.field({ type: [UserRef], resolve: (group) => group.users }),
  }),
});

function groupReactions(reactions: (Reaction & { user: User })[], viewerId: string | undefined): ReactionGroup[] {
  const groups = new Map<string, ReactionGroup>();
  for (const r of reactions) {
    const group = groups.get(r.emoji) ?? { emoji: r.emoji, count: 0, viewerHasReacted: false, users: [] };
    group.count += 1;
    group.viewerHasReacted ||= r.userId === viewerId;
    group.users.push(r.user);
    groups.set(r.emoji, group);
  }
  return [...groups.values()];
}

const MessageTypeEnum = builder.enumType("MessageType", {
  description: "TEXT for text messages; the others are set by attachments; SYSTEM messages come from the server.",
  values: ["TEXT", "IMAGE", "FILE", "AUDIO", "VIDEO", "VOICE", "SYSTEM"] as const,
});
const DeliveryState = builder.enumType("DeliveryState", {
  description: "A message's state for its sender: SENT, then DELIVERED, then READ.",
  values: {
    SENT: { description: "Stored" },
    DELIVERED: {
      description:
        "Every other member acknowledged it on a device (markDelivered) or read it; tracked only in rooms of at most DELIVERY_RECEIPTS_MAX_MEMBERS members (100 by default)",
    },
    READ: { description: "Another member's read marker reached it" },
  } as const,
});

builder.prismaObject("MessageEdit", {
  description: "An earlier version of a message.",
  fields: (t) => ({
    content: t.string({
      resolve: (edit, _args, ctx) => ctx.app.encryption.open(edit.messageId, edit),
    }),
    editedAt: t.expose("editedAt", { type: "DateTime", description: "When this content was replaced." }),
  }),
});

/** The other members whose read marker reached `message` (members hiding read receipts left out). */
async function readers(ctx: Context, message: { roomId: string; senderId: string; seq: number }): Promise<string[]> {
  const markers = await ctx.loaders.receiptMarkers.load(message.roomId);
  return markers.filter((m) => m.showsReceipts && m.userId !== message.senderId && m.lastReadSeq >= message.seq).map((m) => m.userId);
}

export const MessageRef = builder.prismaObject("Message", {
  description:
    "A message in a room, sent with sendMessage and numbered by `seq` in the room's order. Only the room's members can read it (messages, searchMessages, Room.lastMessage, messageAdded, roomEvents). It may reply to another (replyTo), belong to a thread (threadRoot), carry attachments, mentions and reactions, and expire (expiresAt). Edits keep the earlier versions (edits); deleting leaves a tombstone (deletedAt set, content \"\").",
  fields: (t) => ({
    id: t.exposeID("id"),
    seq: t.exposeInt("seq", {
      description: "Position in the room: 1, 2, 3, … with no gaps. String(seq) is messageAdded's `after` cursor.",
    }),
    type: t.expose("type", { type: MessageTypeEnum }),
    room: t.relation("room"),
    sender: t.relation("sender"),
    content: t.string({
      description: `"" once deleted.`,
      resolve: (message, _args, ctx) => ctx.app.encryption.open(message.id, message),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    editedAt: t.expose("editedAt", { type: "DateTime", nullable: true, description: "The last edit; null if never edited." }),
    edits: t.relation("edits", {
      description: "Earlier versions, oldest first (cleared when deleted).",
      query: { orderBy: [{ editedAt: "asc" }, { id: "asc" }] },
    }),
    deletedAt: t.expose("deletedAt", {
      type: "DateTime",
      nullable: true,
      description: "Set when deleted: the message stays in history as a tombstone.",
    }),
    clientMessageId: t.exposeString("clientMessageId", { nullable: true, description: "The sender's idempotency key, echoed back." }),
    replyTo: t.relation("replyTo", { nullable: true }),
    threadRoot: t.relation("threadRoot", {
      nullable: true,
      description: "The thread this message replies in; null for top-level messages.",
    }),
    threadReplyCount: t.exposeInt("threadReplyCount"),
    threadLastReplyAt: t.expose("threadLastReplyAt", { type: "DateTime", nullable: true }),
    pinnedAt: t.expose("pinnedAt", { type: "DateTime", nullable: true }),
    expiresAt: t.expose("expiresAt", {
      type: "DateTime",
      nullable: true,
      description: "A self-destructing message's purge time (sendMessage expiresIn).",
    }),
    mentions: t.prismaField({
      type: ["User"],
      description: "Members the content mentions (@username) who were notified.",
      select: { mentionedIds: true },
      resolve: (query, message, _args, ctx) => Promise.all(message.mentionedIds.map((id) => load.user(ctx, query, id))),
    }),
    pinnedBy: t.relation("pinnedBy", { nullable: true }),
    readBy: t.prismaField({
      type: ["User"],
      description: "Other members whose read marker reached this message, except those who hide read receipts.",
      select: { roomId: true, senderId: true, seq: true },
      resolve: async (query, message, _args, ctx) => Promise.all((await readers(ctx, message)).map((id) => load.user(ctx, query, id))),
    }),
    deliveryState: t.field({
      type: DeliveryState,
      nullable: true,
      description:
        "For the sender only (null for others): SENT when stored; DELIVERED once every other member has a device that acknowledged it (markDelivered) or has read it; READ once another member's read marker reached it. Members who hide read receipts count for neither, so a room with one of them stays SENT until READ. Delivery is tracked only in rooms of at most DELIVERY_RECEIPTS_MAX_MEMBERS members (100 by default): in larger rooms it stays SENT until READ.",
      select: { roomId: true, senderId: true, seq: true },
      resolve: async (message, _args, ctx) =>
        message.senderId !== ctx.viewer?.userId
          ? null
          : deliveryStateOf(message, await ctx.loaders.receiptMarkers.load(message.roomId), ctx.app.config.DELIVERY_RECEIPTS_MAX_MEMBERS),
    }),
    reactions: t.field({
      type: [ReactionGroupRef],
      select: { reactions: { orderBy: [{ createdAt: "asc" }, { userId: "asc" }], include: { user: true } } },
      resolve: (message, _args, ctx) => groupReactions(message.reactions, ctx.viewer?.userId),
    }),
  }),
});

const MessageConnection = builder.connectionObject({ type: MessageRef, name: "MessageConnection" }, { name: "MessageEdge" });

builder.prismaObjectField("Message", "thread", (t) =>
  t.relatedConnection(
    "thread",
    { cursor: "id", description: "Replies in this message's thread, oldest first.", query: { orderBy: { seq: "asc" } } },
    MessageConnection,
  ),
);

builder.queryField("messages", (t) =>
  t.withAuth({ viewer: true }).prismaConnection(
    {
      type: "Message",
      cursor: "id",
      description:
        "A room's messages, newest first: `first` (default 20, max 100) with `after` pages back into history; `last` with `before` pages toward newer ones.",
      args: { roomId: t.arg.id({ required: true, validate: rules.id }) },
      resolve: async (query, _root, args, ctx) => {
        await requireMember(ctx.app.db, args.roomId, ctx.viewer.userId);
        return ctx.app.db.message.findMany({ ...query, where: { roomId: args.roomId }, orderBy: { seq: "desc" } });
      },
    },
    forViewer(MessageConnection),
  ),
);

/** A searchMessages hit. */
const MessageSearchResult = builder.objectRef<{ messageId: string; snippet: string }>("MessageSearchResult").implement({
  fields: (t) => ({
    message: t.prismaField({ type: "Message", resolve: (query, hit, _args, ctx) => load.message(ctx, query, hit.messageId) }),
    snippet: t.exposeString("snippet", { description: "An HTML-escaped excerpt with the matched words in <mark>…</mark>." }),
  }),
});

builder.queryField("searchMessages", (t) =>
  t.withAuth({ viewer: true }).connection(
    {
      type: MessageSearchResult,
      description:
        'Full-text search over the messages of your rooms (or of one, `roomId`): words, "phrases", -excluded, or. Best matches first, then newest; deleted messages are left out. `first` default 20, max 100. FORBIDDEN when the server keeps no searchable text (MESSAGE_SEARCH=off).',
      args: { query: t.arg.string({ required: true, validate: rules.searchQuery }), roomId: t.arg.id({ validate: rules.id }) },
      resolve: async (_root, args, ctx) => {
        if (args.roomId) await requireMember(ctx.app.db, args.roomId, ctx.viewer.userId);
        return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
          ctx.app.search.search(ctx.viewer.userId, args.query, args.roomId ?? null, limit, offset),
        );
      },
    },
    { name: "MessageSearchResultConnection" },
    { name: "MessageSearchResultEdge" },
  ),
);

const SendMessageInput = builder.inputType("SendMessageInput", {
  fields: (t) => ({
    roomId: t.id({ required: true, validate: rules.id }),
    content: t.string({
      validate: rules.content,
      description: "Up to 5000 characters, trimmed; may be left out when there are attachments.",
    }),
    attachmentIds: t.idList({
      validate: rules.attachmentIds,
      description: `Your unsent uploads (uploadAttachment), at most ${MAX_ATTACHMENTS}.`,
    }),
    type: t.field({
      type: MessageTypeEnum,
      description:
        "By default TEXT, or what the first attachment is (IMAGE, VIDEO, AUDIO, FILE); VOICE marks an audio attachment as a voice note.",
    }),
    replyToId: t.id({ validate: rules.id }),
    threadRootId: t.id({ validate: rules.id, description: "Reply in the thread of this top-level message." }),
    expiresIn: t.int({
      validate: rules.selfDestructTimer,
      description: `Self-destruct timer in seconds, one of ${SELF_DESTRUCT_TIMERS_S.join(", ")}: the content is purged then, and the room gets MessageExpired.`,
    }),
    clientMessageId: t.string({
      validate: rules.clientMessageId,
      description: "Your id for this send (e.g. a UUID). Retrying with the same value returns the first message instead of a second one.",
    }),
  }),
});

builder.mutationFields((t) => ({
  sendMessage: t.withAuth({ viewer: true }).field({
    type: MessageRef,
    description: "Stores a message, then publishes it to messageAdded subscribers on every node.",
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    // the stored row, not re-read: what the selection needs beyond its columns (sender, room…) plugin-prisma
    // loads as for messageAdded, so a selection of columns costs no statement (docs/performance.md)
    resolve: (_root, { input }, ctx) => ctx.app.messages.send(ctx.viewer, input),
  }),
  editMessage: t.withAuth({ viewer: true }).prismaField({
    type: "Message",
    description: "Changes the content of your own message; the previous content goes to its edits.",
    args: { id: t.arg.id({ required: true, validate: rules.id }), content: t.arg.string({ required: true, validate: rules.content }) },
    resolve: async (query, _root, args, ctx) =>
      load.message(ctx, query, (await ctx.app.messages.edit(ctx.viewer.userId, args.id, args.content)).id),
  }),
  deleteMessage: t.withAuth({ viewer: true }).prismaField({
    type: "Message",
    description: "Deletes a message, leaving a tombstone in history. The sender, or a room OWNER or ADMIN. Idempotent.",
    args: { id: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (query, _root, args, ctx) => load.message(ctx, query, (await ctx.app.messages.delete(ctx.viewer.userId, args.id)).id),
  }),
  markRead: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description:
      "Moves your read marker in the room to this message (never backwards): unreadCount drops, and others get a ReadReceipt unless you hide them.",
    args: { roomId: t.arg.id({ required: true, validate: rules.id }), messageId: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (query, _root, args, ctx) =>
      load.room(ctx, query, (await ctx.app.messages.markRead(ctx.viewer.userId, args.roomId, args.messageId)).id),
  }),
  markDelivered: t.withAuth({ viewer: true }).prismaField({
    type: "Room",
    description:
      "Acknowledges that this device received the room's messages up to seq `upToSeq` (never backwards): the senders see them DELIVERED once every other member has, and the room gets a DeliveryReceipt unless you hide read receipts. Not tracked (nothing changes) in rooms of more than DELIVERY_RECEIPTS_MAX_MEMBERS members (100 by default).",
    args: {
      roomId: t.arg.id({ required: true, validate: rules.id }),
      upToSeq: t.arg.int({ required: true, validate: rules.seq, description: "The seq of the newest message received." }),
    },
    resolve: async (query, _root, args, ctx) =>
      load.room(ctx, query, (await ctx.app.deliveries.markDelivered(ctx.viewer.userId, args.roomId, args.upToSeq)).id),
  }),
  pinMessage: t.withAuth({ viewer: true }).prismaField({
    type: "Message",
    description: `Pins a message (idempotent). DIRECT rooms: either member; others: the OWNER and ADMINs. At most ${MAX_PINNED} per room.`,
    args: { id: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (query, _root, args, ctx) => load.message(ctx, query, (await ctx.app.messages.pin(ctx.viewer.userId, args.id, true)).id),
  }),
  unpinMessage: t.withAuth({ viewer: true }).prismaField({
    type: "Message",
    description: "Unpins a message (idempotent); the same people as pinMessage.",
    args: { id: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (query, _root, args, ctx) =>
      load.message(ctx, query, (await ctx.app.messages.pin(ctx.viewer.userId, args.id, false)).id),
  }),
  addReaction: t.withAuth({ viewer: true }).prismaField({
    type: "Message",
    description: "Adds the viewer's reaction (idempotent).",
    args: { messageId: t.arg.id({ required: true, validate: rules.id }), emoji: t.arg.string({ required: true, validate: rules.emoji }) },
    resolve: async (query, _root, args, ctx) => {
      const message = await ctx.app.messages.react(ctx.viewer.userId, args.messageId, args.emoji, true);
      return load.message(ctx, query, message.id);
    },
  }),
  removeReaction: t.withAuth({ viewer: true }).prismaField({
    type: "Message",
    description: "Removes the viewer's reaction (idempotent).",
    args: { messageId: t.arg.id({ required: true, validate: rules.id }), emoji: t.arg.string({ required: true, validate: rules.emoji }) },
    resolve: async (query, _root, args, ctx) => {
      const message = await ctx.app.messages.react(ctx.viewer.userId, args.messageId, args.emoji, false);
      return load.message(ctx, query, message.id);
    },
  }),
}));

builder.subscriptionField("messageAdded", (t) =>
  t.withAuth({ viewer: true }).field({
    type: MessageRef,
    description:
      "Each new message of a room, once stored, in seq order. Members only; ends when the viewer leaves or is removed. With `after` (String(seq) of the last message you have) it first replays the messages after it, then continues live, with no gap and no duplicate.",
    args: { roomId: t.arg.id({ required: true, validate: rules.id }), after: t.arg.string() },
    subscribe: async (_root, args, ctx) => {
      const after = parseCursor(args.after, "the seq of a message, as a string");
      const messages = await sequencedStream(ctx.app.roomStreams.messages(args.roomId, ctx.viewer.userId, ctx.socket), after);
      return endWhenRemoved(ctx.app.pubsub, args.roomId, ctx.viewer.userId, messages);
    },
    resolve: (payload: MessageAddedPayload): Message => messageFromJson(payload.message),
  }),
);
