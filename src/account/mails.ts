import type { Mail } from "../mail/mailer.js";

/** The web app pages account mails link to, under the app's origin (config APP_URL). */
export const LINK_PATHS = { PASSWORD_RESET: "/reset-password", EMAIL_VERIFICATION: "/verify-email" } as const;

/** `<appUrl><path>?token=<secret>`; the page there sends the token to resetPassword or verifyEmail. */
export function linkTo(appUrl: string, path: string, secret: string): string {
  return `${appUrl}${path}?token=${encodeURIComponent(secret)}`;
}

/** Minutes, rounded up, for a mail's "valid for" line. */
const minutes = (ttlS: number) => Math.ceil(ttlS / 60);

/** The password-reset mail: the link, valid `ttlS` seconds, single use. */
export function passwordResetMail(to: string, link: string, ttlS: number): Mail {
  return {
    to,
    subject: "Reset your password",
    text: [
      "Someone (hopefully you) asked to reset the password of your chat account.",
      `To choose a new password, open this link within ${minutes(ttlS)} minutes (it works once):`,
      "",
      link,
      "",
      "Resetting the password logs out every device. If you did not ask for this, ignore this mail: your password stays as it is.",
    ].join("\n"),
  };
}

/** The verification mail to a new or changed address: the link, valid `ttlS` seconds, single use. */
export function verificationMail(to: string, link: string, ttlS: number): Mail {
  return {
    to,
    subject: "Verify your email address",
    text: [
      "Please confirm that this address belongs to your chat account by opening this link",
      `within ${minutes(ttlS)} minutes (it works once):`,
      "",
      link,
      "",
      "If you did not sign up or change your address, ignore this mail.",
    ].join("\n"),
  };
}

/** To the old address after an email change: a notice without any link, so its owner learns of a takeover. */
export function emailChangedMail(to: string, username: string): Mail {
  return {
    to,
    subject: "Your email address was changed",
    text: [
      `The email address of the chat account "${username}" was just changed and no longer is this one.`,
      "If you did not do this, reset your password and contact support.",
    ].join("\n"),
  };
}
