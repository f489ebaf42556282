// Webhook delivery: one POST of the JSON payload, signed with the destination's shared secret so
// the receiver can tell it came from this server and was not replayed later. The signature header
// (README, "Alerts") is `Hallpass-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { Agent, fetch, type Response } from 'undici';
import type { WebhookNetworks } from './webhook-network.ts';

/** The header names a receiver reads. */
export const SIGNATURE_HEADER = 'hallpass-signature';
export const DELIVERY_HEADER = 'hallpass-delivery';

/** How long a receiver has to answer, headers and all. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** The most of a refusal's body kept for the error shown to ICT. */
const ERROR_BODY_BYTES = 300;

/** `t=…,v1=…` over the timestamp and the exact body bytes. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret)
    .update(`${String(timestamp)}.${body}`)
    .digest('hex');
  return `t=${String(timestamp)},v1=${mac}`;
}

/** Reads at most `max` bytes of a response body and drops the rest unread. */
async function readSome(response: Response, max: number): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (reader === undefined) {
    return '';
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/** Why a request never got an answer, in words ICT can act on. */
function networkProblem(error: unknown, url: URL): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return `${url.host} did not answer within ${String(WEBHOOK_TIMEOUT_MS / 1000)} seconds.`;
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : '';
  switch (code) {
    case 'ECONNREFUSED':
      return `${url.host} refused the connection: nothing is listening there.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The name ${url.hostname} could not be found (DNS).`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `${url.host} closed the connection before answering.`;
    case 'EHALLPASSBLOCKED':
      return `Not sent: ${String(cause?.message)}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${url.host} cannot be reached from the server (no route).`;
    default: {
      if (cause?.message === 'bad port') {
        // The Fetch standard's "bad port" list (1, 25, 6000…): never sent to, whoever asks.
        return `Port ${url.port} is on the list of ports web requests may never use; give the receiver another port.`;
      }
      const detail = typeof cause?.message === 'string' ? cause.message : String(error);
      return `The request to ${url.host} failed: ${detail}`;
    }
  }
}

/**
 * Sends webhooks through one connection pool whose every connection is checked against the
 * networks webhooks may reach (webhook-network.ts).
 */
export class WebhookClient {
  readonly #networks: WebhookNetworks;
  readonly #agent: Agent;

  constructor(networks: WebhookNetworks) {
    this.#networks = networks;
    this.#agent = new Agent({ connect: { lookup: networks.lookup } });
  }

  /**
   * Why an address written as an IP (not a name) may not be sent to; null when it may or when
   * the host is a name, which is judged when it is looked up (a literal is connected to without).
   */
  literalRefusal(url: URL): string | null {
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    return isIP(literal) === 0 ? null : this.#networks.refusal(literal);
  }

  /**
   * POSTs a signed body; null when the receiver answered 2xx, else what went wrong in words.
   * Never throws, never follows a redirect, never reads more than a few hundred bytes of an
   * answer, never connects to an address the networks refuse.
   */
  async send(
    target: string,
    secret: string,
    deliveryId: string,
    body: string,
    now: Date,
  ): Promise<string | null> {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return 'The webhook address is not a valid URL.';
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return 'The webhook address must start with https:// or http://.';
    }
    const refused = this.literalRefusal(url);
    if (refused !== null) {
      return `Not sent: ${refused}`;
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Hallpass-Alerts/1',
          [DELIVERY_HEADER]: deliveryId,
          [SIGNATURE_HEADER]: signWebhook(secret, Math.floor(now.getTime() / 1000), body),
        },
        body,
      });
    } catch (error) {
      return networkProblem(error, url);
    }
    let text: string;
    try {
      text = await readSome(response, response.ok ? 0 : ERROR_BODY_BYTES);
    } catch (error) {
      if (response.ok) {
        // The answer was 2xx: the receiver has the message whatever happened to its body.
        return null;
      }
      return networkProblem(error, url);
    }
    if (response.ok) {
      return null;
    }
    if (response.status >= 300 && response.status < 400) {
      return `${url.host} answered with a redirect (HTTP ${String(response.status)}); webhooks do not follow redirects, so give the final address.`;
    }
    // eslint-disable-next-line no-control-regex
    const snippet = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    return `${url.host} answered HTTP ${String(response.status)}${snippet === '' ? '' : `: ${snippet}`}`;
  }

  /** Closes idle connections; sends after this fail. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}
