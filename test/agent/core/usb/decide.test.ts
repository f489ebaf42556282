import { describe, expect, it } from 'vitest';
import { decideUsb, nextExpiry, type UsbVerdict } from '../../../../agent/core/usb/decide.ts';
import type { ConsoleUser } from '../../../../agent/core/console-user/console-user.ts';
import type { UsbAllowEntry, UsbDevice, UsbPolicy } from '../../../../shared/index.ts';
import { UNIDENTIFIED_VENDOR_ID } from '../../../../agent/core/usb/unidentified.ts';

const NOW = new Date('2026-11-23T09:00:00.000Z');

const stick = (over: Partial<UsbDevice> = {}): UsbDevice => ({
  vendorId: '0781',
  productId: '5581',
  serial: '4C530001',
  name: 'SanDisk Ultra',
  kind: 'mass-storage',
  ...over,
});

const policy = (over: Partial<UsbPolicy> = {}): UsbPolicy => ({
  mode: 'block',
  allow: [],
  exempt: { users: [], groups: [] },
  ...over,
});

const entry = (over: Partial<UsbAllowEntry> = {}): UsbAllowEntry => ({
  vendorId: '0781',
  productId: '5581',
  serial: '4C530001',
  description: 'Exam stick',
  ...over,
});

const pupil: ConsoleUser = { name: 'pupil.0042', groups: ['pupils', 'year9'] };
const teacher: ConsoleUser = { name: 'j.smith', groups: ['staff', 'domain users'] };

const verdict = (
  action: UsbVerdict['action'],
  basis: UsbVerdict['basis'],
  approvalId: string | null = null,
) => ({
  action,
  basis,
  approvalId,
});

interface Case {
  name: string;
  device?: Partial<UsbDevice>;
  systemDisk?: boolean;
  policy: Partial<UsbPolicy>;
  user?: ConsoleUser | null;
  expected: UsbVerdict | null;
}

const cases: Case[] = [
  // Modes with nothing approved.
  {
    name: 'block: unknown stick blocked',
    policy: {},
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'read-only: unknown stick read-only',
    policy: { mode: 'read-only' },
    expected: verdict('read-only', 'not-approved'),
  },
  {
    name: 'audit: unknown stick allowed by mode',
    policy: { mode: 'audit' },
    expected: verdict('read-write', 'mode'),
  },
  {
    name: 'allow: unknown stick allowed by mode',
    policy: { mode: 'allow' },
    expected: verdict('read-write', 'mode'),
  },
  {
    name: 'nobody signed in: still blocked',
    policy: {},
    user: null,
    expected: verdict('blocked', 'not-approved'),
  },
  // The system disk, whatever the mode.
  {
    name: 'system disk left alone in block mode',
    systemDisk: true,
    policy: {},
    expected: verdict('left-alone', 'system-disk'),
  },
  {
    name: 'system disk left alone in allow mode',
    systemDisk: true,
    policy: { mode: 'allow' },
    expected: verdict('left-alone', 'system-disk'),
  },
  // Approvals.
  {
    name: 'exact serial approved, with its approval id',
    policy: { allow: [entry({ approvalId: 'apr-1' })] },
    expected: verdict('read-write', 'approved', 'apr-1'),
  },
  {
    name: 'approval without an id (hand-written policy)',
    policy: { allow: [entry()] },
    expected: verdict('read-write', 'approved'),
  },
  {
    name: 'approval in read-only mode gives read-write',
    policy: { mode: 'read-only', allow: [entry()] },
    expected: verdict('read-write', 'approved'),
  },
  {
    name: 'approval in audit mode is reported as approved',
    policy: { mode: 'audit', allow: [entry({ approvalId: 'apr-2' })] },
    expected: verdict('read-write', 'approved', 'apr-2'),
  },
  {
    name: 'vendor and product compared case-insensitively',
    policy: { allow: [entry({ vendorId: '0781', productId: '558A' })] },
    device: { productId: '558a' },
    expected: verdict('read-write', 'approved'),
  },
  {
    name: 'another serial of the same model is not approved',
    policy: { allow: [entry()] },
    device: { serial: '4C530002' },
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'serials compare exactly (case matters)',
    policy: { allow: [entry({ serial: '4c530001' })] },
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'a stick without a serial never matches an entry with one',
    policy: { allow: [entry()] },
    device: { serial: null },
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'model-only entry approves every serial of the model',
    policy: { allow: [entry({ serial: undefined, approvalId: 'model' })] },
    device: { serial: 'ANY-OTHER' },
    expected: verdict('read-write', 'approved', 'model'),
  },
  {
    name: 'model-only entry approves a stick without a serial',
    policy: { allow: [entry({ serial: undefined })] },
    device: { serial: null },
    expected: verdict('read-write', 'approved'),
  },
  {
    name: 'model-only entry does not approve another product',
    policy: { allow: [entry({ serial: undefined })] },
    device: { productId: '5583' },
    expected: verdict('blocked', 'not-approved'),
  },
  {
    // Bulk-bought sticks: one serial on two models; the entry names the model too.
    name: 'shared serial on another model is not approved',
    policy: { allow: [entry()] },
    device: { vendorId: '090c', productId: '1000' },
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'shared serial on the same model is approved (documented limit)',
    policy: { allow: [entry()] },
    device: { name: 'Another stick of the same batch' },
    expected: verdict('read-write', 'approved'),
  },
  // Expiry.
  {
    name: 'expired approval: approval-expired',
    policy: { allow: [entry({ expiresAt: '2026-11-23T08:59:59.999Z' })] },
    expected: verdict('blocked', 'approval-expired'),
  },
  {
    name: 'exactly at expiresAt the approval has expired',
    policy: { allow: [entry({ expiresAt: NOW.toISOString() })] },
    expected: verdict('blocked', 'approval-expired'),
  },
  {
    name: 'a millisecond before expiresAt it still approves',
    policy: { allow: [entry({ expiresAt: '2026-11-23T09:00:00.001Z', approvalId: 'exam' })] },
    expected: verdict('read-write', 'approved', 'exam'),
  },
  {
    name: 'expiresAt null: no expiry',
    policy: { allow: [entry({ expiresAt: null })] },
    expected: verdict('read-write', 'approved'),
  },
  {
    name: 'expired entry beside a live one: the live one approves',
    policy: {
      allow: [
        entry({ expiresAt: '2026-01-01T00:00:00Z', approvalId: 'old' }),
        entry({ serial: undefined, approvalId: 'model' }),
      ],
    },
    expected: verdict('read-write', 'approved', 'model'),
  },
  {
    name: 'expired approval in read-only mode: read-only, approval-expired',
    policy: { mode: 'read-only', allow: [entry({ expiresAt: '2026-01-01T00:00:00Z' })] },
    expected: verdict('read-only', 'approval-expired'),
  },
  {
    name: 'expired approval for another device does not change the basis',
    policy: { allow: [entry({ serial: 'OTHER', expiresAt: '2026-01-01T00:00:00Z' })] },
    expected: verdict('blocked', 'not-approved'),
  },
  // Exemptions.
  {
    name: 'exempt by user name',
    policy: { exempt: { users: ['j.smith'], groups: [] } },
    user: teacher,
    expected: verdict('read-write', 'exempt'),
  },
  {
    name: 'exempt by group, case-insensitively',
    policy: { exempt: { users: [], groups: ['Staff'] } },
    user: teacher,
    expected: verdict('read-write', 'exempt'),
  },
  {
    name: 'a pupil is not exempt by a staff group',
    policy: { exempt: { users: [], groups: ['staff'] } },
    user: pupil,
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'nobody signed in is never exempt',
    policy: { exempt: { users: ['j.smith'], groups: ['staff'] } },
    user: null,
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'exempt user with an expired approval: exempt wins',
    policy: {
      exempt: { users: [], groups: ['staff'] },
      allow: [entry({ expiresAt: '2026-01-01T00:00:00Z' })],
    },
    user: teacher,
    expected: verdict('read-write', 'exempt'),
  },
  {
    name: 'exempt user in read-only mode gets read-write',
    policy: { mode: 'read-only', exempt: { users: [], groups: ['staff'] } },
    user: teacher,
    expected: verdict('read-write', 'exempt'),
  },
  {
    name: 'approval beats exemption (the approval id is recorded)',
    policy: { exempt: { users: ['j.smith'], groups: [] }, allow: [entry({ approvalId: 'apr-3' })] },
    user: teacher,
    expected: verdict('read-write', 'approved', 'apr-3'),
  },
  {
    name: 'exempt user in audit mode: exempt',
    policy: { mode: 'audit', exempt: { users: ['j.smith'], groups: [] } },
    user: teacher,
    expected: verdict('read-write', 'exempt'),
  },
  // Unidentifiable devices.
  {
    name: 'unidentifiable device is blocked',
    policy: {},
    device: { vendorId: UNIDENTIFIED_VENDOR_ID, productId: '0000', serial: null },
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'unidentifiable device is never approved, even by a 0000:0000 entry',
    policy: { allow: [entry({ vendorId: '0000', productId: '0000', serial: undefined })] },
    device: { vendorId: UNIDENTIFIED_VENDOR_ID, productId: '0000', serial: null },
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'unidentifiable device: an exempt user still gets it',
    policy: { exempt: { users: ['j.smith'], groups: [] } },
    device: { vendorId: UNIDENTIFIED_VENDOR_ID, productId: '0000', serial: null },
    user: teacher,
    expected: verdict('read-write', 'exempt'),
  },
  // Phones and cameras (MTP/PTP).
  {
    name: 'portable media ignored by default',
    policy: {},
    device: { kind: 'portable-media' },
    expected: null,
  },
  {
    name: 'portable media ignored when portableMediaIsStorage is false',
    policy: { portableMediaIsStorage: false },
    device: { kind: 'portable-media' },
    expected: null,
  },
  {
    name: 'portable media judged as storage when the policy says so',
    policy: { portableMediaIsStorage: true },
    device: { kind: 'portable-media' },
    expected: verdict('blocked', 'not-approved'),
  },
  {
    name: 'portable media approved like a stick',
    policy: { portableMediaIsStorage: true, allow: [entry({ serial: undefined })] },
    device: { kind: 'portable-media' },
    expected: verdict('read-write', 'approved'),
  },
];

describe('decideUsb', () => {
  it.each(cases)('$name', (c) => {
    const storage = { device: stick(c.device), systemDisk: c.systemDisk ?? false };
    expect(
      decideUsb(storage, policy(c.policy), c.user === undefined ? pupil : c.user, NOW),
    ).toEqual(c.expected);
  });
});

describe('nextExpiry', () => {
  it('is the earliest expiry still to come', () => {
    const p = policy({
      allow: [
        entry({ expiresAt: '2026-11-23T08:00:00Z' }),
        entry({ expiresAt: '2026-11-23T12:00:00Z' }),
        entry({ expiresAt: '2026-11-23T10:00:00Z' }),
        entry({ expiresAt: null }),
        entry(),
      ],
    });
    expect(nextExpiry(p, NOW)?.toISOString()).toBe('2026-11-23T10:00:00.000Z');
  });

  it('is null when nothing expires later', () => {
    expect(
      nextExpiry(policy({ allow: [entry({ expiresAt: NOW.toISOString() })] }), NOW),
    ).toBeNull();
  });
});
