import { describe, expect, it } from 'vitest';
import { parse } from '../../../../../agent/core/checks/firewall/darwin.ts';
import { firewallCheck } from '../../../../../agent/core/checks/firewall/index.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { fakeHost, fixture, ok } from './fixtures.ts';

const SOCKETFILTERFW = '/usr/libexec/ApplicationFirewall/socketfilterfw';

describe('darwin firewall parser on recorded socketfilterfw output', () => {
  const cases: [string, 'on' | 'off', string][] = [
    ['enabled-state1.txt', 'on', 'State = 1'],
    ['enabled-state2-big-sur.txt', 'on', 'State = 2'],
    ['blocking-all-state2-sequoia.txt', 'on', 'State = 2'],
    ['disabled-state0-macos26.txt', 'off', 'State = 0'],
  ];
  it.each(cases)('%s → %s', (name, state, detail) => {
    expect(parse(ok(fixture('darwin', name)))).toEqual({
      ok: true,
      facts: {
        rule: 'any',
        components: [{ name: 'Application Firewall', state, detail, reason: null }],
      },
    });
  });

  it('refuses several options answered at once (extra lines are not guessed at)', () => {
    const parsed = parse(ok(fixture('darwin', 'multi-option-kolide.txt')));
    expect(parsed).toMatchObject({ ok: false, code: 'unrecognised-output' });
  });

  it('refuses empty output, stderr text, a non-zero exit and mismatched words', () => {
    const line = fixture('darwin', 'enabled-state1.txt');
    expect(parse(ok(''))).toMatchObject({ ok: false, code: 'unrecognised-output' });
    expect(parse({ stdout: line, stderr: 'socketfilterfw: error', exitCode: 0 })).toMatchObject({
      ok: false,
    });
    expect(parse({ stdout: line, stderr: '', exitCode: 1 })).toMatchObject({ ok: false });
    // The disabled sentence with an "on" state number contradicts itself.
    const mixed = fixture('darwin', 'disabled-state0-macos26.txt').replace('0)', '1)');
    expect(parse(ok(mixed))).toMatchObject({ ok: false, code: 'unrecognised-output' });
    expect(parse(ok(`> ${line}`))).toMatchObject({ ok: false, code: 'unrecognised-output' });
  });
});

describe('darwin firewall probe plumbing', () => {
  it('runs socketfilterfw and fails a disabled firewall', async () => {
    const host = fakeHost({
      [SOCKETFILTERFW]: ok(fixture('darwin', 'disabled-state0-macos26.txt')),
    });
    const result = await runCheck(firewallCheck, {
      os: 'darwin',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result.status).toBe('fail');
  });

  it('is unknown (command-missing) when socketfilterfw is absent', async () => {
    const result = await runCheck(firewallCheck, {
      os: 'darwin',
      host: fakeHost({}),
      policy: await readDefaultPolicy(),
    });
    expect(result.status).toBe('unknown');
    expect(result.reason?.code).toBe('command-missing');
  });
});
