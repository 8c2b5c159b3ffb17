import { withFilter } from "graphql-subscriptions";
import { requirePoster } from "../chat/access.js";
import type { ViewerContext } from "../context.js";
import { endWhenRemoved } from "../realtime/removal.js";
import { type PresencePayload, type TypingPayload, topics } from "../realtime/topics.js";
import { builder } from "./builder.js";
import { load } from "./load.js";
import { PresenceStatusEnum } from "./user.js";
import { rules } from "./validation.js";

const TypingEvent = builder.objectRef<TypingPayload>("TypingEvent").implement({
  description: "Someone started or stopped typing. The server sends isTyping: false by itself 3 s after the last setTyping(true).",
  fields: (t) => ({
    roomId: t.exposeID("roomId"),
    user: t.prismaField({ type: "User", resolve: (query, event, _args, ctx) => load.user(ctx, query, event.userId) }),
    isTyping: t.exposeBoolean("isTyping"),
  }),
});

const PresenceEvent = builder.objectRef<PresencePayload>("PresenceEvent").implement({
  description: "A room member's visible status changed (came online, went away or offline, or hid their online status).",
  fields: (t) => ({
    user: t.prismaField({ type: "User", resolve: (query, event, _args, ctx) => load.user(ctx, query, event.userId) }),
    status: t.field({ type: PresenceStatusEnum, resolve: (event) => event.status }),
    lastSeenAt: t.field({ type: "DateTime", nullable: true, resolve: (event) => event.lastSeenAt }),
  }),
});

builder.mutationField("setTyping", (t) =>
  t.withAuth({ viewer: true }).boolean({
    description: "Tells the room's typing subscribers. Call again every ~2 s while typing; it expires after 3 s without a refresh.",
    args: { roomId: t.arg.id({ required: true, validate: rules.id }), isTyping: t.arg.boolean({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await requirePoster(ctx.app.db, args.roomId, ctx.viewer.userId);
      await ctx.app.typing.set(args.roomId, ctx.viewer.userId, args.isTyping);
      return true;
    },
  }),
);

/**
 * Events of a room's topic for members only, without the viewer's own or those
 * hidden from the viewer (`hiddenFrom`: presence of users who blocked them;
 * `onlyFor`: meant for other viewers).
 * Ends when the viewer is no longer a member. The membership check is admitted
 * and batched with other set-ups (realtime/room-streams.ts admitMember).
 */
function roomTopic<T extends { userId: string; hiddenFrom?: string[]; onlyFor?: string[] }>(topic: (roomId: string) => string) {
  return async (_root: unknown, args: { roomId: string }, ctx: ViewerContext) => {
    const viewerId = ctx.viewer.userId;
    await ctx.app.roomStreams.admitMember(args.roomId, viewerId, ctx.socket);
    const events = (await withFilter<T>(
      () => ctx.app.pubsub.asyncIterableIterator(topic(args.roomId)),
      (event) =>
        event?.userId !== viewerId && !event?.hiddenFrom?.includes(viewerId) && (!event?.onlyFor || event.onlyFor.includes(viewerId)),
    )(undefined, args, ctx)) as AsyncIterableIterator<T>;
    return endWhenRemoved(ctx.app.pubsub, args.roomId, viewerId, events);
  };
}

builder.subscriptionFields((t) => ({
  typing: t.withAuth({ viewer: true }).field({
    type: TypingEvent,
    description: "Typing changes of the other members of a room. Members only.",
    args: { roomId: t.arg.id({ required: true, validate: rules.id }) },
    subscribe: roomTopic<TypingPayload>(topics.typing),
    resolve: (event: TypingPayload) => event,
  }),
  presence: t.withAuth({ viewer: true }).field({
    type: PresenceEvent,
    description: "Presence changes of the other members of a room. Members only.",
    args: { roomId: t.arg.id({ required: true, validate: rules.id }) },
    subscribe: roomTopic<PresencePayload>(topics.presence),
    resolve: (event: PresencePayload) => event,
  }),
}));
