import { builder } from "./builder.js";
import { rules } from "./validation.js";

builder.prismaObject("PushSubscription", {
  description: "A Web Push subscription of one of your sessions (devices).",
  fields: (t) => ({
    id: t.exposeID("id"),
    endpoint: t.exposeString("endpoint", { description: "The push service's URL for the device." }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was (last) registered." }),
    lastSentAt: t.expose("lastSentAt", {
      type: "DateTime",
      nullable: true,
      description: "When the push service last accepted a notification for it.",
    }),
  }),
});

const PushKeysInput = builder.inputType("PushSubscriptionKeysInput", {
  description: "The subscription's keys, as PushSubscription.toJSON() gives them (RFC 8291).",
  fields: (t) => ({
    p256dh: t.string({ required: true, validate: rules.pushP256dh, description: "P-256 public key, 65 bytes uncompressed, base64url." }),
    auth: t.string({ required: true, validate: rules.pushAuth, description: "Authentication secret, 16 bytes, base64url." }),
  }),
});

const RegisterPushSubscriptionInput = builder.inputType("RegisterPushSubscriptionInput", {
  fields: (t) => ({
    endpoint: t.string({ required: true, validate: rules.pushEndpoint, description: "The push service's URL; https in production." }),
    keys: t.field({ type: PushKeysInput, required: true }),
  }),
});

const RegisterPushSubscriptionPayload = builder.objectRef<{ subscription: { id: string } }>("RegisterPushSubscriptionPayload").implement({
  fields: (t) => ({
    subscription: t.prismaField({
      type: "PushSubscription",
      resolve: (query, payload, _args, ctx) =>
        ctx.app.db.pushSubscription.findUniqueOrThrow({ ...query, where: { id: payload.subscription.id } }),
    }),
  }),
});

builder.queryField("webPushPublicKey", (t) =>
  t.withAuth({ viewer: true }).string({
    nullable: true,
    description:
      "The server's VAPID public key (base64url), the `applicationServerKey` of the browser's pushManager.subscribe; null when push notifications are off.",
    resolve: (_root, _args, ctx) => (ctx.app.pushSubscriptions.enabled ? (ctx.app.config.VAPID_PUBLIC_KEY ?? null) : null),
  }),
);

builder.mutationFields((t) => ({
  registerPushSubscription: t.withAuth({ viewer: true }).field({
    type: RegisterPushSubscriptionPayload,
    description:
      "Registers this device's Web Push subscription for your current session: you get pushes for new messages while you have no live connection, and for mentions and direct messages always (unless the room is muted). It ends with the session (logout, revokeSession), with unregisterPushSubscription, and when the push service says it is gone. The same endpoint again moves it here. At most 10 per user: the oldest go. FORBIDDEN when push is off (webPushPublicKey null).",
    args: { input: t.arg({ type: RegisterPushSubscriptionInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ subscription: await ctx.app.pushSubscriptions.register(ctx.viewer, input) }),
  }),
  unregisterPushSubscription: t.withAuth({ viewer: true }).boolean({
    description: "Removes your subscription with this endpoint; false when you have none.",
    args: { endpoint: t.arg.string({ required: true, validate: rules.pushEndpoint }) },
    resolve: (_root, { endpoint }, ctx) => ctx.app.pushSubscriptions.unregister(ctx.viewer, endpoint),
  }),
}));
