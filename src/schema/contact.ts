import type { ContactJson } from "../realtime/topics.js";
import type { ContactRequestView } from "../users/contacts.js";
import { builder } from "./builder.js";
import { load, ok } from "./load.js";
import { UserConnection, UserRef } from "./user.js";
import { rules } from "./validation.js";

/** A contact request as stored (Dates) or as carried on the bus (ISO strings). */
export type ContactRequestShape = ContactRequestView | (ContactJson & { kind?: "ContactRequest" });

const ContactRequestStatus = builder.enumType("ContactRequestStatus", {
  values: {
    PENDING: {},
    ACCEPTED: { description: "The two are contacts" },
    DECLINED: { description: "Returned once by respondToContactRequest; not stored" },
  } as const,
});
const ContactRequestDirection = builder.enumType("ContactRequestDirection", { values: ["INCOMING", "OUTGOING"] as const });

export const ContactRequestRef = builder.objectRef<ContactRequestShape>("ContactRequest").implement({
  description:
    "A request to become contacts; once ACCEPTED, the contact itself. Also a myEvents event: to the addressee when sent, to the requester when accepted.",
  fields: (t) => ({
    id: t.exposeID("id"),
    from: t.prismaField({ type: "User", resolve: (query, c, _args, ctx) => load.user(ctx, query, c.fromId) }),
    to: t.prismaField({ type: "User", resolve: (query, c, _args, ctx) => load.user(ctx, query, c.toId) }),
    status: t.field({ type: ContactRequestStatus, resolve: (c) => c.status }),
    createdAt: t.field({ type: "DateTime", resolve: (c) => c.createdAt }),
    respondedAt: t.field({ type: "DateTime", nullable: true, resolve: (c) => c.respondedAt }),
  }),
});

builder.queryFields((t) => ({
  contacts: t.withAuth({ viewer: true }).prismaConnection(
    {
      type: "User",
      cursor: "id",
      description: "The viewer's contacts, by username.",
      resolve: (query, _root, _args, ctx) => {
        const me = ctx.viewer.userId;
        return ctx.app.db.user.findMany({
          ...query,
          where: {
            OR: [
              { contactsSent: { some: { toId: me, status: "ACCEPTED" } } },
              { contactsReceived: { some: { fromId: me, status: "ACCEPTED" } } },
            ],
          },
          orderBy: [{ username: "asc" }, { id: "asc" }],
        });
      },
    },
    UserConnection,
  ),
  contactRequests: t.withAuth({ viewer: true }).field({
    type: [ContactRequestRef],
    description: "Pending contact requests to the viewer (INCOMING, the default) or from the viewer (OUTGOING), newest first.",
    args: { direction: t.arg({ type: ContactRequestDirection, defaultValue: "INCOMING" }) },
    resolve: (_root, args, ctx) => {
      const me = ctx.viewer.userId;
      return ctx.app.db.contact.findMany({
        where: { status: "PENDING", ...(args.direction === "OUTGOING" ? { fromId: me } : { toId: me }) },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      });
    },
  }),
  blockedUsers: t.withAuth({ viewer: true }).prismaField({
    type: [UserRef],
    description: "Users the viewer has blocked, by username.",
    resolve: (query, _root, _args, ctx) =>
      ctx.app.db.user.findMany({
        ...query,
        where: { blockedBy: { some: { blockerId: ctx.viewer.userId } } },
        orderBy: { username: "asc" },
      }),
  }),
}));

builder.mutationFields((t) => {
  const userId = () => t.arg.id({ required: true, validate: rules.id });
  return {
    sendContactRequest: t.withAuth({ viewer: true }).field({
      type: ContactRequestRef,
      description: "Asks a user to become a contact. Asking again returns the pending request; if they already asked you, you accept it.",
      args: { userId: userId() },
      resolve: (_root, args, ctx) => ctx.app.contacts.request(ctx.viewer.userId, args.userId),
    }),
    respondToContactRequest: t.withAuth({ viewer: true }).field({
      type: ContactRequestRef,
      description: "Accepts or declines a pending request addressed to the viewer.",
      args: { id: t.arg.id({ required: true, validate: rules.id }), accept: t.arg.boolean({ required: true }) },
      resolve: (_root, args, ctx) => ctx.app.contacts.respond(ctx.viewer.userId, args.id, args.accept),
    }),
    removeContact: t.withAuth({ viewer: true }).boolean({
      description: "Ends a contact, or withdraws a pending request (idempotent).",
      args: { userId: userId() },
      resolve: (_root, args, ctx) => ok(ctx.app.contacts.remove(ctx.viewer.userId, args.userId)),
    }),
    blockUser: t.withAuth({ viewer: true }).boolean({
      description:
        "Blocks a user (idempotent): ends any contact, and they can no longer open or write in a direct room with you, see your presence, or invite you.",
      args: { userId: userId() },
      resolve: (_root, args, ctx) => ok(ctx.app.contacts.block(ctx.viewer.userId, args.userId)),
    }),
    unblockUser: t.withAuth({ viewer: true }).boolean({
      description: "Lifts a block (idempotent).",
      args: { userId: userId() },
      resolve: (_root, args, ctx) => ok(ctx.app.contacts.unblock(ctx.viewer.userId, args.userId)),
    }),
  };
});
