import { describe, expect, it } from 'vitest';
import { NotificationPlanner, usbNotification } from '../../../agent/tray/notifications.ts';
import type { UsbDecision } from '../../../shared/index.ts';
import { result, statusWith } from './status-sample.ts';

function decision(overrides: Partial<UsbDecision> = {}): UsbDecision {
  return {
    at: '2026-12-05T09:00:00.000Z',
    device: {
      vendorId: '0781',
      productId: '5567',
      serial: '4C530001',
      name: 'SanDisk Cruzer Blade',
      kind: 'mass-storage',
    },
    action: 'blocked',
    basis: 'not-approved',
    mode: 'block',
    user: 'pupil1',
    approvalId: null,
    ...overrides,
  };
}

describe('NotificationPlanner', () => {
  it('is quiet on the first status and speaks only when a check turns to fail', () => {
    let now = 0;
    const planner = new NotificationPlanner({ now: () => now });
    expect(
      planner.fromStatus(statusWith([result('firewall', 'fail'), result('antivirus', 'pass')])),
    ).toEqual([]);
    now += 60_000;
    // Still failing: nothing new.
    expect(
      planner.fromStatus(statusWith([result('firewall', 'fail'), result('antivirus', 'pass')])),
    ).toEqual([]);
    now += 60_000;
    const turned = planner.fromStatus(
      statusWith([result('firewall', 'fail'), result('antivirus', 'fail')]),
    );
    expect(turned.map((n) => n.subject)).toEqual(['check:antivirus']);
    // warn or unknown is not a failure to notify about.
    expect(planner.fromStatus(statusWith([result('os-updates', 'pass')]))).toEqual([]);
    expect(planner.fromStatus(statusWith([result('os-updates', 'unknown')]))).toEqual([]);
  });

  it('uses pupil words by default and staff words with the remediation and a settings target', () => {
    const planner = new NotificationPlanner({ now: () => 0 });
    planner.fromStatus(statusWith([result('disk-encryption', 'pass')]));
    const [pupil] = planner.fromStatus(statusWith([result('disk-encryption', 'fail')]));
    expect(pupil?.body).toContain('You have not done anything wrong');
    expect(pupil?.body).not.toContain('Fix disk-encryption');
    expect(pupil?.checkId).toBeNull();

    const staffPlanner = new NotificationPlanner({ now: () => 0, role: 'staff' });
    staffPlanner.fromStatus(statusWith([result('disk-encryption', 'pass')]));
    const [staff] = staffPlanner.fromStatus(statusWith([result('disk-encryption', 'fail')]));
    expect(staff?.title).toBe('Disk encryption check failed');
    expect(staff?.body).toContain('Fix disk-encryption.');
    expect(staff?.checkId).toBe('disk-encryption');
  });

  it('tells one subject at most once per period, and no more than the burst in a window', () => {
    let now = 0;
    const planner = new NotificationPlanner({
      now: () => now,
      limits: { perSubjectMs: 30 * 60_000, burst: 3, windowMs: 10 * 60_000 },
    });
    // The same stick plugged in ten times in a minute: one notification.
    const told = Array.from({ length: 10 }, () => {
      now += 6000;
      return planner.fromUsbDecision(decision());
    }).filter((n) => n !== null);
    expect(told).toHaveLength(1);
    // Three other sticks fit the burst; a fourth in the same window does not.
    const others = ['1', '2', '3', '4'].map((serial) =>
      planner.fromUsbDecision(decision({ device: { ...decision().device, serial } })),
    );
    expect(others.filter((n) => n !== null)).toHaveLength(2);
    now += 31 * 60_000;
    expect(planner.fromUsbDecision(decision())).not.toBeNull();
  });

  it('a clock set back does not silence a subject for ever', () => {
    let now = 10 * 3600_000;
    const planner = new NotificationPlanner({ now: () => now });
    expect(planner.fromUsbDecision(decision())).not.toBeNull();
    now = 0;
    expect(planner.fromUsbDecision(decision())).not.toBeNull();
  });
});

describe('usbNotification', () => {
  it('says nothing when a device is let through', () => {
    expect(
      usbNotification(decision({ action: 'read-write', basis: 'approved' }), 'pupil'),
    ).toBeNull();
    expect(
      usbNotification(decision({ action: 'left-alone', basis: 'system-disk' }), 'staff'),
    ).toBeNull();
  });

  it('pupils are told to ask; staff get the ids ICT need to approve it', () => {
    expect(usbNotification(decision(), 'pupil')?.body).toBe(
      'The USB storage "SanDisk Cruzer Blade" has been blocked. It is not on the school\'s approved list. Ask a member of staff or ICT if you need to use it.',
    );
    expect(
      usbNotification(decision({ action: 'read-only', basis: 'approval-expired' }), 'staff'),
    ).toMatchObject({
      title: 'USB device is read-only',
      body: expect.stringContaining(
        'Its approval has run out. To approve it, ask ICT to add vendor 0781, product 5567, serial 4C530001.',
      ) as unknown,
    });
  });

  it('a device name that is long is cut, and the body stays bounded', () => {
    const long = decision({
      device: { ...decision().device, name: 'A'.repeat(200), serial: 'S'.repeat(200) },
    });
    const notification = usbNotification(long, 'staff');
    expect(notification?.body.length).toBeLessThanOrEqual(300);
    expect(notification?.body).not.toContain('A'.repeat(61));
  });
});
