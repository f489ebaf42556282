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

/** What the Linux probe gathers: the session, then that user's GNOME settings. */
export interface LinuxRaw {
  session: DesktopSession;
  /** `gsettings list-recursively` of both schemas, concatenated; null without a session. */
  gsettings: CommandOutput | null;
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
): Promise<CommandOutput> {
  const outputs: CommandOutput[] = [];
  for (const schema of SCHEMAS) {
    const args = ['list-recursively', schema];
    outputs.push(
      runAs === null
        ? await host.run('gsettings', args, { timeoutMs: TIMEOUT_MS })
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

/** Finds the desktop user, then reads their GNOME idle and lock settings. */
export async function probe(host: Host): Promise<LinuxRaw> {
  const session = await findDesktopSession(host);
  if ('none' in session || 'failed' in session) {
    return { session, gsettings: null };
  }
  return { session, gsettings: await readGnomeSettings(host, session) };
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

/** Turns the session and gsettings output into facts; never guesses. */
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
  const out = raw.gsettings;
  if (out === null) {
    return { ok: false, code: 'probe-failed', detail: 'gsettings was not run' };
  }
  // "No such schema" / "No schemas installed": gsettings-desktop-schemas absent, so no GNOME.
  if (/No such schema|No schemas installed/.test(out.stderr)) {
    return { ok: false, code: 'not-measured', detail: `no GNOME desktop: ${out.stderr.trim()}` };
  }
  if (out.exitCode !== 0 || out.stderr.trim() !== '') {
    const detail = `gsettings failed (exit ${out.exitCode}): ${out.stderr.trim().slice(0, 300)}`;
    return { ok: false, code: 'unrecognised-output', detail };
  }
  const values = readLines(out.stdout);
  if (values === null) {
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: 'unexpected line in gsettings output',
    };
  }
  const enabledText = values.get('org.gnome.desktop.screensaver lock-enabled');
  const idleText = values.get('org.gnome.desktop.session idle-delay');
  const delayText = values.get('org.gnome.desktop.screensaver lock-delay');
  if (enabledText !== 'true' && enabledText !== 'false') {
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: 'lock-enabled missing or not boolean',
    };
  }
  const idle = idleText === undefined ? null : UINT32.exec(idleText);
  const delay = delayText === undefined ? null : UINT32.exec(delayText);
  const idleSeconds = idle?.[1] === undefined ? null : Number(idle[1]);
  const delaySeconds = delay?.[1] === undefined ? null : Number(delay[1]);
  const settings = {
    lockEnabled: enabledText === 'true',
    idleDelaySeconds: idleSeconds,
    lockDelaySeconds: delaySeconds,
  };
  const base = {
    session: 'present',
    user: raw.session.user,
    source: 'gnome-settings',
    settings,
    problem: null,
  } as const;
  if (enabledText === 'false') {
    return { ok: true, facts: { ...base, lockEnabled: false, lockAfterSeconds: null } };
  }
  if (idleSeconds === null || delaySeconds === null) {
    return { ok: false, code: 'unrecognised-output', detail: 'idle-delay or lock-delay missing' };
  }
  // idle-delay 0 means the session never goes idle, so it never locks (gschema description).
  if (idleSeconds === 0) {
    return { ok: true, facts: { ...base, lockEnabled: false, lockAfterSeconds: null } };
  }
  return {
    ok: true,
    facts: { ...base, lockEnabled: true, lockAfterSeconds: idleSeconds + delaySeconds },
  };
}

/** Linux (GNOME) half of the screen-lock check. */
export const linux = platformCheck({ probe, parse });
