import { describe, expect, it } from 'vitest';
import { iconView } from '../../../agent/tray/icon-state.ts';
import { result, statusWith } from './status-sample.ts';

describe('iconView', () => {
  const allPass = statusWith([result('firewall', 'pass'), result('disk-encryption', 'pass')]);

  it.each([
    ['connected, all pass', 'connected', allPass, 'compliant'],
    ['unreachable even with an old status', 'unreachable', allPass, 'unreachable'],
    ['connecting', 'connecting', allPass, 'unreachable'],
    ['no status yet', 'connected', null, 'unreachable'],
    [
      'one fail among passes and unknowns',
      'connected',
      statusWith([
        result('firewall', 'pass'),
        result('antivirus', 'unknown'),
        result('disk-encryption', 'fail'),
      ]),
      'not-compliant',
    ],
    [
      'an unknown is never a pass',
      'connected',
      statusWith([result('antivirus', 'unknown')]),
      'needs-attention',
    ],
    ['a warning', 'connected', statusWith([result('os-updates', 'warn')]), 'needs-attention'],
    ['no checks run yet', 'connected', statusWith([]), 'needs-attention'],
    [
      'a USB guard that cannot enforce',
      'connected',
      statusWith([result('firewall', 'pass')], {
        usb: { mode: 'block', problem: 'no udev', recent: [] },
      }),
      'needs-attention',
    ],
    [
      'passes that cannot be stored',
      'connected',
      statusWith([result('firewall', 'pass')], {
        passFailures: { count: 2, since: '2026-12-05T08:00:00.000Z', lastError: 'ENOSPC' },
      }),
      'needs-attention',
    ],
  ] as const)('%s → %s', (_what, connection, status, expected) => {
    expect(iconView(connection, status).state).toBe(expected);
  });

  it('names the failing checks and says how many in the tooltip', () => {
    const view = iconView(
      'connected',
      statusWith([result('disk-encryption', 'fail'), result('firewall', 'fail')]),
    );
    expect(view.checks).toEqual(['disk-encryption', 'firewall']);
    expect(view.tooltip).toBe('Hallpass: 2 problems to fix on this computer');
  });
});
