import { describe, expect, it } from 'vitest';
import { probeEnvironment, windowsRoot } from '../../../agent/core/probe-environment.ts';

// What a service started by someone with a hostile environment would have inherited.
const hostile: NodeJS.ProcessEnv = {
  PATH: '/home/pupil/bin:/usr/local/bin:/usr/bin',
  LD_PRELOAD: '/home/pupil/evil.so',
  APT_CONFIG: '/home/pupil/apt.conf',
  LANG: 'de_DE.UTF-8',
  PSModulePath: 'C:\\Users\\pupil\\Modules',
  SystemRoot: 'C:\\Windows',
  ProgramData: 'C:\\ProgramData',
  TEMP: 'C:\\Windows\\TEMP',
  SystemDrive: 'D:',
};

describe('probeEnvironment', () => {
  it.each(['linux', 'darwin'] as const)('%s: root-only PATH, C locale, nothing inherited', (os) => {
    expect(probeEnvironment(os, hostile)).toEqual({
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' },
      cwd: '/',
    });
  });

  it('windows: System32 PATH and only system variables; no PSModulePath', () => {
    const { env, cwd } = probeEnvironment('win32', hostile);
    expect(env.PATH).toBe(
      'C:\\Windows\\System32;C:\\Windows;C:\\Windows\\System32\\Wbem;' +
        'C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
    );
    expect(env).toMatchObject({
      SystemRoot: 'C:\\Windows',
      SystemDrive: 'C:',
      ProgramData: 'C:\\ProgramData',
    });
    expect(Object.keys(env)).not.toContain('PSModulePath');
    expect(Object.keys(env)).not.toContain('LD_PRELOAD');
    expect(cwd).toBe('C:\\Windows\\System32');
  });

  it.each([
    ['C:\\WINDOWS', 'C:\\WINDOWS'],
    ['D:\\Windows', 'D:\\Windows'],
    ['C:\\Windows;C:\\Users\\pupil\\bin', 'C:\\Windows'],
    ['%USERPROFILE%', 'C:\\Windows'],
    ['\\\\server\\share', 'C:\\Windows'],
    [undefined, 'C:\\Windows'],
  ])('windowsRoot(%s) = %s', (value, root) => {
    expect(windowsRoot({ SystemRoot: value })).toBe(root);
  });
});
