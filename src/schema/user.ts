import { builder } from "./builder.js";

/** Presence status; AWAY is reserved for clients that report idleness (not set by the server yet). */
export const PresenceStatusEnum = builder.enumType("PresenceStatus", {
  values: ["ONLINE", "AWAY", "OFFLINE"] as const,
});

export const UserRef = builder.prismaObject("User", {
  description: "A person who can log in. Email is visible only to the user themself.",
  fields: (t) => ({
    id: t.exposeID("id"),
    username: t.exposeString("username"),
    firstName: t.exposeString("firstName"),
    lastName: t.exposeString("lastName"),
    displayName: t.string({
      select: { firstName: true, lastName: true },
      resolve: (user) => `${user.firstName} ${user.lastName}`.trim(),
    }),
    email: t.string({
      nullable: true,
      select: { email: true },
      resolve: (user, _args, ctx) => (user.id === ctx.viewer?.userId ? user.email : null),
    }),
    phoneNumber: t.string({
      nullable: true,
      select: { phoneNumber: true },
      resolve: (user, _args, ctx) => (user.id === ctx.viewer?.userId ? user.phoneNumber : null),
    }),
    bio: t.exposeString("bio", { nullable: true }),
    status: t.field({
      type: PresenceStatusEnum,
      description: "ONLINE while the user has a WebSocket connection open on any node.",
      resolve: (user, _args, ctx) => ctx.statusLoader.load(user.id),
    }),
    lastSeenAt: t.expose("lastSeenAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.queryField("me", (t) =>
  t.prismaField({
    type: UserRef,
    nullable: true,
    description: "The logged-in user; null without a valid access token.",
    resolve: (query, _root, _args, ctx) =>
      ctx.viewer ? ctx.app.db.user.findUnique({ ...query, where: { id: ctx.viewer.userId } }) : null,
  }),
);
