// Real receivers of alerts on loopback: an HTTP server that checks each webhook's signature as the
// README tells a receiver to, and an SMTP server (the `smtp-server` package) whose messages are
// parsed with `mailparser`.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One webhook request as received, and whether its signature held. */
export interface ReceivedWebhook {
  body: string;
  json: unknown;
  deliveryId: string | undefined;
  timestamp: number;
  signatureValid: boolean;
}

/** What the receiver does with the next request: answer with a status (and body), or never answer. */
export type Behaviour = { status: number; body?: string } | 'hang';

/**
 * Verifies `Hallpass-Signature: t=<seconds>,v1=<hex>` as the README says: HMAC-SHA256 with the
 * shared secret over `<t>.<raw body>`, compared in constant time.
 */
export function verifySignature(secret: string, header: string | undefined, body: string) {
  const parts = new Map(
    (header ?? '').split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at), part.slice(at + 1)] as const;
    }),
  );
  const t = parts.get('t') ?? '';
  const v1 = Buffer.from(parts.get('v1') ?? '', 'hex');
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return {
    timestamp: Number(t),
    valid: /^\d+$/.test(t) && v1.length === expected.length && timingSafeEqual(v1, expected),
  };
}

/** A webhook receiver on 127.0.0.1; `secret` is set once the destination is created. */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Answers for the next requests, in order; 200 once they run out. */
  readonly script: Behaviour[] = [];
  secret = '';
  url = '';
  readonly #server = createServer((request, response) => {
    this.#handle(request, response);
  });
  readonly #hanging: ServerResponse[] = [];

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${String(port)}/hooks/hallpass`;
    return this;
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = request.headers['hallpass-signature'];
      const check = verifySignature(
        this.secret,
        typeof header === 'string' ? header : undefined,
        body,
      );
      this.received.push({
        body,
        json: JSON.parse(body) as unknown,
        deliveryId: request.headers['hallpass-delivery'] as string | undefined,
        timestamp: check.timestamp,
        signatureValid: check.valid,
      });
      const next = this.script.shift() ?? { status: 200 };
      if (next === 'hang') {
        this.#hanging.push(response);
        return;
      }
      response.writeHead(next.status, { 'content-type': 'text/plain' });
      response.end(next.body ?? '');
    });
  }

  async close(): Promise<void> {
    for (const response of this.#hanging) {
      response.destroy();
    }
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}

/** An SMTP server on 127.0.0.1 keeping each message, parsed. */
export class SmtpReceiver {
  readonly messages: (ParsedMail & { envelopeTo: string[] })[] = [];
  /** Recipients the server refuses at RCPT TO. */
  readonly refuse = new Set<string>();
  url = '';
  readonly #server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo: (address, _session, callback) => {
      if (this.refuse.has(address.address)) {
        const error = new Error('mailbox unavailable') as Error & { responseCode: number };
        error.responseCode = 550;
        callback(error);
        return;
      }
      callback();
    },
    onData: (stream, session, callback) => {
      simpleParser(stream).then(
        (parsed) => {
          this.messages.push(
            Object.assign(parsed, {
              envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            }),
          );
          callback();
        },
        (error: unknown) => {
          callback(error as Error);
        },
      );
    },
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.server.address() as AddressInfo;
    this.url = `smtp://127.0.0.1:${String(port)}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}
