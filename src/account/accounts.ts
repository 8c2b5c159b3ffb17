import { hashPassword, verifyPassword } from "../auth/passwords.js";
import type { Sessions, Viewer } from "../auth/sessions.js";
import type { PrismaClient } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { badInput } from "../errors.js";
import type { User } from "../generated/prisma/client.js";
import type { Outbox } from "../mail/outbox.js";
import { emailChangedMail, LINK_PATHS, linkTo, passwordResetMail, verificationMail } from "./mails.js";
import { accountTokens } from "./tokens.js";

/** The settings {@link Accounts} needs (config.ts). */
export interface AccountSettings {
  /** Origin of the web app the mails link to, without a trailing slash. */
  appUrl: string;
  /** Password-reset token lifetime in seconds. */
  passwordResetTtlS: number;
  /** Email-verification token lifetime in seconds. */
  emailVerificationTtlS: number;
}

/**
 * The account lifecycle around the password and the email address: change the
 * password, recover a lost one by mail, verify the address. Mails leave through
 * the {@link Outbox}, after the answer. Every password change ends sessions in
 * the same transaction that stores the new hash (Sessions.endAllIn), and their
 * sockets close with 4403 on every node once it has committed. Input shapes
 * (password length, email syntax) are checked by the schema (schema/validation.ts).
 */
export class Accounts {
  constructor(
    private readonly db: PrismaClient,
    private readonly sessions: Sessions,
    private readonly outbox: Outbox,
    private readonly settings: AccountSettings,
  ) {}

  /**
   * Sets the viewer's password to `newPassword` after checking `currentPassword`,
   * and ends every other session of the user; the caller's own stays. Reset links
   * still in the mailbox stop working.
   * @throws BAD_USER_INPUT on `currentPassword` when it is wrong (not
   * UNAUTHENTICATED: the caller's token is fine, and clients treat that code as "log in again").
   */
  async changePassword(viewer: Viewer, currentPassword: string, newPassword: string): Promise<void> {
    await this.checkPassword(viewer.userId, currentPassword);
    const passwordHash = await hashPassword(newPassword);
    const ended = await this.db.$transaction(async (tx) => {
      await tx.user.update({ where: { id: viewer.userId }, data: { passwordHash } });
      await accountTokens.spendAll(tx, viewer.userId, "PASSWORD_RESET");
      return this.sessions.endAllIn(tx, viewer.userId, viewer.sessionId);
    });
    await this.sessions.announceEnded(ended);
  }

  /**
   * Mails a password-reset link (valid passwordResetTtlS, single use) to `email`
   * when an account has that address; does nothing visible otherwise. Returns
   * before looking the address up, so the answer and its timing are the same
   * either way (no account enumeration). Rate limits: limits/rate-limits.ts.
   */
  requestPasswordReset(email: string): void {
    this.outbox.post(async () => {
      const user = await this.db.user.findUnique({ where: { email }, select: { id: true, email: true } });
      if (!user) return null;
      const secret = await accountTokens.issue(this.db, user.id, "PASSWORD_RESET", this.settings.passwordResetTtlS);
      return passwordResetMail(
        user.email,
        linkTo(this.settings.appUrl, LINK_PATHS.PASSWORD_RESET, secret),
        this.settings.passwordResetTtlS,
      );
    });
  }

  /**
   * Spends a password-reset token: sets `newPassword` and ends EVERY session of
   * the account (the caller is not logged in; whoever held a session may be the
   * reason for the reset). The account's other reset links stop working too.
   * @throws BAD_USER_INPUT on `token` when it is unknown, used or expired.
   */
  async resetPassword(token: string, newPassword: string): Promise<void> {
    const passwordHash = await hashPassword(newPassword);
    const ended = await this.db.$transaction(async (tx) => {
      const spent = await accountTokens.spend(tx, token, "PASSWORD_RESET");
      if (!spent) throw badInput("token", "This reset link is invalid, used or expired; ask for a new one");
      await tx.user.update({ where: { id: spent.userId }, data: { passwordHash } });
      await accountTokens.spendAll(tx, spent.userId, "PASSWORD_RESET");
      return this.sessions.endAllIn(tx, spent.userId);
    });
    await this.sessions.announceEnded(ended);
  }

  /** Mails a verification link for the user's current address (after register; requestEmailVerification), unless it is verified or the user is gone. Returns at once. */
  sendVerification(userId: string): void {
    this.outbox.post(async () => {
      const user = await this.db.user.findUnique({ where: { id: userId }, select: { email: true, emailVerifiedAt: true } });
      return !user || user.emailVerifiedAt ? null : this.verificationMailTo(userId, user.email);
    });
  }

  /**
   * Spends a verification token: the address it was mailed to becomes verified,
   * if it still is the user's. Resolves the user's id.
   * @throws BAD_USER_INPUT on `token` when it is unknown, used, expired, or for an address the user no longer has.
   */
  async verifyEmail(token: string): Promise<string> {
    return this.db.$transaction(async (tx) => {
      const spent = await accountTokens.spend(tx, token, "EMAIL_VERIFICATION");
      const { count } = spent
        ? await tx.user.updateMany({ where: { id: spent.userId, email: spent.email! }, data: { emailVerifiedAt: new Date() } })
        : { count: 0 };
      if (count !== 1) throw badInput("token", "This verification link is invalid, used or expired");
      return spent!.userId;
    });
  }

  /**
   * Changes the viewer's address to `email` (after checking `currentPassword`):
   * unverified until the link mailed there is followed; the old address gets a
   * notice without a link, and reset links mailed there stop working. The same
   * address again changes nothing.
   * @throws BAD_USER_INPUT on `currentPassword` when it is wrong, on `email` when another account has it.
   */
  async changeEmail(viewer: Viewer, email: string, currentPassword: string): Promise<void> {
    const before = await this.checkPassword(viewer.userId, currentPassword);
    if (before.email === email) return;
    await this.db
      .$transaction(async (tx) => {
        // reset links mailed to the old address stop working
        await accountTokens.spendAll(tx, viewer.userId, "PASSWORD_RESET");
        await tx.user.update({ where: { id: viewer.userId }, data: { email, emailVerifiedAt: null } });
      })
      .catch((e: unknown) => {
        if (isUniqueViolation(e, "email")) throw badInput("email", "Email address is already registered");
        throw e;
      });
    this.outbox.post(async () => emailChangedMail(before.email, before.username));
    this.outbox.post(() => this.verificationMailTo(viewer.userId, email));
  }

  private async verificationMailTo(userId: string, email: string) {
    const { emailVerificationTtlS: ttlS } = this.settings;
    const secret = await accountTokens.issue(this.db, userId, "EMAIL_VERIFICATION", ttlS, email);
    return verificationMail(email, linkTo(this.settings.appUrl, LINK_PATHS.EMAIL_VERIFICATION, secret), ttlS);
  }

  /**
   * The user, once `password` is theirs.
   * @throws BAD_USER_INPUT on `currentPassword` when it is not.
   */
  private async checkPassword(userId: string, password: string): Promise<User> {
    const user = await this.db.user.findUniqueOrThrow({ where: { id: userId } });
    if (!(await verifyPassword(user.passwordHash, password))) throw badInput("currentPassword", "The current password is wrong");
    return user;
  }
}
