// The items the power-cut test writes, each derived entirely from its id, so the host can
// tell what an item the guest read back must contain without being told. Shared by the guest
// writer (bundled into the guest) and the test on the host.
import { createHash } from 'node:crypto';
import { SCHEMA_VERSION } from '../../../shared/index.ts';
import type { OutboxItem } from '../../../agent/core/outbox/index.ts';
import { usbBlockedData } from '../usb-sample.ts';

const AT = '2026-11-23T09:00:00.000Z';

/**
 * The item for an id: about a third are events (a few hundred bytes); the rest are reports
 * padded to between 0 and 252 KiB, so a write spans many disk blocks and a reset can tear it.
 */
export function powerCutItem(id: string): OutboxItem {
  const digest = createHash('sha256').update(id).digest();
  const pick = digest.readUInt16BE(0);
  if (pick % 3 === 0) {
    return {
      kind: 'event',
      id,
      payload: {
        schemaVersion: SCHEMA_VERSION,
        id,
        occurredAt: AT,
        type: 'usb.blocked',
        data: usbBlockedData({ serial: digest.toString('hex', 2, 10), at: AT }),
      },
    };
  }
  const padding = digest
    .toString('hex')
    .repeat(Math.ceil(((pick % 64) * 4096) / 64))
    .slice(0, (pick % 64) * 4096);
  return {
    kind: 'report',
    id,
    payload: {
      schemaVersion: SCHEMA_VERSION,
      id,
      createdAt: AT,
      policy: { name: 'pupil laptops', version: 3 },
      device: {
        hostname: 'pupil-lt-0042',
        os: {
          name: 'linux',
          distro: 'Debian GNU/Linux 12',
          version: '12',
          build: '12',
          arch: 'x64',
        },
        model: 'ThinkPad L13 Gen 4',
        manufacturer: 'LENOVO',
        serial: 'PF3ABCDE',
        machineIdHash: digest.toString('hex'),
        agentVersion: '0.1.0',
      },
      overall: 'pass',
      results: [
        {
          checkId: 'firewall',
          status: 'pass',
          summary: 'The firewall is on.',
          evidence: { enabled: true, padding },
          measuredAt: AT,
          durationMs: 12,
        },
      ],
    },
  };
}

/** A fingerprint of an item's kind, id and payload, compared instead of sending the payload. */
export function itemFingerprint(item: OutboxItem): string {
  return createHash('sha256')
    .update(`${item.kind}\n${item.id}\n${JSON.stringify(item.payload)}`)
    .digest('hex');
}

/** A UUID-shaped id (version 4 layout) from 16 bytes. */
export function idFromBytes(bytes: Buffer): string {
  const hex = Buffer.from(bytes).toString('hex');
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `4${hex.slice(13, 16)}`,
    `${'89ab'[Number.parseInt(hex.charAt(16), 16) % 4] ?? '8'}${hex.slice(17, 20)}`,
    hex.slice(20, 32),
  ].join('-');
}
