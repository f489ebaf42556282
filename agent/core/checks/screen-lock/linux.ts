import type { Host } from '../../host.ts';
import type { CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { noSession, type ScreenLockFacts } from './facts.ts';

const TIMEOUT_MS = 10_000;
const SCHEMAS = ['org.gnome.desktop.session', 'org.gnome.desktop.screensaver'] as const;

/**
 * The graphical session whose settings count; `none` when logind answered and there is no
 * desktop session; `failed` when the sessions could not be read at all (no systemd as PID 1,
 * no bus): then nobody's absence was observed, so it must not be reported as such.
 */
export type DesktopSession = { user: string; uid: number } | { none: string } | { failed: string };

/**
 * The keys that decide GNOME's idle lock, as `schema key`. All three must be locked by a system
 * database for the value to be one the signed-in user cannot change.
 */
export const LOCK_KEYS = [
  'org.gnome.desktop.screensaver lock-enabled',
  'org.gnome.desktop.session idle-delay',
  'org.gnome.desktop.screensaver lock-delay',
] as const;

/**
 * What root's own view of the settings says: the system dconf databases (or the schema defaults
 * where they set nothing) and which keys they lock. Read by root with the fixed probe
 * environment, so nothing the user controls takes part.
 */
export interface SystemSettingsRaw {
  /** `gsettings list-recursively` of both schemas without any user database. */
  values: CommandOutput;
  /** `gsettings writable <schema> <key>` for each of LOCK_KEYS: `false` means a system lock. */
  writable: Record<(typeof LOCK_KEYS)[number], CommandOutput>;
}

/** What the Linux probe gathers: the session, that user's GNOME settings and the system's. */
export interface LinuxRaw {
  session: DesktopSession;
  /**
   * `gsettings list-recursively` of both schemas run as the desktop user, concatenated; null
   * without a session. Evidence only: the user can ptrace that process, set its environment and
   * write its dconf database, so it may say anything.
   */
  gsettings: CommandOutput | null;
  /** Root's view; null without a session. */
  system: SystemSettingsRaw | null;
}

/**
 * Reads `loginctl show-session` key=value output (PLATFORMS.md §7). Only x11/wayland sessions
 * have a screen to lock; tty and remote sessions do not count.
 */
export function parseSessionProperties(text: string): DesktopSession {
  const props = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) {
      props.set(line.slice(0, at), line.slice(at + 1).trim());
    }
  }
  const user = props.get('Name');
  const uid = Number(props.get('User'));
  const type = props.get('Type');
  if (user === undefined || user === '' || !Number.isInteger(uid)) {
    // An answer we cannot read says nothing about who is signed in.
    return {
      failed: `loginctl show-session did not name the session user: ${text.trim().slice(0, 200) || '(empty)'}`,
    };
  }
  if (type !== 'x11' && type !== 'wayland') {
    return { none: `the active session is ${type ?? 'of unknown type'}, not a desktop` };
  }
  return { user, uid };
}

const firstLine = (output: CommandOutput): string =>
  (output.stderr.trim() || output.stdout.trim()).split('\n')[0] ?? '';

/** Finds the active session on seat0 through logind; needs systemd as PID 1 (PLATFORMS.md §7). */
async function findDesktopSession(host: Host): Promise<DesktopSession> {
  const seat = await host.run(
    'loginctl',
    ['show-seat', 'seat0', '--property=ActiveSession', '--value'],
    { timeoutMs: TIMEOUT_MS },
  );
  // With no active session `--value` prints an empty line and exits 0. A non-zero exit means
  // loginctl could not answer (without systemd as PID 1 it prints "System has not been booted
  // with systemd as init system (PID 1). Can't operate."): nobody's absence was observed.
  if (seat.exitCode !== 0) {
    return {
      failed: `loginctl show-seat exited ${seat.exitCode}: ${firstLine(seat) || '(no message)'}`,
    };
  }
  const id = seat.stdout.trim();
  if (id === '') {
    return { none: 'logind reports no active session on seat0' };
  }
  const session = await host.run(
    'loginctl',
    ['show-session', id, '--property=Name', '--property=User', '--property=Type'],
    { timeoutMs: TIMEOUT_MS },
  );
  if (session.exitCode !== 0) {
    // The session may have ended between the two calls, but that is a guess: report the error.
    return {
      failed: `loginctl show-session ${id} exited ${session.exitCode}: ${firstLine(session) || '(no message)'}`,
    };
  }
  return parseSessionProperties(session.stdout);
}

/**
 * Runs `gsettings list-recursively` for both schemas, as `runAs` when given (the service is
 * root; gsettings reads the caller's dconf database, so it must run as the desktop user with
 * that user's bus — PLATFORMS.md §5).
 */
export async function readGnomeSettings(
  host: Host,
  runAs: { user: string; uid: number } | null,
  env: Record<string, string> = {},
): Promise<CommandOutput> {
  const outputs: CommandOutput[] = [];
  for (const schema of SCHEMAS) {
    const args = ['list-recursively', schema];
    outputs.push(
      runAs === null
        ? await host.run('gsettings', args, { timeoutMs: TIMEOUT_MS, env })
        : await host.run('runuser', ['-u', runAs.user, '--', 'gsettings', ...args], {
            timeoutMs: TIMEOUT_MS,
            env: {
              DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${runAs.uid}/bus`,
              XDG_RUNTIME_DIR: `/run/user/${runAs.uid}`,
            },
          }),
    );
  }
  return {
    stdout: outputs.map((o) => o.stdout).join(''),
    stderr: outputs.map((o) => o.stderr).join(''),
    exitCode: Math.max(...outputs.map((o) => o.exitCode)),
  };
}

/**
 * Where root's view reads from. dconf's user database is `$XDG_CONFIG_HOME/dconf/user`: under
 * /dev/null it cannot exist, so root's own settings never count and only the databases the
 * profile names as system-db (compiled by `dconf update` from /etc/dconf/db/<name>.d/ and its
 * locks/) remain. `dconfProfile` is for tests; the service uses the system's profile
 * (/etc/dconf/profile/user), as a desktop session does.
 */
export async function readSystemSettings(
  host: Host,
  options: { dconfProfile?: string } = {},
): Promise<SystemSettingsRaw> {
  const env: Record<string, string> = {
    XDG_CONFIG_HOME: '/dev/null',
    ...(options.dconfProfile === undefined ? {} : { DCONF_PROFILE: options.dconfProfile }),
  };
  const values = await readGnomeSettings(host, null, env);
  const writable: Partial<SystemSettingsRaw['writable']> = {};
  for (const key of LOCK_KEYS) {
    writable[key] = await host.run('gsettings', ['writable', ...key.split(' ')], {
      timeoutMs: TIMEOUT_MS,
      env,
    });
  }
  return { values, writable: writable as SystemSettingsRaw['writable'] };
}

/** Finds the desktop user, then reads their GNOME settings and what the system enforces. */
export async function probe(
  host: Host,
  options: { dconfProfile?: string } = {},
): Promise<LinuxRaw> {
  const session = await findDesktopSession(host);
  if ('none' in session || 'failed' in session) {
    return { session, gsettings: null, system: null };
  }
  return {
    session,
    gsettings: await readGnomeSettings(host, session),
    system: await readSystemSettings(host, options),
  };
}

const LINE = /^(org\.gnome\.desktop\.[a-z.-]+) ([a-z0-9-]+) (.+)$/;
const UINT32 = /^uint32 (\d+)$/;

/** Reads the gsettings text into key → value for the two schemas; null on any unknown line. */
function readLines(stdout: string): Map<string, string> | null {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    const match = LINE.exec(line);
    if (!match?.[1] || !match[2] || match[3] === undefined) {
      return null;
    }
    values.set(`${match[1]} ${match[2]}`, match[3]);
  }
  return values;
}

/** The three values one gsettings listing gives. */
interface LockSettings {
  lockEnabled: boolean;
  idleDelaySeconds: number | null;
  lockDelaySeconds: number | null;
}

type Read<T> = { ok: true; value: T } | { ok: false; code: UnknownCode; detail: string };
type UnknownCode = Extract<Parsed<ScreenLockFacts>, { ok: false }>['code'];

/** Reads one `gsettings list-recursively` output of both schemas; `whose` names it in errors. */
function readLockSettings(out: CommandOutput, whose: string): Read<LockSettings> {
  // "No such schema" / "No schemas installed": gsettings-desktop-schemas absent, so no GNOME.
  if (/No such schema|No schemas installed/.test(out.stderr)) {
    return { ok: false, code: 'not-measured', detail: `no GNOME desktop: ${out.stderr.trim()}` };
  }
  if (out.exitCode !== 0 || out.stderr.trim() !== '') {
    const detail = `gsettings (${whose}) failed (exit ${out.exitCode}): ${out.stderr.trim().slice(0, 300)}`;
    return { ok: false, code: 'unrecognised-output', detail };
  }
  const values = readLines(out.stdout);
  if (values === null) {
    const detail = `unexpected line in gsettings output (${whose})`;
    return { ok: false, code: 'unrecognised-output', detail };
  }
  const enabledText = values.get('org.gnome.desktop.screensaver lock-enabled');
  if (enabledText !== 'true' && enabledText !== 'false') {
    const detail = `lock-enabled missing or not boolean (${whose})`;
    return { ok: false, code: 'unrecognised-output', detail };
  }
  const seconds = (key: string): number | null => {
    const text = values.get(key);
    const match = text === undefined ? null : UINT32.exec(text);
    return match?.[1] === undefined ? null : Number(match[1]);
  };
  return {
    ok: true,
    value: {
      lockEnabled: enabledText === 'true',
      idleDelaySeconds: seconds('org.gnome.desktop.session idle-delay'),
      lockDelaySeconds: seconds('org.gnome.desktop.screensaver lock-delay'),
    },
  };
}

/** When these settings lock the screen, or why that cannot be told. */
function lockAfter(
  settings: LockSettings,
  whose: string,
): Read<{ lockEnabled: boolean; lockAfterSeconds: number | null }> {
  // idle-delay 0 means the session never goes idle, so it never locks (gschema description).
  if (!settings.lockEnabled || settings.idleDelaySeconds === 0) {
    return { ok: true, value: { lockEnabled: false, lockAfterSeconds: null } };
  }
  if (settings.idleDelaySeconds === null || settings.lockDelaySeconds === null) {
    const detail = `idle-delay or lock-delay missing (${whose})`;
    return { ok: false, code: 'unrecognised-output', detail };
  }
  return {
    ok: true,
    value: {
      lockEnabled: true,
      lockAfterSeconds: settings.idleDelaySeconds + settings.lockDelaySeconds,
    },
  };
}

/** Which of LOCK_KEYS a system database locks, from `gsettings writable`; null if unreadable. */
function readLocks(system: SystemSettingsRaw): Set<string> | null {
  const locked = new Set<string>();
  for (const key of LOCK_KEYS) {
    const out = system.writable[key];
    const answer = out.exitCode === 0 ? out.stdout.trim() : '';
    if (answer === 'false') {
      locked.add(key);
    } else if (answer !== 'true') {
      return null;
    }
  }
  return locked;
}

const evidence = (prefix: string, settings: LockSettings | null) => ({
  [`${prefix}LockEnabled`]: settings?.lockEnabled ?? null,
  [`${prefix}IdleDelaySeconds`]: settings?.idleDelaySeconds ?? null,
  [`${prefix}LockDelaySeconds`]: settings?.lockDelaySeconds ?? null,
});

/**
 * Turns the session and both views into facts; never guesses. A value is trusted only when a
 * system database locks it; otherwise the user's own value decides, marked as one the user can
 * change, so it is at best a warning.
 */
export function parse(raw: LinuxRaw): Parsed<ScreenLockFacts> {
  if ('failed' in raw.session) {
    return {
      ok: false,
      code: 'probe-failed',
      detail: `could not read the desktop sessions: ${raw.session.failed}`,
    };
  }
  if ('none' in raw.session) {
    return { ok: true, facts: noSession(`no graphical session: ${raw.session.none}`) };
  }
  if (raw.system === null) {
    return { ok: false, code: 'probe-failed', detail: 'the system dconf settings were not read' };
  }
  const system = readLockSettings(raw.system.values, 'system databases');
  if (!system.ok) {
    return { ok: false, code: system.code, detail: system.detail };
  }
  // gsettings lists every key of a schema, defaults included: a missing one is output we do
  // not know, not a setting.
  if (system.value.idleDelaySeconds === null || system.value.lockDelaySeconds === null) {
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: 'idle-delay or lock-delay missing (system databases)',
    };
  }
  const locks = readLocks(raw.system);
  if (locks === null) {
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: 'gsettings writable did not answer true or false',
    };
  }
  const user =
    raw.gsettings === null
      ? ({ ok: false, code: 'probe-failed', detail: 'gsettings was not run' } as const)
      : readLockSettings(raw.gsettings, `as ${raw.session.user}`);
  const isLocked = (key: (typeof LOCK_KEYS)[number]) => locks.has(key);
  // A locked "never lock" decides on its own, whatever the other keys say.
  const lockedNever =
    (isLocked('org.gnome.desktop.screensaver lock-enabled') && !system.value.lockEnabled) ||
    (isLocked('org.gnome.desktop.session idle-delay') && system.value.idleDelaySeconds === 0);
  const enforced = lockedNever || locks.size === LOCK_KEYS.length;
  const judged = enforced || !user.ok ? system.value : user.value;
  const whose = enforced || !user.ok ? 'system databases' : `as ${raw.session.user}`;
  const after = lockAfter(judged, whose);
  if (!after.ok) {
    return { ok: false, code: after.code, detail: after.detail };
  }
  const problem =
    enforced || user.ok
      ? null
      : `${raw.session.user}'s own settings could not be read (${user.detail}); judged by the system's values, which they can change`;
  return {
    ok: true,
    facts: {
      session: 'present',
      user: raw.session.user,
      ...after.value,
      source: enforced ? 'machine-policy' : 'user-setting',
      userCanChange: !enforced,
      settings: {
        lockEnabled: judged.lockEnabled,
        idleDelaySeconds: judged.idleDelaySeconds,
        lockDelaySeconds: judged.lockDelaySeconds,
        lockedKeys: LOCK_KEYS.filter(isLocked).join(', '),
        ...evidence('system', system.value),
        ...evidence('user', user.ok ? user.value : null),
      },
      problem,
    },
  };
}

/** Linux (GNOME) half of the screen-lock check. */
export const linux = platformCheck({ probe, parse });
