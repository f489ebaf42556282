// The environment every probe command runs in, whatever started the service (issue 12): a PATH
// of folders only root (or SYSTEM) can write, so a fake `nft` or `lsblk` early on an inherited
// PATH is never run, and no inherited variable (LD_PRELOAD, APT_CONFIG, PSModulePath, LANG …)
// changes what a command does or prints.

/** Where and with what environment a probe command runs. */
export interface ProbeEnvironment {
  env: Record<string, string>;
  cwd: string;
}

/**
 * Root-only folders on Linux and macOS. Not /usr/local/*: on Debian it was group `staff`
 * writable for years (setgid 2775), and on a Mac Homebrew makes /usr/local/bin the admin
 * user's. Every command a probe names by bare name lives in these four.
 */
export const UNIX_PROBE_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The C locale: the Unix parsers match English words (`Status: active`, `not permitted`,
 * `Inst …` from apt-get, `assessments enabled`), which translations would change.
 */
const UNIX_LOCALE = { LANG: 'C', LC_ALL: 'C' } as const;

/**
 * Windows variables kept from the service's own environment (the Service Control Manager gives
 * SYSTEM the machine environment): without SystemRoot, Winsock and .NET fail inside PowerShell,
 * and PowerShell wants its profile folders. PSModulePath is deliberately not kept: without it
 * PowerShell 5.1 uses its default module folders (System32 and Program Files, admin-only), so no
 * inherited folder can shadow Get-BitLockerVolume or Get-MpComputerStatus.
 */
const WINDOWS_KEPT = [
  'ALLUSERSPROFILE',
  'APPDATA',
  'CommonProgramFiles',
  'CommonProgramFiles(x86)',
  'CommonProgramW6432',
  'COMPUTERNAME',
  'LOCALAPPDATA',
  'NUMBER_OF_PROCESSORS',
  'OS',
  'PROCESSOR_ARCHITECTURE',
  'ProgramData',
  'ProgramFiles',
  'ProgramFiles(x86)',
  'ProgramW6432',
  'TEMP',
  'TMP',
  'USERDOMAIN',
  'USERNAME',
  'USERPROFILE',
] as const;

/** A Windows folder path without anything that could splice in another PATH entry. */
const WINDOWS_ROOT = /^[A-Za-z]:\\[^;%"]*[^\\;%"]$/;

/** The Windows folder (SystemRoot), taken from the environment only when it looks like one. */
export function windowsRoot(inherited: NodeJS.ProcessEnv): string {
  const root = inherited.SystemRoot ?? inherited.windir;
  return root !== undefined && WINDOWS_ROOT.test(root) ? root : 'C:\\Windows';
}

/** The fixed environment and working folder for probes on `platform`, from `inherited`. */
export function probeEnvironment(
  platform: NodeJS.Platform,
  inherited: NodeJS.ProcessEnv,
): ProbeEnvironment {
  if (platform === 'win32') {
    const root = windowsRoot(inherited);
    const env: Record<string, string> = {};
    for (const name of WINDOWS_KEPT) {
      const value = inherited[name];
      if (value !== undefined) {
        env[name] = value;
      }
    }
    return {
      env: {
        ...env,
        SystemRoot: root,
        windir: root,
        // disk-encryption/windows.ps1 asks BitLocker about $env:SystemDrive: it must be the drive
        // Windows runs from, never an inherited value naming another (encrypted) drive.
        SystemDrive: root.slice(0, 2),
        ComSpec: `${root}\\System32\\cmd.exe`,
        PATHEXT: '.COM;.EXE;.BAT;.CMD',
        PATH: [
          `${root}\\System32`,
          root,
          `${root}\\System32\\Wbem`,
          `${root}\\System32\\WindowsPowerShell\\v1.0`,
        ].join(';'),
      },
      // libuv looks for a bare command in the working folder before PATH on Windows.
      cwd: `${root}\\System32`,
    };
  }
  return { env: { PATH: UNIX_PROBE_PATH, ...UNIX_LOCALE }, cwd: '/' };
}
