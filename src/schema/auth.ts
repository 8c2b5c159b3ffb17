import type { AuthResult } from "../auth/sessions.js";
import type { Context } from "../context.js";
import { badInput } from "../errors.js";
import { builder } from "./builder.js";
import { UserRef } from "./user.js";
import { rules } from "./validation.js";

const AuthPayload = builder.objectRef<AuthResult>("AuthPayload").implement({
  description:
    "Tokens for a session. Send `Authorization: Bearer <accessToken>`; before `expiresAt`, trade the refreshToken for a new pair.",
  fields: (t) => ({
    accessToken: t.exposeString("accessToken", { description: "JWT (HS256), short-lived (15 min by default)." }),
    refreshToken: t.exposeString("refreshToken", { description: "Opaque, single use: refreshToken rotates it." }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", description: "When accessToken expires." }),
    user: t.field({ type: UserRef, resolve: (auth) => auth.user }),
  }),
});

const DeviceType = builder.enumType("DeviceType", { values: ["WEB", "MOBILE", "DESKTOP", "UNKNOWN"] as const });

builder.prismaObject("Session", {
  description: "A logged-in device.",
  fields: (t) => ({
    id: t.exposeID("id"),
    deviceId: t.exposeString("deviceId", { nullable: true }),
    deviceType: t.field({ type: DeviceType, nullable: true, resolve: (s) => s.deviceType as (typeof DeviceType)["$inferType"] | null }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", description: "Last login or token refresh." }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", description: "When its refresh token expires." }),
    current: t.boolean({
      description: "The session of the access token making this request.",
      resolve: (s, _args, ctx) => s.id === ctx.viewer?.sessionId,
    }),
  }),
});

builder.queryField("mySessions", (t) =>
  t.withAuth({ viewer: true }).prismaField({
    type: ["Session"],
    description: "The viewer's live sessions, newest first.",
    resolve: (query, _root, _args, ctx) =>
      ctx.app.db.session.findMany({
        ...query,
        where: { userId: ctx.viewer.userId, revokedAt: null, expiresAt: { gt: new Date() } },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      }),
  }),
);

const RegisterInput = builder.inputType("RegisterInput", {
  fields: (t) => ({
    username: t.string({ required: true, validate: rules.username }),
    email: t.string({ required: true, validate: rules.email }),
    password: t.string({ required: true, validate: rules.password }),
    firstName: t.string({ required: true, validate: rules.personName }),
    lastName: t.string({ required: true, validate: rules.personName }),
    phoneNumber: t.string({ validate: rules.phoneNumber }),
    bio: t.string({ validate: rules.bio }),
  }),
});

const LoginInput = builder.inputType("LoginInput", {
  description: "Give exactly one of email or username.",
  fields: (t) => ({
    email: t.string({ validate: rules.login }),
    username: t.string({ validate: rules.login }),
    password: t.string({ required: true }),
    deviceId: t.string({ validate: rules.deviceId, description: "A stable id of this device or browser, e.g. web_<random>." }),
    deviceType: t.field({ type: DeviceType }),
  }),
});

/** After a successful login the caller is that user for the rest of the operation (e.g. `user { email }`). */
async function actAs(ctx: Context, result: Promise<AuthResult>): Promise<AuthResult> {
  const auth = await result;
  ctx.viewer = { userId: auth.user.id, sessionId: auth.sessionId };
  return auth;
}

builder.mutationFields((t) => ({
  register: t.field({
    type: AuthPayload,
    description: "Creates an account and logs it in, and mails a link to verify the email address (verifyEmail).",
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const auth = await actAs(ctx, ctx.app.sessions.register(input));
      ctx.app.accounts.sendVerification(auth.user.id);
      return auth;
    },
  }),
  login: t.field({
    type: AuthPayload,
    description: "Opens a session for this device. Wrong credentials give UNAUTHENTICATED.",
    args: { input: t.arg({ type: LoginInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const login = input.email ?? input.username;
      if (!login || (input.email && input.username)) throw badInput("input.email", "Give exactly one of email or username");
      return actAs(ctx, ctx.app.sessions.login({ ...input, login }));
    },
  }),
  refreshToken: t.field({
    type: AuthPayload,
    description: "Rotates a refresh token. Reusing an already-rotated token revokes its session.",
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => actAs(ctx, ctx.app.sessions.refresh(args.refreshToken)),
  }),
  revokeSession: t.withAuth({ viewer: true }).boolean({
    description:
      "Ends one of the viewer's sessions (e.g. a lost device): its tokens stop working and its open WebSockets close with 4403, on every node.",
    args: { id: t.arg.id({ required: true, validate: rules.id }) },
    resolve: async (_root, args, ctx) => {
      await ctx.app.sessions.revoke(ctx.viewer, args.id);
      return true;
    },
  }),
  logout: t.withAuth({ viewer: true }).boolean({
    description: "Ends the current session: its access and refresh tokens stop working.",
    resolve: async (_root, _args, ctx) => {
      await ctx.app.sessions.logout(ctx.viewer);
      return true;
    },
  }),
}));
