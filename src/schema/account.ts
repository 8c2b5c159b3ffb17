import { builder } from "./builder.js";
import { UserRef } from "./user.js";
import { rules } from "./validation.js";

builder.mutationFields((t) => ({
  changePassword: t.withAuth({ viewer: true }).boolean({
    description:
      "Sets a new password (8-128 characters) after checking the current one, and ends every other session of the viewer: their tokens stop working and their WebSockets close with 4403, on every node. This session stays. A wrong currentPassword is BAD_USER_INPUT on currentPassword.",
    args: { currentPassword: t.arg.string({ required: true }), newPassword: t.arg.string({ required: true, validate: rules.password }) },
    resolve: async (_root, args, ctx) => {
      await ctx.app.accounts.changePassword(ctx.viewer, args.currentPassword, args.newPassword);
      return true;
    },
  }),
  requestPasswordReset: t.boolean({
    description:
      "Mails a password-reset link (single use, valid 30 minutes by default) when an account has this email address. Always answers true, at once, whether or not one has, so accounts cannot be found out this way. Rate limited per client IP and per address.",
    args: { email: t.arg.string({ required: true, validate: rules.email }) },
    resolve: (_root, args, ctx) => {
      ctx.app.accounts.requestPasswordReset(args.email);
      return true;
    },
  }),
  resetPassword: t.boolean({
    description:
      "Sets a new password with the token of a reset link and ends EVERY session of the account (WebSockets close with 4403); log in afterwards. An unknown, used or expired token is BAD_USER_INPUT on token.",
    args: {
      token: t.arg.string({ required: true, validate: rules.accountToken }),
      newPassword: t.arg.string({ required: true, validate: rules.password }),
    },
    resolve: async (_root, args, ctx) => {
      await ctx.app.accounts.resetPassword(args.token, args.newPassword);
      return true;
    },
  }),
  verifyEmail: t.prismaField({
    type: UserRef,
    description:
      "Marks the email address verified with the token of a verification link (mailed on register and on changeEmail). Needs no login. An unknown, used or expired token, or one for an address the user no longer has, is BAD_USER_INPUT on token.",
    args: { token: t.arg.string({ required: true, validate: rules.accountToken }) },
    resolve: async (query, _root, args, ctx) => {
      const userId = await ctx.app.accounts.verifyEmail(args.token);
      return ctx.app.db.user.findUniqueOrThrow({ ...query, where: { id: userId } });
    },
  }),
  requestEmailVerification: t.withAuth({ viewer: true }).boolean({
    description: "Mails a new verification link to the viewer's address, unless it is verified already. Rate limited per user.",
    resolve: (_root, _args, ctx) => {
      ctx.app.accounts.sendVerification(ctx.viewer.userId);
      return true;
    },
  }),
  changeEmail: t.withAuth({ viewer: true }).prismaField({
    type: UserRef,
    description:
      "Changes the viewer's email address after checking the current password. The new address is unverified until the link mailed to it is followed; the old one gets a notice. BAD_USER_INPUT on currentPassword when wrong, on email when another account has it.",
    args: { email: t.arg.string({ required: true, validate: rules.email }), currentPassword: t.arg.string({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      await ctx.app.accounts.changeEmail(ctx.viewer, args.email, args.currentPassword);
      return ctx.app.db.user.findUniqueOrThrow({ ...query, where: { id: ctx.viewer.userId } });
    },
  }),
}));
