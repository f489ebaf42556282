import type { FileStatus, Host } from '../../host.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { product, type AntivirusFacts } from './facts.ts';

/** Debian and Fedora both keep the databases here (freshclam.conf `DatabaseDirectory`). */
export const DATABASE_DIR = '/var/lib/clamav';
/** Daily databases in order of preference; freshclam may leave either (ClamAV issue #845). */
export const DAILY_FILES = ['daily.cld', 'daily.cvd'] as const;
/** Programs whose presence means ClamAV is installed (Debian clamav, clamav-daemon). */
export const CLAMAV_BINARIES = [
  '/usr/bin/clamscan',
  '/usr/sbin/clamd',
  '/usr/bin/freshclam',
] as const;
/**
 * The ClamAV programs whose running processes count, by name (/proc/PID/comm) and by the only
 * program file each may run: Debian's clamav-daemon and clamav-freshclam install exactly these
 * (`dpkg -c` of 1.4.6+dfsg-0+deb12u1), as do Fedora's clamd and clamav-update packages. A name
 * is only where the search starts: anyone can start a process called clamd
 * (`cp /bin/sleep ~/clamd; ~/clamd 300 &`, issue 12).
 */
export const CLAMAV_DAEMONS: Readonly<Record<string, string>> = {
  clamd: '/usr/sbin/clamd',
  clamonacc: '/usr/sbin/clamonacc',
  freshclam: '/usr/bin/freshclam',
};
/**
 * Accounts a genuine ClamAV process runs as, besides root: Debian's `clamav`, Fedora's
 * `clamscan` (clamd@scan) and `clamupdate` (freshclam). Looked up in /etc/passwd, which only
 * root can write.
 */
export const CLAMAV_ACCOUNTS = ['clamav', 'clamscan', 'clamupdate'] as const;

/** What the probe saw of one process named like a ClamAV program; the parser judges it. */
export type ClamProcess = {
  pid: number;
  /** /proc/PID/comm. */
  name: string;
  /** readlink /proc/PID/exe: the program file it runs (` (deleted)` after an upgrade). */
  exe: string | null;
  /** That program file itself (stat through /proc/PID/exe, so even a deleted one). */
  exeFile: FileStatus | null;
  /** Each folder above the program's path, root first (not followed). */
  exeFolders: { path: string; status: FileStatus | null }[];
  /** Real, effective, saved and file-system uid (the `Uid:` line of /proc/PID/status). */
  uids: number[] | null;
  /** Why the process could not be examined (e.g. not root), or null. */
  error: string | null;
};

/** What the Linux probe gathers: no command is spawned, only files are read. */
export type LinuxRaw = {
  /** Installed ClamAV programs among CLAMAV_BINARIES. */
  binaries: string[];
  /** The first 512 bytes (the header) of each daily database found. */
  databases: { file: string; header: Uint8Array }[];
  /** Running processes named like ClamAV programs, from /proc (no systemd needed as PID 1). */
  processes: ClamProcess[];
  /** uid of each ClamAV account in CLAMAV_ACCOUNTS that /etc/passwd has. */
  accounts: Record<string, number>;
};

/** Uids of the named accounts in /etc/passwd text (`name:x:uid:gid:…`). */
export function parsePasswd(text: string, names: readonly string[]): Record<string, number> {
  const found: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name !== undefined && names.includes(name) && uid !== undefined && /^\d+$/.test(uid)) {
      found[name] = Number(uid);
    }
  }
  return found;
}

/** The four uids of a /proc/PID/status text, or null when its `Uid:` line is not there. */
export function parseStatusUids(text: string): number[] | null {
  const match = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/m.exec(text);
  return match ? match.slice(1, 5).map(Number) : null;
}

/** Folders above an absolute path, root first: `/usr/sbin/clamd` → `/`, `/usr`, `/usr/sbin`. */
function foldersAbove(path: string): string[] {
  const parts = path.split('/').filter(Boolean).slice(0, -1);
  return ['/', ...parts.map((_, index) => `/${parts.slice(0, index + 1).join('/')}`)];
}

const DELETED = ' (deleted)';

/** Looks at one process named like a ClamAV program: what it runs, and as whom. */
async function examine(host: Host, pid: number, name: string): Promise<ClamProcess> {
  const seen: ClamProcess = {
    pid,
    name,
    exe: null,
    exeFile: null,
    exeFolders: [],
    uids: null,
    error: null,
  };
  const files = host.files;
  if (files.status === undefined || files.linkTarget === undefined) {
    return { ...seen, error: 'this host cannot tell who owns a program file' };
  }
  const status = (path: string, follow: boolean) =>
    files.status?.(path, { follow }) ?? Promise.resolve(null);
  try {
    seen.exe = await files.linkTarget(`/proc/${pid}/exe`);
    seen.exeFile = await status(`/proc/${pid}/exe`, true);
    const statusText = await host.files.readText(`/proc/${pid}/status`);
    seen.uids = statusText === null ? null : parseStatusUids(statusText);
    const path = seen.exe?.endsWith(DELETED) ? seen.exe.slice(0, -DELETED.length) : seen.exe;
    if (path?.startsWith('/')) {
      for (const folder of foldersAbove(path)) {
        seen.exeFolders.push({
          path: folder,
          status: await status(folder, false),
        });
      }
    }
  } catch (error) {
    // Reading another user's /proc/PID/exe needs root (ptrace access mode, proc(5)).
    seen.error = error instanceof Error ? error.message : String(error);
  }
  return seen;
}

/** Reads ClamAV's footprint through the host: binaries, daily database headers, processes. */
export async function probe(host: Host): Promise<LinuxRaw> {
  const binaries: string[] = [];
  for (const path of CLAMAV_BINARIES) {
    if ((await host.files.mtime(path)) !== null) {
      binaries.push(path);
    }
  }
  const databases: LinuxRaw['databases'] = [];
  for (const file of DAILY_FILES) {
    const header = await host.files.readBytes(`${DATABASE_DIR}/${file}`, 512);
    if (header !== null) {
      databases.push({ file, header });
    }
  }
  // /proc instead of `systemctl is-active`: containers and some laptops run without systemd as
  // PID 1, where systemctl fails; a running clamd is what protects, however it was started.
  const processes: ClamProcess[] = [];
  for (const entry of (await host.files.list('/proc')) ?? []) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    let comm: string | null;
    try {
      comm = await host.files.readText(`/proc/${entry}/comm`);
    } catch {
      comm = null; // the process ended between list and read
    }
    const name = comm?.trim() ?? '';
    if (name in CLAMAV_DAEMONS) {
      processes.push(await examine(host, Number(entry), name));
    }
  }
  const passwd = await host.files.readText('/etc/passwd');
  const accounts = passwd === null ? {} : parsePasswd(passwd, CLAMAV_ACCOUNTS);
  return { binaries, databases, processes, accounts };
}

const writableByOthers = (status: FileStatus): boolean => (status.mode & 0o022) !== 0;

/**
 * Why a process named like a ClamAV program is not the genuine one, or null when it is: it
 * must run the package's program file (root-owned, writable by nobody else, in root-owned
 * folders) as root or a ClamAV account, with every uid so (a setuid program run by a pupil keeps
 * the pupil's real uid). A pupil can choose a name, never an owner.
 */
export function impostorReason(
  process: ClamProcess,
  accounts: Record<string, number>,
): string | null {
  const expected = CLAMAV_DAEMONS[process.name];
  if (expected === undefined) {
    return `${process.name} is not a ClamAV program`;
  }
  const path = process.exe?.endsWith(DELETED) ? process.exe.slice(0, -DELETED.length) : process.exe;
  if (path !== expected) {
    return `runs ${process.exe ?? 'an unknown program'}, not ${expected}`;
  }
  const file = process.exeFile;
  if (file?.kind !== 'file' || file.uid !== 0 || writableByOthers(file)) {
    return `its program is not a root-owned file only root can change`;
  }
  for (const folder of process.exeFolders) {
    const status = folder.status;
    if (status?.kind !== 'directory' || status.uid !== 0 || writableByOthers(status)) {
      return `${folder.path} is not a root-owned folder only root can change`;
    }
  }
  if (process.exeFolders.length === 0) {
    return 'the folders of its program were not examined';
  }
  const allowed = new Set([0, ...Object.values(accounts)]);
  if (process.uids === null || process.uids.length !== 4) {
    return 'its user could not be read';
  }
  const stranger = process.uids.find((uid) => !allowed.has(uid));
  if (stranger !== undefined) {
    return `runs as uid ${stranger}, not as root or a ClamAV account`;
  }
  return null;
}

/** One parsed `ClamAV-VDB:` header. */
export type VdbHeader = { version: number; signatures: number; builtAt: string; builder: string };

const HEADER = /^ClamAV-VDB:([^:]*):(\d+):(\d+):(\d+):([^:]*):([^:]*):([^:]*):(\d+)/;

/**
 * Parses a CVD/CLD header: `ClamAV-VDB:<build time>:<version>:<sigs>:<flevel>:<md5>:<dsig>:
 * <builder>:<build epoch>`, space-padded to 512 bytes (sigtool.c; a .cld has `X:X` for md5 and
 * dsig). The epoch is used, not the build time, whose `%d %b %Y %H-%M %z` form is awkward.
 */
export function parseVdbHeader(header: Uint8Array): VdbHeader | null {
  const text = new TextDecoder('latin1').decode(header);
  const match = HEADER.exec(text);
  if (!match) {
    return null;
  }
  const epoch = Number(match[8]);
  if (!Number.isSafeInteger(epoch) || epoch <= 0) {
    return null;
  }
  return {
    version: Number(match[2]),
    signatures: Number(match[3]),
    builtAt: new Date(epoch * 1000).toISOString(),
    builder: match[7] ?? '',
  };
}

/** ClamAV's state as facts. A header that is not a VDB header is unrecognised, not "old". */
export function parse(raw: LinuxRaw): Parsed<AntivirusFacts> {
  const running = new Set<string>();
  const ignored: string[] = [];
  const errors: string[] = [];
  for (const process of raw.processes) {
    const label = `${process.name} (pid ${process.pid})`;
    if (process.error !== null) {
      // Not examined is not "not running": with no genuine daemon seen, the verdict is unknown.
      errors.push(`could not examine ${label}: ${process.error}`);
      continue;
    }
    const reason = impostorReason(process, raw.accounts);
    if (reason === null) {
      running.add(process.name);
    } else {
      ignored.push(`ignored ${label}: ${reason}`);
    }
  }
  if (raw.binaries.length === 0 && raw.databases.length === 0 && running.size === 0) {
    // A working probe that finds no ClamAV at all is a finding, not an unknown; a process merely
    // named clamd is no ClamAV.
    return { ok: true, facts: { products: [], gatekeeper: null, errors } };
  }
  let newest: (VdbHeader & { file: string }) | null = null;
  for (const database of raw.databases) {
    const header = parseVdbHeader(database.header);
    if (header === null) {
      const start = new TextDecoder('latin1').decode(database.header.subarray(0, 40));
      return {
        ok: false,
        code: 'unrecognised-output',
        detail: `${database.file} does not start with a ClamAV-VDB header: ${JSON.stringify(start)}`,
      };
    }
    if (newest === null || header.version > newest.version) {
      newest = { ...header, file: database.file };
    }
  }
  // Real-time protection is on-access scanning: clamonacc watches file opens and has clamd scan
  // them. clamd alone scans only what something asks it to (clamdscan, a mail filter), and
  // clamonacc without clamd has nothing to scan with: either alone is not protection.
  const realTime = running.has('clamd') && running.has('clamonacc');
  const parts = [
    `clamd ${running.has('clamd') ? 'running' : 'not running'}`,
    `freshclam ${running.has('freshclam') ? 'running' : 'not running'}`,
    `on-access scanning ${running.has('clamonacc') ? 'on' : 'off'}`,
    newest === null
      ? 'no daily database'
      : `${newest.file} version ${newest.version} by ${newest.builder}`,
    // A few are enough for ICT to see someone is posing as ClamAV.
    ...ignored.slice(0, 3),
  ];
  return {
    ok: true,
    facts: {
      products: [
        product('ClamAV', 'clamav', realTime ? 'on' : 'off', {
          // No daily database at all: clamd cannot even start (Debian's unit waits for one),
          // so its signatures count as out of date rather than unknown.
          signaturesOutOfDate: newest === null ? true : null,
          signaturesUpdatedAt: newest?.builtAt ?? null,
          version: newest === null ? null : `daily ${newest.version}`,
          detail: parts.join('; '),
        }),
      ],
      gatekeeper: null,
      // Without both genuine daemons seen, a process that could not be examined may be the
      // missing one.
      errors: realTime ? [] : errors,
    },
  };
}

/** Linux half of the antivirus check (ClamAV). */
export const linux = platformCheck({ probe, parse });
