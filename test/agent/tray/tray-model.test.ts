// The tray model's answers to windows: requests outside the channel map are refused, settings
// pages are for staff only and only the OS's own page for a check, and service answers and
// pushes turn into views and notifications.
import { describe, expect, it } from 'vitest';
import type { RemediationTarget } from '../../../agent/tray/remediation-targets.ts';
import { TrayModel } from '../../../agent/tray/tray-model.ts';
import type { TrayNotification } from '../../../agent/tray/notifications.ts';
import type { AgentStatus } from '../../../shared/index.ts';
import { result, statusWith } from './status-sample.ts';

function model(role: 'pupil' | 'staff' = 'pupil') {
  const opened: RemediationTarget[] = [];
  const notified: TrayNotification[] = [];
  const pushes: string[] = [];
  const tray = new TrayModel({
    os: 'windows',
    role,
    now: () => 0,
    openSettings: (target) => {
      opened.push(target);
      return Promise.resolve({ ok: true });
    },
    notify: (n) => notified.push(n),
    publish: (channel) => pushes.push(channel),
  });
  return { tray, opened, notified, pushes };
}

describe('TrayModel', () => {
  it.each([
    ['an unknown channel', { channel: 'shell:open', args: ['calc.exe'] }],
    ['a URL instead of a check id', { channel: 'settings:open', args: ['ms-settings:../x'] }],
    ['extra arguments', { channel: 'status:get', args: [1] }],
    ['extra keys', { channel: 'status:get', args: [], url: 'https://evil.example' }],
    ['not an object', 'status:get'],
  ])('refuses %s', async (_what, request) => {
    const { tray, opened } = model('staff');
    await expect(tray.handle(request)).rejects.toThrow(/^refused/);
    expect(opened).toEqual([]);
  });

  it('opens the OS page for a check only for staff', async () => {
    const pupil = model('pupil');
    expect(await pupil.tray.handle({ channel: 'settings:open', args: ['os-updates'] })).toEqual({
      ok: false,
      error: 'Only staff can open settings from Hallpass.',
    });
    expect(pupil.opened).toEqual([]);
    const staff = model('staff');
    expect(await staff.tray.handle({ channel: 'settings:open', args: ['os-updates'] })).toEqual({
      ok: true,
    });
    expect(staff.opened).toEqual([
      { kind: 'uri', uri: 'ms-settings:windowsupdate', label: 'Open Windows Update' },
    ]);
  });

  it('answers status from what the service said, and is unreachable without a service', async () => {
    const { tray, pushes } = model('staff');
    expect(await tray.handle({ channel: 'status:get', args: [] })).toMatchObject({
      connection: 'connecting',
      icon: 'unreachable',
      status: null,
    });
    const status: AgentStatus = statusWith([
      result('os-updates', 'fail'),
      result('agent-health', 'fail'),
    ]);
    const asked: string[] = [];
    tray.attach({
      request: (body) => {
        asked.push(body.channel);
        return Promise.resolve(status);
      },
    });
    tray.listener.state('connected', null);
    tray.listener.status(status);
    const view = await tray.handle({ channel: 'checks:run', args: [] });
    expect(asked).toEqual(['checks:run']);
    expect(view).toMatchObject({ connection: 'connected', icon: 'not-compliant' });
    // Staff buttons only where the OS has a page: none for Hallpass's own health.
    expect(view).toMatchObject({
      settings: [{ checkId: 'os-updates', label: 'Open Windows Update' }],
    });
    expect(pushes).toContain('status:changed');
  });

  it('notifies on a USB block pushed by the service, and on a check turning to fail', () => {
    const { tray, notified } = model();
    tray.listener.status(statusWith([result('firewall', 'pass')]));
    tray.listener.status(statusWith([result('firewall', 'fail')]));
    tray.listener.push({
      push: 'usb:decision',
      decision: {
        at: '2026-12-05T09:00:00.000Z',
        device: {
          vendorId: '0781',
          productId: '5567',
          serial: null,
          name: 'Stick',
          kind: 'mass-storage',
        },
        action: 'blocked',
        basis: 'not-approved',
        mode: 'block',
        user: null,
        approvalId: null,
      },
    });
    expect(notified.map((n) => n.subject)).toEqual(['check:firewall', 'usb:0781:5567:']);
  });

  describe('the AUP window’s requests', () => {
    const signature = {
      documentId: 'pupil-aup',
      textSha256: 'a'.repeat(64),
      acknowledged: [0, 1],
      fullName: 'Jo',
      tutorGroup: '3B',
      parentCarer: null,
    };
    // Records what reaches the prompt (agent/tray/aup-prompt.ts, tested against the real
    // service); what is under test here is what the model lets through.
    function withAup() {
      const reached: string[] = [];
      const answer = { ok: true as const, aup: { user: 'jo', documents: [] } };
      const tray = new TrayModel({
        os: 'linux',
        now: () => 0,
        openSettings: () => Promise.resolve({ ok: true }),
        notify: () => undefined,
        publish: () => undefined,
        aup: {
          pending: () => {
            reached.push('pending');
            return Promise.resolve(answer);
          },
          sign: (s) => {
            reached.push(`sign ${s.fullName}`);
            return Promise.resolve(answer);
          },
          decline: (d) => {
            reached.push(`decline ${d.documentId}`);
            return Promise.resolve(answer);
          },
        },
      });
      return { tray, reached };
    }

    it.each([
      ['a user the window names', { ...signature, user: 'headteacher' }],
      ['a hash that is not one', { ...signature, textSha256: 'abc' }],
      ['a name longer than the event holds', { ...signature, fullName: 'x'.repeat(201) }],
      ['a statement index out of range', { ...signature, acknowledged: [100] }],
    ])('refuses a signature with %s before the service hears of it', async (_what, sent) => {
      const { tray, reached } = withAup();
      await expect(tray.handle({ channel: 'aup:sign', args: [sent] })).rejects.toThrow(/^refused/);
      expect(reached).toEqual([]);
    });

    it('forwards valid requests, and says so when this tray cannot show the AUP', async () => {
      const { tray, reached } = withAup();
      await tray.handle({ channel: 'aup:pending', args: [] });
      await tray.handle({ channel: 'aup:sign', args: [signature] });
      await tray.handle({
        channel: 'aup:decline',
        args: [{ documentId: 'pupil-aup', textSha256: 'a'.repeat(64) }],
      });
      expect(reached).toEqual(['pending', 'sign Jo', 'decline pupil-aup']);
      expect(await model().tray.handle({ channel: 'aup:pending', args: [] })).toEqual({
        ok: false,
        error: 'This Hallpass window cannot show the AUP.',
      });
    });
  });
});
