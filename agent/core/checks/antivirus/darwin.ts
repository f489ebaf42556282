import type { Host } from '../../host.ts';
import type { CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { product, type AntivirusFacts } from './facts.ts';

const TIMEOUT_MS = 10_000;

/**
 * XProtect bundles, newest first. From macOS 15 the live copy is under /var/protected (root
 * only) and the CoreServices one can be stale; before 15 only CoreServices exists
 * (Eclectic Light, "How XProtect has changed in macOS Sequoia").
 */
export const XPROTECT_PLISTS = [
  '/var/protected/xprotect/XProtect.bundle/Contents/Info.plist',
  '/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist',
] as const;

/** Raw outputs of the macOS probe. */
export type DarwinRaw = {
  spctl: CommandOutput;
  /** `defaults read <plist> CFBundleShortVersionString` per bundle path, in XPROTECT_PLISTS order. */
  xprotect: { path: string; output: CommandOutput }[];
};

/** Runs `spctl --status` and reads the XProtect version of each bundle with `defaults`. */
export async function probe(host: Host): Promise<DarwinRaw> {
  const spctl = await host.run('/usr/sbin/spctl', ['--status'], { timeoutMs: TIMEOUT_MS });
  const xprotect: DarwinRaw['xprotect'] = [];
  for (const path of XPROTECT_PLISTS) {
    // `defaults` reads binary and XML plists alike; a missing file exits 1 with a message.
    const output = await host.run(
      '/usr/bin/defaults',
      ['read', path, 'CFBundleShortVersionString'],
      {
        timeoutMs: TIMEOUT_MS,
      },
    );
    xprotect.push({ path, output });
  }
  return { spctl, xprotect };
}

/** Reads `spctl --status`: exactly `assessments enabled` or `assessments disabled` (spctl(8)). */
export function parseGatekeeper(output: CommandOutput): 'enabled' | 'disabled' | null {
  // The state line may arrive on stdout or stderr depending on the macOS release.
  const lines = `${output.stdout}\n${output.stderr}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.includes('assessments enabled')) {
    return 'enabled';
  }
  if (lines.includes('assessments disabled')) {
    return 'disabled';
  }
  return null;
}

/** Reads one `defaults read … CFBundleShortVersionString` answer: a bare version number. */
export function parseXProtectVersion(output: CommandOutput): string | null {
  const text = output.stdout.trim();
  return output.exitCode === 0 && /^\d+(\.\d+)*$/.test(text) ? text : null;
}

/** XProtect and Gatekeeper as facts. XProtect has no signature date: see evaluate.ts. */
export function parse(raw: DarwinRaw): Parsed<AntivirusFacts> {
  const gatekeeper = parseGatekeeper(raw.spctl);
  if (gatekeeper === null) {
    const text = `${raw.spctl.stdout}${raw.spctl.stderr}`.trim().slice(0, 200);
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: `spctl --status said: ${JSON.stringify(text)}`,
    };
  }
  const found = raw.xprotect
    .map((entry) => ({ path: entry.path, version: parseXProtectVersion(entry.output) }))
    .find((entry) => entry.version !== null);
  if (!found?.version) {
    // Every Mac since 10.6 ships XProtect; not finding it is a broken probe, not a finding.
    return {
      ok: true,
      facts: { products: [], gatekeeper, errors: ['no XProtect version could be read'] },
    };
  }
  return {
    ok: true,
    facts: {
      products: [
        product('XProtect', 'xprotect', 'on', {
          version: found.version,
          detail: `read from ${found.path}`,
        }),
      ],
      gatekeeper,
      errors: [],
    },
  };
}

/** macOS half of the antivirus check (XProtect + Gatekeeper). */
export const darwin = platformCheck({ probe, parse });
