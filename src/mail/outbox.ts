import type { Logger } from "pino";
import type { Mail, Mailer } from "./mailer.js";

/**
 * Sends mails off the request path: a mutation that mails answers without
 * waiting for the SMTP server (or, with {@link post}'s `compose`, for the
 * look-ups that decide whether there is a mail at all), so its answer and its
 * timing are the same whatever the mail's fate. A failure is logged (error
 * level), never thrown to the caller. {@link drain} waits for what is under way
 * (shutdown; tests).
 */
export class Outbox {
  readonly #pending = new Set<Promise<void>>();

  constructor(
    private readonly mailer: Mailer,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs `compose` in the background and sends the mail it resolves; null: nothing to send.
   * Returns at once.
   */
  post(compose: () => Promise<Mail | null>): void {
    const task = (async () => {
      const mail = await compose();
      if (mail) await this.mailer.send(mail);
    })()
      .catch((err: unknown) => this.logger.error({ err }, "account mail failed"))
      .finally(() => this.#pending.delete(task));
    this.#pending.add(task);
  }

  /** Resolves once every mail posted so far is sent (or failed). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /** Waits for the mails under way, then closes the mailer. */
  async close(): Promise<void> {
    await this.drain();
    this.mailer.close();
  }
}
