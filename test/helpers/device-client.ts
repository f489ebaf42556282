// A device as the server sees it: a real P-256 key, real signed requests over HTTP or inject.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import {
  SCHEMA_VERSION,
  type AgentEvent,
  type CheckResult,
  type ComplianceReport,
  type DeviceFacts,
} from '../../shared/index.ts';
import {
  generateDeviceKeyPair,
  signRequest,
  type SignedRequestHeaders as SignedHeaders,
} from '../../agent/core/http-signature/sign.ts';
import { usbBlockedData } from './usb-sample.ts';

/** Sample facts for a made-up school laptop. */
export function sampleFacts(overrides: Partial<DeviceFacts> = {}): DeviceFacts {
  return {
    hostname: `pupil-lt-${randomUUID().slice(0, 6)}`,
    os: {
      name: 'windows',
      distro: 'Microsoft Windows 11 Education',
      version: '10.0.22631',
      build: '22631',
      arch: 'x64',
    },
    model: 'ThinkPad L13 Gen 4',
    manufacturer: 'LENOVO',
    serial: `PF${randomUUID().slice(0, 8).toUpperCase()}`,
    machineIdHash: randomUUID().replaceAll('-', '').padEnd(64, '0'),
    agentVersion: '0.1.0',
    ...overrides,
  };
}

/** A check result for reports. */
export function result(
  checkId: CheckResult['checkId'],
  status: CheckResult['status'],
  at = new Date(),
): CheckResult {
  return {
    checkId,
    status,
    summary: `${checkId} is ${status}`,
    evidence: { sample: true },
    measuredAt: at.toISOString(),
    durationMs: 5,
    ...(status === 'unknown' ? { reason: { code: 'timeout' as const, detail: 'slow' } } : {}),
  };
}

/** A report with the given results. */
export function report(
  facts: DeviceFacts,
  results: CheckResult[],
  at = new Date(),
): ComplianceReport {
  const order = ['fail', 'unknown', 'warn', 'pass'] as const;
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    createdAt: at.toISOString(),
    policy: { name: 'Pupil laptops', version: 1 },
    device: facts,
    overall: order.find((s) => results.some((r) => r.status === s)) ?? 'pass',
    results,
  };
}

/** A usb.blocked event. */
export function usbBlocked(at = new Date()): AgentEvent {
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    occurredAt: at.toISOString(),
    type: 'usb.blocked',
    data: usbBlockedData({ serial: '4C53000', user: 'j.smith', at: at.toISOString() }),
  };
}

/** What a response looks like to a test. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: () => unknown;
}

/** Sends a request through `inject` (no socket) with an exact body. */
export async function send(
  app: FastifyInstance,
  method: 'GET' | 'POST',
  url: string,
  body: string | undefined,
  headers: Readonly<Record<string, string>> | SignedHeaders = {},
): Promise<Answer> {
  const response = await app.inject({
    method,
    url,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: body }),
  });
  return {
    status: response.statusCode,
    headers: response.headers as Answer['headers'],
    json: () => response.json(),
  };
}

/** An enrolled test device that signs its requests. */
export class TestDevice {
  readonly keys = generateDeviceKeyPair();
  readonly facts: DeviceFacts;
  id = '';
  constructor(facts: DeviceFacts = sampleFacts()) {
    this.facts = facts;
  }

  /** The SPKI DER public key, base64url, as enrolment sends it. */
  get publicKey(): string {
    return Buffer.from(
      this.keys.publicKeyPem.replace(/-----[^-]+-----|\s/g, ''),
      'base64',
    ).toString('base64url');
  }

  /** Enrols with a token; sets `id` on success. */
  async enrol(
    app: FastifyInstance,
    token: string,
    extra: { replaces?: string } = {},
  ): Promise<Answer> {
    const answer = await send(
      app,
      'POST',
      '/api/v1/enroll',
      JSON.stringify({
        schemaVersion: SCHEMA_VERSION,
        token,
        publicKey: this.publicKey,
        facts: this.facts,
        ...extra,
      }),
    );
    if (answer.status === 201) {
      this.id = (answer.json() as { deviceId: string }).deviceId;
    }
    return answer;
  }

  /** Enrols as the replacement of `old`, signed with old's current key (proof of possession). */
  async replace(app: FastifyInstance, old: TestDevice): Promise<Answer> {
    const body = JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      publicKey: this.publicKey,
      facts: this.facts,
      replaces: old.id,
    });
    const answer = await send(
      app,
      'POST',
      '/api/v1/enroll',
      body,
      old.sign('POST', '/api/v1/enroll', body),
    );
    if (answer.status === 201) {
      this.id = (answer.json() as { deviceId: string }).deviceId;
    }
    return answer;
  }

  /** Signed headers for a request, as the agent makes them. */
  sign(
    method: string,
    url: string,
    body: string,
    options: { now?: Date; keyId?: string; nonce?: string } = {},
  ) {
    return signRequest({
      method,
      url: new URL(url, 'http://hallpass.test'),
      body,
      keyId: options.keyId ?? this.id,
      privateKey: this.keys.privateKey,
      now: options.now ?? new Date(),
      ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    });
  }

  /** A signed request through inject. */
  signed(
    app: FastifyInstance,
    method: 'GET' | 'POST',
    url: string,
    body?: string,
    headers: Record<string, string> = {},
  ) {
    return send(app, method, url, body, { ...this.sign(method, url, body ?? ''), ...headers });
  }

  /** Posts a batch of reports and events. */
  postBatch(app: FastifyInstance, reports: ComplianceReport[], events: AgentEvent[] = []) {
    return this.signed(
      app,
      'POST',
      '/api/v1/reports',
      JSON.stringify({ schemaVersion: SCHEMA_VERSION, reports, events }),
    );
  }
}
