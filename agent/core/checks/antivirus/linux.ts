import type { Host } from '../../host.ts';
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
/** Process names (/proc/PID/comm, max 15 characters) that matter. */
const WATCHED = new Set(['clamd', 'freshclam', 'clamonacc']);

/** What the Linux probe gathers: no command is spawned, only files are read. */
export type LinuxRaw = {
  /** Installed ClamAV programs among CLAMAV_BINARIES. */
  binaries: string[];
  /** The first 512 bytes (the header) of each daily database found. */
  databases: { file: string; header: Uint8Array }[];
  /** Names of running ClamAV processes, from /proc (works without systemd as PID 1). */
  processes: string[];
};

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
  const processes = new Set<string>();
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
    if (WATCHED.has(name)) {
      processes.add(name);
    }
  }
  return { binaries, databases, processes: [...processes].sort() };
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
  const running = new Set(raw.processes);
  if (raw.binaries.length === 0 && raw.databases.length === 0 && running.size === 0) {
    // A working probe that finds no ClamAV at all is a finding, not an unknown.
    return { ok: true, facts: { products: [], gatekeeper: null, errors: [] } };
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
  const daemon = running.has('clamd') || running.has('clamonacc');
  const parts = [
    `clamd ${running.has('clamd') ? 'running' : 'not running'}`,
    `freshclam ${running.has('freshclam') ? 'running' : 'not running'}`,
    `on-access scanning ${running.has('clamonacc') ? 'on' : 'off'}`,
    newest === null
      ? 'no daily database'
      : `${newest.file} version ${newest.version} by ${newest.builder}`,
  ];
  return {
    ok: true,
    facts: {
      products: [
        product('ClamAV', 'clamav', daemon ? 'on' : 'off', {
          // No daily database at all: clamd cannot even start (Debian's unit waits for one),
          // so its signatures count as out of date rather than unknown.
          signaturesOutOfDate: newest === null ? true : null,
          signaturesUpdatedAt: newest?.builtAt ?? null,
          version: newest === null ? null : `daily ${newest.version}`,
          detail: parts.join('; '),
        }),
      ],
      gatekeeper: null,
      errors: [],
    },
  };
}

/** Linux half of the antivirus check (ClamAV). */
export const linux = platformCheck({ probe, parse });
