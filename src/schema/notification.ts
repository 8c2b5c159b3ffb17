import { inRoomsOf } from "../chat/access.js";
import { notFound } from "../errors.js";
import { builder, forViewer } from "./builder.js";
import { load } from "./load.js";
import { rules } from "./validation.js";

/** The Notification model as GraphQL's MentionNotification (the one kind there is). */
export const MentionNotificationRef = builder.prismaObject("Notification", {
  name: "MentionNotification",
  description: "Someone mentioned you (@username) in a message. Also a myEvents event.",
  fields: (t) => ({
    id: t.exposeID("id"),
    message: t.relation("message"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    readAt: t.expose("readAt", { type: "DateTime", nullable: true }),
    read: t.boolean({ select: { readAt: true }, resolve: (n) => n.readAt !== null }),
  }),
});

const NotificationConnection = forViewer(
  builder.connectionObject({ type: MentionNotificationRef, name: "NotificationConnection" }, { name: "NotificationEdge" }),
);

builder.queryField("notifications", (t) =>
  t.withAuth({ viewer: true }).prismaConnection(
    {
      type: "Notification",
      cursor: "id",
      description:
        "The viewer's notifications, newest first; `unread: true` for the unread ones only. Only those of rooms the viewer is still a member of.",
      args: { unread: t.arg.boolean() },
      resolve: (query, _root, args, ctx) =>
        ctx.app.db.notification.findMany({
          ...query,
          where: { userId: ctx.viewer.userId, ...inRoomsOf(ctx.viewer.userId), ...(args.unread ? { readAt: null } : {}) },
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        }),
    },
    NotificationConnection,
  ),
);

builder.mutationField("markNotificationRead", (t) =>
  t.withAuth({ viewer: true }).prismaField({
    type: "Notification",
    description: "Marks one of your notifications read (idempotent). NOT_FOUND for one of a room you are no longer a member of.",
    args: { id: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (query, _root, args, ctx) => {
      const mine = { id: args.id, userId: ctx.viewer.userId, ...inRoomsOf(ctx.viewer.userId) };
      const { count } = await ctx.app.db.notification.updateMany({ where: { ...mine, readAt: null }, data: { readAt: new Date() } });
      const notification = count ? null : await ctx.app.db.notification.findFirst({ where: mine, select: { id: true } });
      if (!count && !notification) throw notFound("Notification");
      return load.notification(ctx, query, args.id);
    },
  }),
);
