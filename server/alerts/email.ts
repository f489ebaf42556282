// Email delivery over real SMTP through nodemailer, with the server's SMTP settings (`smtpUrl`,
// `alertEmailFrom`). Time-outs on every stage, so an SMTP server that never answers costs a
// delivery attempt, not the job.
import nodemailer from 'nodemailer';
import type { AlertEmail } from './message.ts';

/** How long each SMTP stage may take. */
export const SMTP_TIMEOUT_MS = 15_000;

/** Addresses the destination form accepts: one plain address, no display name or list. */
export const EMAIL_ADDRESS = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+\.[^\s@<>,;:"()[\]\\]+$/;

/** Sends alert emails; one instance per server process. */
export class AlertMailer {
  readonly #transport: ReturnType<typeof nodemailer.createTransport> | null;
  readonly #from: string;

  constructor(smtpUrl: string | null, from: string) {
    this.#from = from;
    this.#transport =
      smtpUrl === null
        ? null
        : nodemailer.createTransport({
            url: smtpUrl,
            connectionTimeout: SMTP_TIMEOUT_MS,
            greetingTimeout: SMTP_TIMEOUT_MS,
            socketTimeout: SMTP_TIMEOUT_MS,
          } as Parameters<typeof nodemailer.createTransport>[0]);
  }

  /** True when the server has SMTP settings. */
  get configured(): boolean {
    return this.#transport !== null;
  }

  /** Sends one email; null when the SMTP server accepted it, else what went wrong in words. */
  async send(to: string, email: AlertEmail, deliveryId: string): Promise<string | null> {
    if (this.#transport === null) {
      return 'Email is not set up on this server: set smtpUrl (HALLPASS_SMTP_URL) in its configuration.';
    }
    if (!EMAIL_ADDRESS.test(to)) {
      return `${to} is not a valid email address.`;
    }
    try {
      const info: unknown = await this.#transport.sendMail({
        from: this.#from,
        to,
        subject: email.subject,
        text: email.text,
        html: email.html,
        headers: { 'X-Hallpass-Delivery': deliveryId },
      });
      const listed = (info as { rejected?: unknown }).rejected;
      const rejected = Array.isArray(listed) ? listed.map(String) : [];
      return rejected.length === 0
        ? null
        : `The mail server refused the recipient ${rejected.join(', ')}.`;
    } catch (error) {
      return smtpProblem(error, to);
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.#transport?.close();
  }
}

/** An SMTP failure in words (nodemailer's codes: ECONNECTION, ETIMEDOUT, EAUTH, EENVELOPE…). */
function smtpProblem(error: unknown, to: string): string {
  const e = error as {
    code?: unknown;
    responseCode?: unknown;
    response?: unknown;
    message?: unknown;
  };
  const message = typeof e.message === 'string' ? e.message : String(error);
  switch (e.code) {
    case 'ECONNECTION':
    case 'ESOCKET':
      return `The mail server could not be reached: ${message}`;
    case 'ETIMEDOUT':
      return 'The mail server did not answer in time.';
    case 'EAUTH':
      return 'The mail server refused the sign-in in smtpUrl: check its user name and password.';
    case 'EENVELOPE':
      return `The mail server refused the recipient ${to}: ${typeof e.response === 'string' ? e.response : message}`;
    default:
      return typeof e.responseCode === 'number'
        ? `The mail server refused the message (SMTP ${String(e.responseCode)}): ${typeof e.response === 'string' ? e.response : message}`
        : `Sending the email failed: ${message}`;
  }
}
