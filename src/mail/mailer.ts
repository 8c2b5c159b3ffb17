import nodemailer from "nodemailer";
import type { Logger } from "pino";
import type { Config } from "../config.js";

/** One plain-text mail. */
export interface Mail {
  /** One address. */
  to: string;
  subject: string;
  text: string;
}

/** Where mails go: an SMTP server, or the log (see {@link makeMailer}). */
export interface Mailer {
  /**
   * Hands `mail` over; resolves once the SMTP server accepted it (or it was logged or dropped).
   * @throws the transport's error (connection refused, recipient refused, …).
   */
  send(mail: Mail): Promise<void>;
  /** Closes the transport's pooled connections. */
  close(): void;
}

/** nodemailer's SMTP timeouts, ms: to connect, for the greeting, of an idle socket (its defaults: 2 min, 30 s, 10 min). */
export const SMTP_TIMEOUTS_MS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as const;

/**
 * The mailer of SMTP_URL (nodemailer, From MAIL_FROM). Without SMTP_URL: outside
 * production each mail is logged at info level, its text (links included) in
 * `mail.text`, so a developer can follow the links; in production mails are
 * dropped, with a warning now and one per mail naming only its subject, since
 * a logged link would let anyone who reads the logs take over the account.
 */
export function makeMailer(config: Pick<Config, "SMTP_URL" | "MAIL_FROM" | "NODE_ENV">, logger: Logger): Mailer {
  if (config.SMTP_URL) {
    // bounded, so a stuck SMTP server cannot hold a shutdown's outbox drain for nodemailer's default minutes
    const transport = nodemailer.createTransport({ url: config.SMTP_URL, ...SMTP_TIMEOUTS_MS });
    return {
      send: async (mail) => {
        await transport.sendMail({ from: config.MAIL_FROM, ...mail });
      },
      close: () => transport.close(),
    };
  }
  if (config.NODE_ENV === "production") {
    logger.warn("SMTP_URL is unset: account mails (password reset, email verification) are dropped, not sent");
    return {
      send: async (mail) => void logger.warn({ subject: mail.subject }, "mail dropped: SMTP_URL is unset"),
      close: () => {},
    };
  }
  return {
    send: async (mail) => void logger.info({ mail }, "mail not sent (SMTP_URL is unset): logged instead"),
    close: () => {},
  };
}
