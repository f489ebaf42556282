import { describe, expect, it } from 'vitest';
import { remediationTarget, type OsName } from '../../../agent/tray/remediation-targets.ts';
import { CheckIdSchema, type CheckId } from '../../../shared/index.ts';

const CHECK_IDS: CheckId[] = CheckIdSchema.anyOf.map((literal) => literal.const);
const OSES: OsName[] = ['windows', 'darwin', 'linux'];

describe('remediationTarget', () => {
  it.each([
    ['windows', 'disk-encryption', 'ms-settings:deviceencryption'],
    ['windows', 'os-updates', 'ms-settings:windowsupdate'],
    ['windows', 'antivirus', 'ms-settings:windowsdefender'],
    ['windows', 'screen-lock', 'ms-settings:signinoptions'],
    [
      'darwin',
      'os-updates',
      'x-apple.systempreferences:com.apple.Software-Update-Settings.extension',
    ],
    ['darwin', 'screen-lock', 'x-apple.systempreferences:com.apple.Lock-Screen-Settings.extension'],
  ] as const)('%s %s opens %s', (os, checkId, uri) => {
    expect(remediationTarget(os, checkId)).toMatchObject({ kind: 'uri', uri });
  });

  it('GNOME panels are fixed commands with fixed arguments', () => {
    expect(remediationTarget('linux', 'screen-lock')).toMatchObject({
      kind: 'command',
      command: 'gnome-control-center',
      args: ['screen'],
    });
    expect(remediationTarget('linux', 'os-updates')).toMatchObject({
      command: 'gnome-software',
      args: ['--mode', 'updates'],
    });
  });

  it('every check on every OS has an answer, and only settings schemes or known commands', () => {
    for (const os of OSES) {
      for (const checkId of CHECK_IDS) {
        const target = remediationTarget(os, checkId);
        if (target === null) {
          continue;
        }
        if (target.kind === 'uri') {
          expect(target.uri).toMatch(
            os === 'windows' ? /^ms-settings:[a-z-]+$/ : /^x-apple\.systempreferences:/,
          );
        } else {
          expect(['gnome-control-center', 'gnome-software']).toContain(target.command);
        }
        expect(target.label).toMatch(/^Open /);
      }
    }
    expect(CHECK_IDS).toHaveLength(6);
    // Hallpass's own health has no OS page anywhere: it is ICT's to fix.
    expect(OSES.map((os) => remediationTarget(os, 'agent-health'))).toEqual([null, null, null]);
  });
});
