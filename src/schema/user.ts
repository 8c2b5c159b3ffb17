import { resolveOffsetConnection } from "@pothos/plugin-relay";
import { unauthenticated } from "../errors.js";
import type { User } from "../generated/prisma/client.js";
import { searchUserIds } from "../users/directory.js";
import { builder, forViewer } from "./builder.js";
import { rules } from "./validation.js";

/** Presence status. AWAY: connected, and the user chose AWAY (updateProfile status). */
export const PresenceStatusEnum = builder.enumType("PresenceStatus", {
  values: ["ONLINE", "AWAY", "OFFLINE"] as const,
});

const SETTINGS = [
  "notificationSound",
  "emailNotifications",
  "pushNotifications",
  "showOnlineStatus",
  "showReadReceipts",
  "allowDirectMessages",
  "autoJoinPublicRooms",
  "notificationPreviews",
] as const;

const UserSettingsRef = builder.objectRef<Pick<User, (typeof SETTINGS)[number]>>("UserSettings").implement({
  description:
    "The user's settings. The privacy ones (showOnlineStatus, showReadReceipts, allowDirectMessages) are enforced by the server.",
  fields: (t) => ({
    notificationSound: t.exposeBoolean("notificationSound"),
    emailNotifications: t.exposeBoolean("emailNotifications"),
    pushNotifications: t.exposeBoolean("pushNotifications"),
    showOnlineStatus: t.exposeBoolean("showOnlineStatus", { description: "Off: others always see OFFLINE and no lastSeenAt." }),
    showReadReceipts: t.exposeBoolean("showReadReceipts"),
    allowDirectMessages: t.exposeBoolean("allowDirectMessages", { description: "Off: only contacts may open a new direct room with you." }),
    autoJoinPublicRooms: t.exposeBoolean("autoJoinPublicRooms", { description: "On: you are added to new PUBLIC rooms." }),
    notificationPreviews: t.exposeBoolean("notificationPreviews", {
      description: "Off: your push notifications say only that a message came in which room, without its text or sender. Default on.",
    }),
  }),
});

/** Fields only the user themself may read. */
const own = <T>(user: { id: string }, viewerId: string | undefined, value: T): T | null => (user.id === viewerId ? value : null);

export const UserRef = builder.prismaObject("User", {
  description: "A person who can log in. Email, emailVerified, phone number and settings are visible only to the user themself.",
  fields: (t) => ({
    id: t.exposeID("id"),
    username: t.exposeString("username"),
    firstName: t.exposeString("firstName"),
    lastName: t.exposeString("lastName"),
    displayName: t.string({
      description: "The name to show: the one the user set, else first and last name.",
      select: { displayName: true, firstName: true, lastName: true },
      resolve: (user) => user.displayName ?? `${user.firstName} ${user.lastName}`.trim(),
    }),
    avatar: t.exposeString("avatar", { nullable: true, description: "http(s) URL of the user's picture." }),
    email: t.string({ nullable: true, select: { email: true }, resolve: (user, _args, ctx) => own(user, ctx.viewer?.userId, user.email) }),
    emailVerified: t.boolean({
      nullable: true,
      description:
        "Whether the user followed the verification link mailed to their current email address (verifyEmail). Only the user themself sees it; null to others.",
      select: { emailVerifiedAt: true },
      resolve: (user, _args, ctx) => own(user, ctx.viewer?.userId, user.emailVerifiedAt !== null),
    }),
    phoneNumber: t.string({
      nullable: true,
      select: { phoneNumber: true },
      resolve: (user, _args, ctx) => own(user, ctx.viewer?.userId, user.phoneNumber),
    }),
    bio: t.exposeString("bio", { nullable: true }),
    status: t.field({
      type: PresenceStatusEnum,
      description:
        "ONLINE (or AWAY, when the user chose it) while the user has a WebSocket open on any node; else OFFLINE. Always OFFLINE to others when the user hides their online status or has blocked the viewer.",
      resolve: async (user, _args, ctx) => (await ctx.loaders.presence.load(user.id)).status,
    }),
    lastSeenAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the user was last connected; null to others in the cases where status is always OFFLINE.",
      select: { lastSeenAt: true },
      resolve: async (user, _args, ctx) => ((await ctx.loaders.presence.load(user.id)).hidden ? null : user.lastSeenAt),
    }),
    language: t.exposeString("language", { description: "BCP 47 tag, e.g. en or pt-BR." }),
    timezone: t.exposeString("timezone", { description: "IANA time zone, e.g. Europe/Paris." }),
    settings: t.field({
      type: UserSettingsRef,
      nullable: true,
      select: Object.fromEntries(SETTINGS.map((k) => [k, true])) as Record<(typeof SETTINGS)[number], true>,
      resolve: (user, _args, ctx) => own(user, ctx.viewer?.userId, user),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    deleted: t.boolean({
      description: 'The account was deleted (deleteAccount): this is what is left of it, the sender of its messages, named "Deleted user".',
      select: { deletedAt: true },
      resolve: (user) => user.deletedAt !== null,
    }),
  }),
});

/** The one User connection type (users, contacts). */
export const UserConnection = forViewer(builder.connectionObject({ type: UserRef, name: "UserConnection" }, { name: "UserEdge" }));

builder.queryFields((t) => ({
  me: t.prismaField({
    type: UserRef,
    nullable: true,
    description:
      "The logged-in user; null when no access token is sent. A bad, expired or revoked token answers UNAUTHENTICATED (refresh, or log in again).",
    resolve: (query, _root, _args, ctx) => {
      if (ctx.tokenRejected) throw unauthenticated("Access token invalid or expired");
      return ctx.viewer ? ctx.app.db.user.findUnique({ ...query, where: { id: ctx.viewer.userId } }) : null;
    },
  }),
  user: t.withAuth({ viewer: true }).prismaField({
    type: UserRef,
    nullable: true,
    description: "A user by id; null when unknown.",
    args: { id: t.arg.id({ required: true, validate: rules.id }) },
    resolve: (query, _root, args, ctx) => ctx.app.db.user.findUnique({ ...query, where: { id: args.id } }),
  }),
  users: t.withAuth({ viewer: true }).connection(
    {
      type: UserRef,
      description:
        "The user directory: prefix and fuzzy (trigram) matches on username and display name, prefix matches first; everyone by username without a search. Never matches on email. `first` default 20, max 100.",
      args: { search: t.arg.string({ validate: rules.search }) },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, async ({ limit, offset }) => {
          const ids = await searchUserIds(ctx.app.db, ctx.viewer.userId, args.search ?? null, limit, offset);
          const users = await ctx.app.db.user.findMany({ where: { id: { in: ids } } });
          const byId = new Map(users.map((u) => [u.id, u]));
          return ids.flatMap((id) => byId.get(id) ?? []);
        }),
    },
    UserConnection,
  ),
}));

const UpdateProfileInput = builder.inputType("UpdateProfileInput", {
  description: "Omitted fields stay as they are; null clears a field that may be empty.",
  fields: (t) => ({
    firstName: t.string({ validate: rules.personName }),
    lastName: t.string({ validate: rules.personName }),
    displayName: t.string({ validate: rules.personName }),
    avatar: t.string({ validate: rules.url }),
    phoneNumber: t.string({ validate: rules.phoneNumber }),
    bio: t.string({ validate: rules.bio }),
    status: t.field({
      type: PresenceStatusEnum,
      validate: rules.chosenStatus,
      description: "ONLINE or AWAY, shown while you are connected. To appear offline, turn showOnlineStatus off.",
    }),
    language: t.string({ validate: rules.language }),
    timezone: t.string({ validate: rules.timezone }),
  }),
});

const UpdateSettingsInput = builder.inputType("UpdateSettingsInput", {
  description: "Omitted fields stay as they are.",
  fields: (t) =>
    Object.fromEntries(SETTINGS.map((k) => [k, t.boolean()])) as Record<(typeof SETTINGS)[number], ReturnType<typeof t.boolean>>,
});

builder.mutationFields((t) => ({
  updateProfile: t.withAuth({ viewer: true }).prismaField({
    type: UserRef,
    description: "Changes the viewer's profile; omitted fields stay as they are.",
    args: { input: t.arg({ type: UpdateProfileInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      await ctx.app.profiles.update(ctx.viewer.userId, input);
      return ctx.app.db.user.findUniqueOrThrow({ ...query, where: { id: ctx.viewer.userId } });
    },
  }),
  updateSettings: t.withAuth({ viewer: true }).field({
    type: UserSettingsRef,
    description:
      "Changes the viewer's settings; omitted fields stay as they are. Turning showOnlineStatus off shows you OFFLINE to everybody at once.",
    args: { input: t.arg({ type: UpdateSettingsInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.app.profiles.updateSettings(ctx.viewer.userId, input),
  }),
}));
