import type { Host } from '../../host.ts';
import type { CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { MAX_TITLES, type OsUpdatesFacts } from './facts.ts';
import { compareDottedVersions, parseDottedVersion } from './version.ts';

/** What the macOS probe gathers. */
export interface DarwinRaw {
  /** `sw_vers -productVersion`. */
  productVersion: CommandOutput;
  /** `softwareupdate --list --no-scan`; "No new software available." goes to stderr. */
  softwareUpdate: CommandOutput;
  /** `defaults read /Library/Preferences/com.apple.SoftwareUpdate`. */
  preferences: CommandOutput;
  /** The same domain under /Library/Managed Preferences (MDM); it wins where set. */
  managedPreferences: CommandOutput;
}

const TIMEOUT_MS = 120_000;

/** Runs sw_vers, softwareupdate (cached list, no network scan) and defaults. */
export async function probe(host: Host): Promise<DarwinRaw> {
  const run = (command: string, args: string[]) =>
    host.run(command, args, { timeoutMs: TIMEOUT_MS });
  return {
    productVersion: await run('/usr/bin/sw_vers', ['-productVersion']),
    softwareUpdate: await run('/usr/sbin/softwareupdate', ['--list', '--no-scan']),
    preferences: await run('/usr/bin/defaults', [
      'read',
      '/Library/Preferences/com.apple.SoftwareUpdate',
    ]),
    managedPreferences: await run('/usr/bin/defaults', [
      'read',
      '/Library/Managed Preferences/com.apple.SoftwareUpdate',
    ]),
  };
}

/** One entry of `softwareupdate --list` (10.15+ format). */
export interface SoftwareUpdateItem {
  label: string;
  title: string;
  version: string | null;
  recommended: boolean;
  restart: boolean;
}

const FOUND = 'Software Update found the following new or updated software:';
const NONE = 'No new software available.';
// Lines softwareupdate prints around the list, and the NSLog noise some Macs add
// ("2022-06-03 17:16:41.465 softwareupdate[8748:13764407] XType: ...", munki/munki#1141).
const NOISE = [
  /^Software Update Tool$/,
  /^Finding available software$/,
  /^\d{4}-\d\d-\d\d [\d:.]+ softwareupdate\[/,
];

/** Parses `softwareupdate --list` (both streams); null when the output is not recognised. */
export function parseSoftwareUpdateList(text: string): SoftwareUpdateItem[] | null {
  const items: SoftwareUpdateItem[] = [];
  let sawNone = false;
  let sawFound = false;
  let pendingLabel: string | null = null;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || NOISE.some((pattern) => pattern.test(line))) {
      continue;
    }
    if (line === NONE) {
      sawNone = true;
    } else if (line === FOUND) {
      sawFound = true;
    } else if (line.startsWith('* Label: ') && sawFound && pendingLabel === null) {
      pendingLabel = line.slice('* Label: '.length);
    } else if (line.startsWith('Title: ') && pendingLabel !== null) {
      // "Title: macOS Ventura 13.3.1, Version: 13.3.1, Size: 868648KiB, Recommended: YES, Action: restart,"
      const fields = new Map<string, string>();
      const parts = line.split(/,\s*/);
      for (const part of parts.slice(1)) {
        const colon = part.indexOf(': ');
        if (colon > 0) {
          fields.set(part.slice(0, colon), part.slice(colon + 2).trim());
        }
      }
      items.push({
        label: pendingLabel,
        title: (parts[0] ?? '').slice('Title: '.length),
        version: fields.get('Version') ?? null,
        recommended: fields.get('Recommended') === 'YES',
        restart: fields.get('Action') === 'restart',
      });
      pendingLabel = null;
    } else {
      return null; // e.g. "Scan finished with error: ..." or a pre-10.15 list format
    }
  }
  if (pendingLabel !== null || sawNone === sawFound || (sawFound && items.length === 0)) {
    return null;
  }
  return items;
}

/** Top-level keys of `defaults read` (old-style plist text); null when not a dictionary. */
export function parseDefaults(text: string): Map<string, string> | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) {
    return null;
  }
  const keys = new Map<string, string>();
  for (const line of trimmed.split('\n')) {
    // Top-level entries are indented by exactly four spaces; nested ones deeper.
    const match = /^ {4}("?)([A-Za-z][\w ]*)\1 = (.*);$/.exec(line);
    if (match?.[2] !== undefined && match[3] !== undefined) {
      keys.set(match[2], match[3].replace(/^"(.*)"$/, '$1'));
    }
  }
  return keys;
}

function readBoolean(value: string | undefined): boolean | null {
  if (value === undefined) {
    return null;
  }
  if (/^(1|YES|TRUE)$/i.test(value)) {
    return true;
  }
  return /^(0|NO|FALSE)$/i.test(value) ? false : null;
}

// A missing domain is normal (no MDM profile): `defaults` says so on stderr and exits 1.
function preferencesOf(output: CommandOutput): Map<string, string> | null {
  if (output.exitCode !== 0 && /does not exist/.test(output.stderr)) {
    return new Map();
  }
  return output.exitCode === 0 ? parseDefaults(output.stdout) : null;
}

/** The major release of a macOS version: "10.15" up to Catalina, "11", "14" … from Big Sur. */
export function macosMajor(version: string): string | null {
  const parts = parseDottedVersion(version);
  if (parts?.[0] === undefined) {
    return null;
  }
  return parts[0] === 10 ? `10.${String(parts[1] ?? 0)}` : String(parts[0]);
}

/**
 * Whether a pending update must be installed. `softwareupdate` marks no update as security, and
 * Apple ships security fixes in Safari updates, point releases and their betas alike, so every
 * update Apple recommends counts, whatever its title says. Only an upgrade to a newer major
 * macOS (e.g. "macOS Ventura 13.4.1" offered on Monterey) does not: which major a device must
 * run is the policy's minimumVersion.darwin. Anything named "Security" counts even when not
 * recommended.
 */
export function isRequiredUpdate(item: SoftwareUpdateItem, currentVersion: string): boolean {
  if (/security/i.test(`${item.label} ${item.title}`)) {
    return true;
  }
  if (!item.recommended) {
    return false;
  }
  const current = macosMajor(currentVersion);
  const offered = item.version === null ? null : macosMajor(item.version);
  const newerMajor =
    /^macOS\b/.test(item.title) &&
    current !== null &&
    offered !== null &&
    (compareDottedVersions(offered, current) ?? 0) > 0;
  return !newerMajor;
}

function unrecognised(detail: string): Parsed<OsUpdatesFacts> {
  return { ok: false, code: 'unrecognised-output', detail };
}

/**
 * A readable, distinct name for an update: its title with its version when the title lacks it
 * ("Safari 17.3.1", "Command Line Tools for Xcode 13.2", "macOS Monterey 12.6.7"). Titles alone
 * repeat (three "Command Line Tools for Xcode" on one Mac). Newer releases put no-break spaces
 * in titles ("macOS Sequoia\u00a015.8.1"); they are shown as plain spaces.
 */
export function updateName(item: SoftwareUpdateItem): string {
  const title = item.title.replace(/\s+/g, ' ').trim();
  return item.version === null || title.includes(item.version) ? title : `${title} ${item.version}`;
}

/** Turns the macOS probe's output into facts. */
export function parse(raw: DarwinRaw): Parsed<OsUpdatesFacts> {
  const version = raw.productVersion.stdout.trim();
  const numbers = parseDottedVersion(version);
  if (raw.productVersion.exitCode !== 0 || numbers === null || numbers[0] === undefined) {
    return unrecognised(`sw_vers printed ${JSON.stringify(version.slice(0, 100))}`);
  }
  const list = parseSoftwareUpdateList(
    `${raw.softwareUpdate.stdout}\n${raw.softwareUpdate.stderr}`,
  );
  if (list === null) {
    const text = `${raw.softwareUpdate.stdout} ${raw.softwareUpdate.stderr}`.trim();
    return unrecognised(
      `softwareupdate --list printed something unexpected: ${text.slice(0, 200)}`,
    );
  }
  const system = preferencesOf(raw.preferences);
  const managed = preferencesOf(raw.managedPreferences);
  if (system === null || managed === null) {
    return unrecognised('defaults read com.apple.SoftwareUpdate printed something unexpected');
  }
  const setting = (key: string) => readBoolean(managed.get(key) ?? system.get(key));
  const check = setting('AutomaticCheckEnabled');
  const download = setting('AutomaticDownload');
  const install = setting('AutomaticallyInstallMacOSUpdates');
  const critical = setting('CriticalUpdateInstall');
  // Unset check/download/critical keys mean Apple's default, on (mondoohq/cnspec-policies#64);
  // whether macOS updates install by themselves has no reliable default, so unset is unknown.
  const off = check === false || download === false || install === false || critical === false;
  const automaticUpdates = off ? false : install;
  const security = list.filter((item) => isRequiredUpdate(item, version));
  const lastFull = system.get('LastFullSuccessfulDate');
  // "2021-02-23 07:52:51 +0000": the last full successful check, not an install
  // (usnistgov/macos_security#537); the pending list above says whether it installed.
  const iso = lastFull?.replace(
    /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)$/,
    '$1T$2$3:$4',
  );
  const lastUpdateAt =
    iso !== undefined && !Number.isNaN(Date.parse(iso)) ? new Date(iso).toISOString() : null;
  return {
    ok: true,
    facts: {
      osName: 'macOS',
      osReleaseId: null,
      osVersion: version,
      automaticUpdates,
      automaticUpdatesDetail: `AutomaticCheckEnabled=${String(check)}, AutomaticDownload=${String(download)}, AutomaticallyInstallMacOSUpdates=${String(install)}, CriticalUpdateInstall=${String(critical)} (null = not set)`,
      lastUpdateAt,
      lastUpdateSource:
        'com.apple.SoftwareUpdate LastFullSuccessfulDate (last full successful check)',
      pendingUpdates: list.length,
      pendingSecurityUpdates: security.length,
      pendingSecurityTitles: security.slice(0, MAX_TITLES).map(updateName),
      pendingFirstSeen: {},
      // macOS keeps no documented "restart pending" flag; not measured.
      rebootPending: null,
      problems: [],
    },
  };
}

/** The macOS half of the os-updates check. */
export const darwin = platformCheck({ probe, parse });
