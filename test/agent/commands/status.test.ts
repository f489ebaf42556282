import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeUsbDecision, renderUsb, statusCommand } from '../../../agent/commands/status.ts';
import type { UsbDecision } from '../../../shared/index.ts';
import { serviceSocketForTest, unenrolledStatus } from '../../helpers/ipc-service.ts';
import { usbBlockedData } from '../../helpers/usb-sample.ts';

const decision = (over: Partial<UsbDecision> = {}): UsbDecision => {
  const { count: _count, firstAt: _firstAt, ...sample } = usbBlockedData();
  return { ...sample, ...over };
};

describe('hallpass status: the USB guard in plain words', () => {
  it.each([
    [
      decision(),
      'Blocked: SanDisk Ultra (0781:5581, serial 4C530001), because it is not on the approved list; user pupil.0042',
    ],
    [
      decision({ action: 'read-only', basis: 'approval-expired', mode: 'read-only' }),
      'Made read-only: SanDisk Ultra (0781:5581, serial 4C530001), because its approval has expired; user pupil.0042',
    ],
    [
      decision({ action: 'read-write', basis: 'approved', approvalId: 'apr-7', user: null }),
      'Allowed: SanDisk Ultra (0781:5581, serial 4C530001), because it is approved (apr-7); nobody signed in',
    ],
    [
      decision({ action: 'read-write', basis: 'exempt', user: 'j.smith' }),
      'Allowed: SanDisk Ultra (0781:5581, serial 4C530001), because the signed-in user is exempt; user j.smith',
    ],
    [
      decision({ action: 'read-write', basis: 'mode', mode: 'audit' }),
      'Allowed: SanDisk Ultra (0781:5581, serial 4C530001), because mode audit lets every device through; user pupil.0042',
    ],
    [
      decision({
        action: 'left-alone',
        basis: 'system-disk',
        device: { ...decision().device, serial: null },
      }),
      'Left alone: SanDisk Ultra (0781:5581, no serial), because the system runs from it; user pupil.0042',
    ],
  ])('%#: %s', (input, expected) => {
    expect(describeUsbDecision(input)).toBe(expected);
  });

  it('shows the mode, the problem and the ten newest decisions', () => {
    const recent = Array.from({ length: 12 }, (_, i) =>
      decision({ at: `2026-11-23T09:${String(59 - i).padStart(2, '0')}:00.000Z` }),
    );
    const lines = renderUsb({ mode: 'block', problem: 'could not list USB storage: EIO', recent });
    expect(lines.slice(0, 3)).toEqual([
      'USB guard: mode block (unapproved storage is blocked)',
      '  PROBLEM: could not list USB storage: EIO',
      '  Recent decisions, newest first:',
    ]);
    expect(lines[3]).toMatch(/^ {2}2026-11-23T09:59:00.000Z {2}Blocked: SanDisk Ultra/);
    expect(lines).toHaveLength(3 + 10 + 1);
    expect(lines.at(-1)).toBe('  … and 2 earlier (hallpass status --json)');
  });

  it('says when there are no decisions yet', () => {
    expect(renderUsb({ mode: 'audit', problem: null, recent: [] })).toEqual([
      'USB guard: mode audit (all storage is allowed and reported)',
      '  (no USB storage decisions yet)',
    ]);
  });
});

describe('hallpass status over a real socket', () => {
  const status = unenrolledStatus({
    trays: [{ user: 'pupil1', since: '2026-12-05T08:00:00.000Z' }],
  });

  it("proves who asks first: the service's own user sees the trays; with no proof possible, the status without them", async () => {
    const { folder, path: ipcPath } = await serviceSocketForTest({ status: () => status });
    let text = '';
    const write = (chunk: string) => {
      text += chunk;
    };
    expect(await statusCommand({ os: 'linux', ipcPath, json: false, write })).toBe(0);
    // The service's own user (this process) proves as privileged, like root on a device.
    expect(text).toContain('Trays connected:\n  pupil1 since 2026-12-05T08:00:00.000Z');
    // A proof folder that is gone (an older service): the proof fails, the status still comes.
    await rm(join(folder, 'agent.peers'), { recursive: true, force: true });
    text = '';
    expect(await statusCommand({ os: 'linux', ipcPath, json: true, write })).toBe(0);
    expect(JSON.parse(text)).not.toHaveProperty('trays');
  });
});
