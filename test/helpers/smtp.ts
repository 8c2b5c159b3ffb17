import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { inbox } from "./changes.js";

/** A mail the {@link SmtpReceiver} got: its envelope recipients and its parsed content. */
export interface ReceivedMail {
  /** Envelope recipients (RCPT TO), lower-cased. */
  to: string[];
  from: string;
  subject: string;
  text: string;
}

/** A real SMTP server in the test process that keeps every mail it receives. */
export interface SmtpReceiver {
  /** `smtp://127.0.0.1:<port>`, for the app's SMTP_URL. */
  url: string;
  /** Every mail received so far, in order. */
  mails: ReceivedMail[];
  /** The next mail to `address` not yet taken by `nextMail` (waits up to `timeoutMs`, then rejects). */
  nextMail(address: string, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/**
 * Starts an SMTP server (the smtp-server package) on a free local port, without
 * TLS or authentication, parsing each mail with mailparser.
 */
export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const received = inbox<ReceivedMail>();
  const server = new SMTPServer({
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed: ParsedMail) => {
          received.add({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            subject: parsed.subject ?? "",
            text: parsed.text ?? "",
          });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;

  const nextMail = async (address: string, timeoutMs = 5000) => {
    const mail = await received.take((m) => m.to.includes(address.toLowerCase()), timeoutMs);
    if (!mail) throw new Error(`no mail to ${address} within ${timeoutMs} ms`);
    return mail;
  };

  return {
    url: `smtp://127.0.0.1:${port}`,
    mails: received.items,
    nextMail,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The token of the link `<origin><path>?token=<token>` in a mail's text; fails when there is none. */
export function tokenIn(mail: ReceivedMail, path: string): string {
  const match = new RegExp(`https?://\\S+${path}\\?token=([A-Za-z0-9_%-]+)`).exec(mail.text);
  if (!match) throw new Error(`no ${path} link in mail "${mail.subject}": ${mail.text}`);
  return decodeURIComponent(match[1]!);
}
