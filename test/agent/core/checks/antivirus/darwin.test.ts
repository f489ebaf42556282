import { describe, expect, it } from 'vitest';
import {
  parse,
  parseGatekeeper,
  parseXProtectVersion,
  probe,
  XPROTECT_PLISTS,
} from '../../../../../agent/core/checks/antivirus/darwin.ts';
import { antivirusCheck } from '../../../../../agent/core/checks/antivirus/index.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import type { Host } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { ProbeError, type CommandOutput } from '../../../../../agent/core/runner.ts';
import { fixtureText } from './fixtures.ts';

const out = (stdout: string, exitCode = 0, stderr = ''): CommandOutput => ({
  stdout,
  stderr,
  exitCode,
});
const missing = out('', 1, fixtureText('darwin', 'defaults-read-missing.stderr.txt'));
// Recorded on macOS 26.5.2 (arm64) from the CoreServices bundle: see SOURCES.md.
const version = out(fixtureText('darwin', 'defaults-read-xprotect-5287-macos26.txt'));

describe('parseGatekeeper on recorded spctl --status outputs', () => {
  it.each([
    ['spctl-status-enabled.txt', 'enabled'],
    ['spctl-status-enabled-macos26.txt', 'enabled'],
    ['spctl-status-disabled.txt', 'disabled'],
  ])('%s → %s', (name, expected) => {
    expect(parseGatekeeper(out(fixtureText('darwin', name)))).toBe(expected);
  });

  it('reads the state from stderr too', () => {
    expect(parseGatekeeper(out('', 0, fixtureText('darwin', 'spctl-status-enabled.txt')))).toBe(
      'enabled',
    );
  });

  it.each([
    ['nothing', ''],
    ['another language', 'évaluations activées'],
    ['a prefixed line', 'status: assessments enabled'],
  ])('does not guess on %s', (_label, text) => {
    expect(parseGatekeeper(out(text))).toBeNull();
  });
});

describe('parseXProtectVersion', () => {
  it('reads the bare version (recorded on macOS 26)', () => {
    expect(parseXProtectVersion(version)).toBe('5287');
  });
  it('a missing plist (recorded defaults error) is no version', () => {
    expect(parseXProtectVersion(missing)).toBeNull();
  });
});

describe('parse (macOS raw → facts)', () => {
  const spctl = out(fixtureText('darwin', 'spctl-status-enabled.txt'));
  it('macOS 15+: the /var/protected copy wins', () => {
    // Plumbing: which bundle wins. The second answer is an inline value, not a recording.
    const parsed = parse({
      spctl,
      xprotect: [
        { path: XPROTECT_PLISTS[0], output: version },
        { path: XPROTECT_PLISTS[1], output: out('2192\n') },
      ],
    });
    expect(parsed).toMatchObject({
      ok: true,
      facts: {
        gatekeeper: 'enabled',
        errors: [],
        products: [{ name: 'XProtect', state: 'on', version: '5287' }],
      },
    });
  });

  it('before macOS 15: only the CoreServices bundle answers', () => {
    const parsed = parse({
      spctl: out(fixtureText('darwin', 'spctl-status-disabled.txt')),
      xprotect: [
        { path: XPROTECT_PLISTS[0], output: missing },
        { path: XPROTECT_PLISTS[1], output: version },
      ],
    });
    expect(parsed).toMatchObject({
      ok: true,
      facts: { gatekeeper: 'disabled', products: [{ version: '5287' }] },
    });
  });

  it('no XProtect readable is a gap, not "no anti-virus"', () => {
    const parsed = parse({
      spctl,
      xprotect: XPROTECT_PLISTS.map((path) => ({ path, output: missing })),
    });
    expect(parsed).toMatchObject({
      ok: true,
      facts: { products: [], errors: ['no XProtect version could be read'] },
    });
  });

  it('unrecognised spctl output fails closed', () => {
    expect(parse({ spctl: out(''), xprotect: [] })).toMatchObject({
      ok: false,
      code: 'unrecognised-output',
    });
  });
});

describe('macOS probe plumbing', () => {
  const files: Host['files'] = {
    readBytes: () => Promise.resolve(null),
    readText: () => Promise.resolve(null),
    mtime: () => Promise.resolve(null),
    list: () => Promise.resolve(null),
  };

  it('runs spctl and defaults with argument arrays', async () => {
    const calls: string[][] = [];
    const host: Host = {
      run: (command, args) => {
        calls.push([command, ...args]);
        return Promise.resolve(command.endsWith('spctl') ? out('assessments enabled\n') : version);
      },
      files,
      now: () => new Date('2025-01-01T00:00:00Z'),
    };
    const raw = await probe(host);
    expect(calls).toEqual([
      ['/usr/sbin/spctl', '--status'],
      ['/usr/bin/defaults', 'read', XPROTECT_PLISTS[0], 'CFBundleShortVersionString'],
      ['/usr/bin/defaults', 'read', XPROTECT_PLISTS[1], 'CFBundleShortVersionString'],
    ]);
    expect(raw.xprotect).toHaveLength(2);
  });

  it('a missing spctl becomes unknown command-missing', async () => {
    const host: Host = {
      run: (command) =>
        Promise.reject(new ProbeError('command-missing', `${command} is not installed`)),
      files,
      now: () => new Date('2025-01-01T00:00:00Z'),
    };
    const result = await runCheck(antivirusCheck, {
      os: 'darwin',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });
});
