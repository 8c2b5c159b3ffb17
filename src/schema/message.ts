import type { Message, Reaction, User } from "../generated/prisma/client.js";
import { requireMember } from "../chat/access.js";
import { endWhenRemoved } from "../realtime/removal.js";
import { type MessageAddedPayload, topics } from "../realtime/topics.js";
import { builder } from "./builder.js";
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

export const MessageRef = builder.prismaObject("Message", {
  fields: (t) => ({
    id: t.exposeID("id"),
    seq: t.exposeInt("seq", { description: "Position in the room: 1, 2, 3, … with no gaps." }),
    room: t.relation("room"),
    sender: t.relation("sender"),
    content: t.exposeString("content"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    clientMessageId: t.exposeString("clientMessageId", { nullable: true, description: "The sender's idempotency key, echoed back." }),
    replyTo: t.relation("replyTo", { nullable: true }),
    reactions: t.field({
      type: [ReactionGroupRef],
      select: { reactions: { orderBy: [{ createdAt: "asc" }, { userId: "asc" }], include: { user: true } } },
      resolve: (message, _args, ctx) => groupReactions(message.reactions, ctx.viewer?.userId),
    }),
  }),
});

const MessageConnection = builder.connectionObject({ type: MessageRef, name: "MessageConnection" }, { name: "MessageEdge" });

builder.queryField("messages", (t) =>
  t.prismaConnection({
    type: "Message",
    cursor: "id",
    description:
      "A room's messages, newest first: `first` (default 20, max 100) with `after` pages back into history; `last` with `before` pages toward newer ones.",
    authScopes: { viewer: true },
    args: { roomId: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (query, _root, args, ctx) => {
      await requireMember(ctx.app.db, args.roomId, ctx.viewer!.userId);
      return ctx.app.db.message.findMany({ ...query, where: { roomId: args.roomId }, orderBy: { seq: "desc" } });
    },
  }, MessageConnection),
);

const SendMessageInput = builder.inputType("SendMessageInput", {
  fields: (t) => ({
    roomId: t.id({ required: true, validate: rules.id }),
    content: t.string({ required: true, validate: rules.content, description: "1–5000 characters, trimmed." }),
    replyToId: t.id({ validate: rules.id }),
    clientMessageId: t.string({
      validate: rules.clientMessageId,
      description: "Your id for this send (e.g. a UUID). Retrying with the same value returns the first message instead of a second one.",
    }),
  }),
});


builder.mutationFields((t) => ({
  sendMessage: t.prismaField({
    type: "Message",
    description: "Stores a message, then publishes it to messageAdded subscribers on every node.",
    authScopes: { viewer: true },
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const message = await ctx.app.messages.send(ctx.viewer!.userId, input);
      return load.message(ctx, query, message.id);
    },
  }),
  addReaction: t.prismaField({
    type: "Message",
    description: "Adds the viewer's reaction (idempotent).",
    authScopes: { viewer: true },
    args: { messageId: t.arg.id({ required: true, validate: rules.id }), emoji: t.arg.string({ required: true, validate: rules.emoji }) },
    resolve: async (query, _root, args, ctx) => {
      const message = await ctx.app.messages.react(ctx.viewer!.userId, args.messageId, args.emoji, true);
      return load.message(ctx, query, message.id);
    },
  }),
  removeReaction: t.prismaField({
    type: "Message",
    description: "Removes the viewer's reaction (idempotent).",
    authScopes: { viewer: true },
    args: { messageId: t.arg.id({ required: true, validate: rules.id }), emoji: t.arg.string({ required: true, validate: rules.emoji }) },
    resolve: async (query, _root, args, ctx) => {
      const message = await ctx.app.messages.react(ctx.viewer!.userId, args.messageId, args.emoji, false);
      return load.message(ctx, query, message.id);
    },
  }),
}));

builder.subscriptionField("messageAdded", (t) =>
  t.field({
    type: MessageRef,
    description: "Each new message of a room, once stored. Members only; ends when the viewer leaves or is removed.",
    authScopes: { viewer: true },
    args: { roomId: t.arg.id({ required: true, validate: rules.id }) },
    subscribe: async (_root, args, ctx) => {
      await requireMember(ctx.app.db, args.roomId, ctx.viewer!.userId);
      const messages = ctx.app.pubsub.asyncIterableIterator<MessageAddedPayload>(topics.messageAdded(args.roomId));
      return endWhenRemoved(ctx.app.pubsub, args.roomId, ctx.viewer!.userId, messages);
    },
    resolve: (payload: MessageAddedPayload): Message => ({ ...payload.message, createdAt: new Date(payload.message.createdAt) }),
  }),
);
