// Sample outbox items and throwaway outbox folders for the outbox tests and their child
// processes. Kept free of heavy imports: the SIGKILL suite starts hundreds of processes.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCHEMA_VERSION } from '../../shared/index.ts';
import type { OutboxItem } from '../../agent/core/outbox/index.ts';
import { usbBlockedData } from './usb-sample.ts';

/** A valid compliance report item with a fresh id. */
export function sampleReport(at = new Date('2026-11-23T09:00:00.000Z')): OutboxItem {
  const id = randomUUID();
  return {
    kind: 'report',
    id,
    payload: {
      schemaVersion: SCHEMA_VERSION,
      id,
      createdAt: at.toISOString(),
      policy: { name: 'pupil laptops', version: 3 },
      device: {
        hostname: 'pupil-lt-0042',
        os: {
          name: 'windows',
          distro: 'Microsoft Windows 11 Education',
          version: '10.0.22631',
          build: '22631',
          arch: 'x64',
        },
        model: 'ThinkPad L13 Gen 4',
        manufacturer: 'LENOVO',
        serial: 'PF3ABCDE',
        machineIdHash: 'a'.repeat(64),
        agentVersion: '0.1.0',
      },
      overall: 'pass',
      results: [
        {
          checkId: 'firewall',
          status: 'pass',
          summary: 'The firewall is on.',
          evidence: { enabled: true },
          measuredAt: at.toISOString(),
          durationMs: 12,
        },
      ],
    },
  };
}

/** A valid `usb.blocked` event item with a fresh id. */
export function sampleEvent(at = new Date('2026-11-23T09:00:00.000Z')): OutboxItem {
  const id = randomUUID();
  return {
    kind: 'event',
    id,
    payload: {
      schemaVersion: SCHEMA_VERSION,
      id,
      occurredAt: at.toISOString(),
      type: 'usb.blocked',
      data: usbBlockedData({ at: at.toISOString() }),
    },
  };
}

/** A fresh empty folder; remove it with `removeDir`. */
export function tempDir(prefix = 'hallpass-outbox-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes a folder made by `tempDir`. */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** File names in a folder, sorted. */
export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
