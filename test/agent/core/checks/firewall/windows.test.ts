import { describe, expect, it } from 'vitest';
import { firewallCheck } from '../../../../../agent/core/checks/firewall/index.ts';
import { parse } from '../../../../../agent/core/checks/firewall/windows.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { fakeHost, fixture, ok } from './fixtures.ts';

const c = (name: string, state: 'on' | 'off', detail: string) => ({
  name,
  state,
  detail,
  reason: null,
});

describe('windows firewall parser on transcribed Get-NetFirewallProfile output', () => {
  it('all three profiles on (Windows Server 2025)', () => {
    const detail = 'Enabled=1, DefaultInboundAction=NotConfigured';
    expect(parse(fixture('windows', 'all-on-server-2025.json'))).toEqual({
      ok: true,
      facts: {
        rule: 'all',
        components: [
          c('Domain', 'on', detail),
          c('Private', 'on', detail),
          c('Public', 'on', detail),
        ],
      },
    });
  });

  it('Private and Public off, Domain on', () => {
    expect(parse(fixture('windows', 'private-public-off.json'))).toEqual({
      ok: true,
      facts: {
        rule: 'all',
        components: [
          c('Domain', 'on', 'Enabled=1, DefaultInboundAction=not reported'),
          c('Private', 'off', 'Enabled=0, DefaultInboundAction=not reported'),
          c('Public', 'off', 'Enabled=0, DefaultInboundAction=not reported'),
        ],
      },
    });
  });

  it('all off', () => {
    const parsed = parse(fixture('windows', 'all-off.json'));
    expect(parsed.ok && parsed.facts.components.map((x) => x.state)).toEqual(['off', 'off', 'off']);
  });

  it('turns the script error field into probe-failed with the message', () => {
    expect(parse(fixture('windows', 'error-network-name.json'))).toEqual({
      ok: false,
      code: 'probe-failed',
      detail: 'Get-NetFirewallProfile: The specified network name is no longer available.',
    });
  });

  it.each([
    'format-list-all-off.txt',
    'constructed-netsh-german-state.txt',
    'netsh-french-domain-profile.txt',
  ])('refuses text that is not the probe JSON (%s)', (name) => {
    expect(parse(fixture('windows', name))).toMatchObject({
      ok: false,
      code: 'unrecognised-output',
    });
  });

  it('refuses a missing profile, a string enum and an unknown action number', () => {
    const json = JSON.parse(fixture('windows', 'all-on-server-2025.json')) as {
      profiles: Record<string, unknown>[];
    };
    const variant = (edit: (p: Record<string, unknown>[]) => void): string => {
      const copy = structuredClone(json);
      edit(copy.profiles);
      return JSON.stringify(copy);
    };
    expect(parse(variant((p) => p.pop())).ok).toBe(false);
    expect(parse(variant((p) => (p[0] = { ...p[0], Enabled: 'True' }))).ok).toBe(false);
    expect(parse(variant((p) => (p[2] = { ...p[2], DefaultInboundAction: 3 }))).ok).toBe(false);
    expect(parse('').ok).toBe(false);
  });

  it('reads NotConfigured as unknown and an enabled Allow-all profile as off', () => {
    const json = fixture('windows', 'all-on-server-2025.json')
      .replace('"Name":"Domain","Enabled":1', '"Name":"Domain","Enabled":2')
      .replace(
        '"Name":"Public","Enabled":1,"DefaultInboundAction":0',
        '"Name":"Public","Enabled":1,"DefaultInboundAction":2',
      );
    const parsed = parse(json);
    expect(parsed.ok && parsed.facts.components.map((x) => x.state)).toEqual([
      'unknown',
      'on',
      'off',
    ]);
  });

  it('accepts the UTF-8 BOM Windows PowerShell may print first', () => {
    expect(parse(`\uFEFF${fixture('windows', 'all-on-server-2025.json')}`).ok).toBe(true);
  });
});

describe('windows firewall probe plumbing', () => {
  it('runs powershell.exe and passes a machine with every profile on', async () => {
    const host = fakeHost({ 'powershell.exe': ok(fixture('windows', 'all-on-server-2025.json')) });
    const result = await runCheck(firewallCheck, {
      os: 'windows',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result.status).toBe('pass');
    expect(result.evidence).toMatchObject({ rule: 'all' });
  });

  it('is unknown (command-missing) without PowerShell', async () => {
    const result = await runCheck(firewallCheck, {
      os: 'windows',
      host: fakeHost({}),
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });
});
