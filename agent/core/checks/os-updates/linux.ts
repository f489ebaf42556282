import type { Host } from '../../host.ts';
import { ProbeError, type CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { MAX_TITLES, type OsUpdatesFacts } from './facts.ts';

/** Everything the Linux probe gathers, as plain data so tests can replay it. */
export interface LinuxRaw {
  /** /etc/os-release (or /usr/lib/os-release), null when neither exists. */
  osRelease: string | null;
  /** `apt-get -s upgrade`; null when apt-get is not installed (not Debian-family). */
  aptGetUpgrade: CommandOutput | null;
  /** `apt-config dump`; null when apt-get is not installed. */
  aptConfigDump: CommandOutput | null;
  /** ISO mtimes of apt's stamps and of the newest *InRelease list; null when absent. */
  stamps: { update: string | null; upgrade: string | null; newestList: string | null };
  /** /var/run/reboot-required exists. */
  rebootRequired: boolean;
  /** /usr/bin/unattended-upgrade exists. */
  unattendedUpgradeInstalled: boolean;
  /** What runs APT::Periodic jobs: the systemd timer is enabled, or cron's apt-compat exists. */
  upgradeTimerEnabled: boolean;
  cronAptCompat: boolean;
}

const TIMEOUT_MS = 120_000;
const LISTS = '/var/lib/apt/lists';

async function mtimeIso(host: Host, path: string): Promise<string | null> {
  return (await host.files.mtime(path))?.toISOString() ?? null;
}

async function newestListMtime(host: Host): Promise<string | null> {
  const names = (await host.files.list(LISTS)) ?? [];
  let newest: Date | null = null;
  for (const name of names.filter((entry) => entry.endsWith('InRelease'))) {
    const at = await host.files.mtime(`${LISTS}/${name}`);
    if (at !== null && (newest === null || at > newest)) {
      newest = at;
    }
  }
  return newest?.toISOString() ?? null;
}

/** Runs apt-get, or returns null when it is not installed (a non-Debian distribution). */
async function runApt(host: Host, command: string, args: string[]): Promise<CommandOutput | null> {
  try {
    return await host.run(command, args, { timeoutMs: TIMEOUT_MS });
  } catch (error) {
    if (error instanceof ProbeError && error.code === 'command-missing') {
      return null;
    }
    throw error;
  }
}

/** Reads update state through the host: apt-get, apt-config, stamps and flag files. */
export async function probe(host: Host): Promise<LinuxRaw> {
  const osRelease =
    (await host.files.readText('/etc/os-release')) ??
    (await host.files.readText('/usr/lib/os-release'));
  const aptGetUpgrade = await runApt(host, 'apt-get', ['-s', 'upgrade']);
  const aptConfigDump = aptGetUpgrade === null ? null : await runApt(host, 'apt-config', ['dump']);
  return {
    osRelease,
    aptGetUpgrade,
    aptConfigDump,
    stamps: {
      // PLATFORMS.md §3: update-stamp is touched by apt.systemd.daily after its own
      // successful `apt-get update`; upgrade-stamp when unattended-upgrade exits 0.
      update: await mtimeIso(host, '/var/lib/apt/periodic/update-stamp'),
      upgrade: await mtimeIso(host, '/var/lib/apt/periodic/upgrade-stamp'),
      newestList: await newestListMtime(host),
    },
    rebootRequired: (await host.files.mtime('/var/run/reboot-required')) !== null,
    unattendedUpgradeInstalled: (await host.files.mtime('/usr/bin/unattended-upgrade')) !== null,
    // stat follows the symlink: a masked or dangling timer link reads as absent.
    upgradeTimerEnabled:
      (await host.files.mtime(
        '/etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer',
      )) !== null,
    cronAptCompat: (await host.files.mtime('/etc/cron.daily/apt-compat')) !== null,
  };
}

/** Parses os-release (os-release(5): KEY=value, optionally quoted) into a map. */
export function parseOsRelease(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) {
      fields.set(match[1], match[2].replace(/^(["'])(.*)\1$/, '$2'));
    }
  }
  return fields;
}

/** Pending upgrades from `apt-get -s upgrade`. */
export interface AptUpgradeSummary {
  upgrades: { name: string; security: boolean }[];
  upgraded: number;
  newlyInstalled: number;
}

// `0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.` (apt-pkg, C locale).
const SUMMARY = /^(\d+) upgraded, (\d+) newly installed, (\d+) to remove and (\d+) not upgraded\.$/;
// `Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])`; the bracket with the
// installed version is absent for a newly installed package.
const INST = /^Inst (\S+)(?: \[[^\]]*\])? \((\S+) ([^[]*)\[[^\]]+\]\)/;

/** Parses `apt-get -s upgrade` (LC_ALL=C); null when it does not look like apt's output. */
export function parseAptUpgrade(text: string): AptUpgradeSummary | null {
  const upgrades: AptUpgradeSummary['upgrades'] = [];
  let summary: RegExpExecArray | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('Inst ')) {
      const inst = INST.exec(line);
      if (inst?.[1] === undefined || inst[3] === undefined) {
        return null;
      }
      // PLATFORMS.md §3: a Debian-Security origin or a "-security" suite marks security.
      const origins = inst[3];
      upgrades.push({
        name: inst[1],
        security: /Debian-Security:|\/[\w.-]*-security\b/.test(origins),
      });
    } else {
      summary = SUMMARY.exec(line) ?? summary;
    }
  }
  if (summary?.[1] === undefined || summary[2] === undefined) {
    return null;
  }
  const upgraded = Number(summary[1]);
  const newlyInstalled = Number(summary[2]);
  // Fail closed: every package apt announced must have had an Inst line we understood.
  if (upgrades.length !== upgraded + newlyInstalled) {
    return null;
  }
  return { upgrades, upgraded, newlyInstalled };
}

/** Value of APT::Periodic::Unattended-Upgrade from `apt-config dump`; null when unset. */
export function parseUnattendedUpgradeSetting(dump: string): string | null {
  const match = /^APT::Periodic::Unattended-Upgrade "([^"]*)";$/m.exec(dump);
  return match?.[1] ?? null;
}

function newest(...isoTimes: (string | null)[]): { at: string; index: number } | null {
  let best: { at: string; index: number } | null = null;
  isoTimes.forEach((at, index) => {
    if (at !== null && (best === null || Date.parse(at) > Date.parse(best.at))) {
      best = { at, index };
    }
  });
  return best;
}

const STAMP_NAMES = [
  '/var/lib/apt/periodic/upgrade-stamp (last unattended upgrade)',
  '/var/lib/apt/periodic/update-stamp (last automatic package-list refresh)',
  `newest ${LISTS}/*InRelease (last package-list refresh)`,
];

function unrecognised(detail: string): Parsed<OsUpdatesFacts> {
  return { ok: false, code: 'unrecognised-output', detail };
}

/** Turns what the Linux probe gathered into facts; fails closed on anything unexpected. */
export function parse(raw: LinuxRaw): Parsed<OsUpdatesFacts> {
  const release = parseOsRelease(raw.osRelease ?? '');
  const id = release.get('ID') ?? null;
  if (raw.aptGetUpgrade === null || raw.aptConfigDump === null) {
    return {
      ok: false,
      code: 'unsupported-os',
      detail: `apt-get is not installed: only Debian-family distributions are supported (os-release ID ${id ?? 'unknown'})`,
    };
  }
  const apt = raw.aptGetUpgrade;
  if (apt.exitCode !== 0) {
    return unrecognised(
      `apt-get -s upgrade exited ${apt.exitCode}: ${apt.stderr.trim().slice(0, 300)}`,
    );
  }
  const upgrade = parseAptUpgrade(apt.stdout);
  if (upgrade === null) {
    return unrecognised(
      `apt-get -s upgrade printed something unexpected: ${apt.stdout.slice(0, 200)}`,
    );
  }
  if (raw.aptConfigDump.exitCode !== 0) {
    return unrecognised(`apt-config dump exited ${raw.aptConfigDump.exitCode}`);
  }
  const setting = parseUnattendedUpgradeSetting(raw.aptConfigDump.stdout);
  const scheduler = raw.upgradeTimerEnabled || raw.cronAptCompat;
  const automaticUpdates =
    setting !== null && setting !== '0' && raw.unattendedUpgradeInstalled && scheduler;
  const detail = [
    `APT::Periodic::Unattended-Upgrade is ${setting === null ? 'unset (apt default 0)' : `"${setting}"`}`,
    `unattended-upgrades ${raw.unattendedUpgradeInstalled ? 'installed' : 'not installed'}`,
    `apt-daily-upgrade.timer ${raw.upgradeTimerEnabled ? 'enabled' : 'not enabled'}`,
    `cron apt-compat ${raw.cronAptCompat ? 'present' : 'absent'}`,
  ].join('; ');
  const last = newest(raw.stamps.upgrade, raw.stamps.update, raw.stamps.newestList);
  const security = upgrade.upgrades.filter((entry) => entry.security);
  const version = release.get('VERSION_ID') ?? null;
  return {
    ok: true,
    facts: {
      osName: release.get('PRETTY_NAME') ?? id,
      osReleaseId: id,
      osVersion: version,
      automaticUpdates,
      automaticUpdatesDetail: detail,
      lastUpdateAt: last?.at ?? null,
      lastUpdateSource:
        last === null ? 'no apt stamp or package list found' : (STAMP_NAMES[last.index] ?? ''),
      pendingUpdates: upgrade.upgrades.length,
      pendingSecurityUpdates: security.length,
      pendingSecurityTitles: security.slice(0, MAX_TITLES).map((entry) => entry.name),
      pendingFirstSeen: {},
      // Debian creates this flag from the unattended-upgrades kernel hook (PLATFORMS.md §3).
      rebootPending: raw.rebootRequired,
      problems: version === null ? ['os-release has no VERSION_ID'] : [],
    },
  };
}

/** The Linux (Debian/Ubuntu) half of the os-updates check. */
export const linux = platformCheck({ probe, parse });
