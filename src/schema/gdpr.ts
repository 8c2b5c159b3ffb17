import { exportAccount } from "../users/export.js";
import { builder } from "./builder.js";
import { rules } from "./validation.js";

builder.queryField("exportMyData", (t) =>
  t.withAuth({ viewer: true }).field({
    type: "JSON",
    description:
      "Everything the server holds about the viewer, as one JSON object (GDPR art. 20, data portability): `profile`, `settings`, `contacts` (and requests, either way), `blocks`, `rooms` (id, name, type, role, joinedAt) and `messages`: every message the viewer sent, in any room (also rooms since left), with earlier versions and attachment metadata; never other people's messages. Dates are ISO-8601 strings.",
    resolve: (_root, _args, ctx) => exportAccount(ctx.app.db, ctx.app.encryption, ctx.viewer.userId),
  }),
);

builder.mutationField("deleteAccount", (t) =>
  t.withAuth({ viewer: true }).boolean({
    description:
      'Deletes the viewer\'s account for good (GDPR art. 17, erasure), once `password` is the account\'s: a wrong one is BAD_USER_INPUT on `password` and changes nothing. Every session ends (open WebSockets close with 4403, on every node). The profile is anonymised: name "Deleted user", `deleted` true; email, picture, phone, bio, settings, contacts, blocks, invites, notifications and unsent uploads are erased, and the username and email may be registered again. Messages stay where they were sent, shown as from "Deleted user". The viewer leaves every room (MemberLeft); in a room they own, ownership passes first to the longest-standing ADMIN, else the longest-standing member (MemberRoleChanged); a room with no other member is deleted. Logging in with the old credentials fails from then on.',
    args: { password: t.arg.string({ required: true, validate: rules.password }) },
    resolve: async (_root, args, ctx) => {
      await ctx.app.accountDeletion.delete(ctx.viewer, args.password);
      return true;
    },
  }),
);
