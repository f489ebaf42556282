import { describe, expect, it } from 'vitest';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { antivirusCheck } from '../../../../../agent/core/checks/antivirus/index.ts';
import {
  decodeProductState,
  parse,
  parseDefender,
  parseSecurityCenter,
} from '../../../../../agent/core/checks/antivirus/windows.ts';
import { fakeHost } from '../../../../helpers/fake-host.ts';
import { fixtureText } from './fixtures.ts';

const json = (name: string): unknown => JSON.parse(fixtureText('windows', name));

describe('decodeProductState (community bit layout, PLATFORMS.md §2)', () => {
  it.each([
    [266240, 'on', false], // 0x41000 third-party on, current
    [266256, 'on', true], // 0x41010 on, out of date
    [397568, 'on', false], // 0x61100 Defender on, current
    [393472, 'off', false], // 0x60100 Defender off
    [262144, 'off', false], // 0x40000
    [0x42000, 'snoozed', false],
    [0x43000, 'expired', false],
    [0x44000, 'unknown', false],
  ])('%i → %s, out of date %s', (value, state, outOfDate) => {
    expect(decodeProductState(value)).toEqual({ state, signaturesOutOfDate: outOfDate });
  });
});

describe('parseSecurityCenter on recorded AntiVirusProduct outputs', () => {
  it.each([
    ['wsc-defender-on', [['Windows Defender', 'on', false]], 0],
    ['wsc-defender-2016-msascui', [['Windows Defender', 'on', false]], 0],
    [
      'wsc-bitdefender-defender-off',
      [
        ['Bitdefender Antivirus', 'on', false],
        ['Windows Defender', 'off', false],
      ],
      1,
    ],
    [
      'wsc-sentinelone-defender-off',
      [
        ['Sentinel Agent', 'on', false],
        ['Windows Defender', 'off', false],
      ],
      1,
    ],
  ])('%s', (name, expected, defenderIndex) => {
    const parsed = parseSecurityCenter(json(`${name}.securitycenter.json`));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) {
      return;
    }
    expect(parsed.facts.defenderIndex).toBe(defenderIndex);
    expect(
      parsed.facts.products.map((item) => [item.name, item.state, item.signaturesOutOfDate]),
    ).toEqual(expected);
  });

  it('accepts the { value, Count } wrapping Windows PowerShell 5.1 can give arrays', () => {
    const section = json('wsc-defender-on.securitycenter.json') as { products: unknown[] };
    const parsed = parseSecurityCenter({ products: { value: section.products, Count: 1 } });
    expect(parsed.ok && parsed.facts.products[0]?.state).toBe('on');
  });

  it.each([
    ['not a list', { products: 'Windows Defender' }],
    ['missing productState', { products: [{ displayName: 'Windows Defender' }] }],
    ['productState as text', { products: [{ displayName: 'X', productState: '397568' }] }],
    ['no name', { products: [{ productState: 397568 }] }],
  ])('fails closed on %s', (_label, section) => {
    expect(parseSecurityCenter(section)).toMatchObject({ ok: false, code: 'unrecognised-output' });
  });
});

describe('parseDefender on recorded Get-MpComputerStatus outputs', () => {
  it('mp-normal-2024: on, 1 day old, tamper protection off', () => {
    const parsed = parseDefender(json('mp-normal-2024.defender.json'));
    expect(parsed).toMatchObject({
      ok: true,
      facts: {
        defender: {
          state: 'on',
          signatureAgeDays: 1,
          signaturesUpdatedAt: '2024-06-04T08:06:27.0000000Z',
          signaturesOutOfDate: false,
          version: '1.413.102.0',
          detail: 'AMRunningMode Normal; tamper protection off',
        },
      },
    });
  });

  it('mp-de-edr-block-2021 (German-locale dates): EDR block mode is passive, not on', () => {
    const parsed = parseDefender(json('mp-de-edr-block-2021.defender.json'));
    expect(parsed).toMatchObject({
      ok: true,
      facts: {
        defender: {
          state: 'passive',
          signatureAgeDays: 0,
          signaturesUpdatedAt: '2021-02-25T22:37:08.0000000Z',
          signaturesOutOfDate: null,
          version: '1.331.1839.0',
          detail: 'AMRunningMode EDR Block Mode; tamper protection off',
        },
      },
    });
  });

  it('ignores the German wall-clock date if it ever reached the parser untransformed', () => {
    const section = {
      ...(json('mp-de-edr-block-2021.defender.json') as object),
      AntivirusSignatureLastUpdated: '25.02.2021 22:37:08',
    };
    expect(parseDefender(section)).toMatchObject({
      ok: true,
      facts: { defender: { signaturesUpdatedAt: null } },
    });
  });

  it('mp-stale-rtp-off: real-time protection off is off, whatever the other flags say', () => {
    const parsed = parseDefender(json('mp-stale-rtp-off.defender.json'));
    expect(parsed).toMatchObject({
      ok: true,
      facts: { defender: { state: 'off', signatureAgeDays: 904, signaturesOutOfDate: null } },
    });
  });

  it.each([
    ['Passive Mode', 'passive'],
    ['SxS Passive Mode', 'passive'],
    ['EDR Block Mode', 'passive'],
    ['Not running', 'off'],
  ])('AMRunningMode %s → %s', (mode, state) => {
    const section = { ...(json('mp-normal-2024.defender.json') as object), AMRunningMode: mode };
    expect(parseDefender(section)).toMatchObject({ ok: true, facts: { defender: { state } } });
  });

  it('ignores a date without an offset and a "never" age (4294967295)', () => {
    const section = {
      ...(json('mp-normal-2024.defender.json') as object),
      AntivirusSignatureLastUpdated: '06/04/2024 08:06:27',
      AntivirusSignatureAge: 4294967295,
    };
    expect(parseDefender(section)).toMatchObject({
      ok: true,
      facts: { defender: { signaturesUpdatedAt: null, signatureAgeDays: null } },
    });
  });

  it('fails closed when no protection flag is present', () => {
    expect(parseDefender({ AMRunningMode: 'Normal' })).toMatchObject({ ok: false });
  });
});

describe('parse (the whole script output)', () => {
  const envelope = (securityCenter: unknown, defender: unknown): string =>
    JSON.stringify({ securityCenter, defender });

  it('server-2022-fr: no Security Center, Defender flags incomplete → unknown state, gap recorded', () => {
    const parsed = parse(fixtureText('windows', 'server-2022-fr.output.json'));
    expect(parsed).toMatchObject({
      ok: true,
      facts: {
        products: [{ name: 'Microsoft Defender Antivirus', state: 'unknown', signatureAgeDays: 2 }],
        errors: ['Security Center: Espace de noms non valide'],
      },
    });
  });

  it('merges Get-MpComputerStatus into the registered Defender entry', () => {
    const raw = envelope(
      json('wsc-defender-on.securitycenter.json'),
      json('mp-normal-2024.defender.json'),
    );
    const parsed = parse(`\uFEFF${raw}\r\n`);
    expect(parsed.ok && parsed.facts.products).toMatchObject([
      { name: 'Windows Defender', source: 'microsoft-defender', state: 'on', signatureAgeDays: 1 },
    ]);
  });

  it('third-party on + Get-MpComputerStatus failing with 0x800106ba is not a gap', () => {
    // Two recordings from different machines (no source published both): the Security Center
    // list of the Bitdefender client and the 0x800106ba failure of a CrowdStrike machine.
    const raw = envelope(
      json('wsc-bitdefender-defender-off.securitycenter.json'),
      json('mp-error-800106ba-crowdstrike.defender.json'),
    );
    const parsed = parse(raw);
    expect(parsed).toMatchObject({ ok: true, facts: { errors: [] } });
    expect(parsed.ok && parsed.facts.products.map((item) => item.state)).toEqual(['on', 'off']);
    expect(parsed.ok && parsed.facts.products[1]?.detail).toBe(
      'productState 0x60100; Get-MpComputerStatus: A general error occurred that is not covered by a more specific error code.',
    );
  });

  it('the 0x800106ba failure with no Security Center either is a recorded gap', () => {
    const raw = envelope(
      { error: 'Espace de noms non valide' },
      json('mp-error-800106ba-crowdstrike.defender.json'),
    );
    expect(parse(raw)).toMatchObject({
      ok: true,
      facts: {
        products: [],
        errors: [
          'Security Center: Espace de noms non valide',
          'Get-MpComputerStatus: A general error occurred that is not covered by a more specific error code.',
        ],
      },
    });
  });

  it('both sections failed → no products and two errors', () => {
    const parsed = parse(envelope({ error: 'Invalid namespace ' }, { error: 'Access denied' }));
    expect(parsed).toMatchObject({
      ok: true,
      facts: { products: [], errors: [expect.any(String), expect.any(String)] },
    });
  });

  it.each([
    ['empty output', ''],
    ['an error line', 'Get-CimInstance : Zugriff verweigert\r\n'],
    ['another JSON object', '{"value":1}'],
    ['a list', '[]'],
    ['truncated JSON', '{"securityCenter":{"products":['],
  ])('fails closed on %s', (_label, raw) => {
    expect(parse(raw)).toMatchObject({ ok: false, code: 'unrecognised-output' });
  });
});

describe('Windows probe plumbing', () => {
  const now = new Date('2024-06-05T00:00:00Z');

  it('a missing powershell.exe becomes unknown command-missing', async () => {
    const result = await runCheck(antivirusCheck, {
      os: 'windows',
      host: fakeHost({ now }),
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });

  it('passes the script to powershell.exe and parses what it prints', async () => {
    const stdout = JSON.stringify({
      securityCenter: json('wsc-defender-on.securitycenter.json'),
      defender: json('mp-normal-2024.defender.json'),
    });
    const host = fakeHost({
      commands: { 'powershell.exe': { stdout, stderr: '', exitCode: 0 } },
      now,
    });
    const result = await runCheck(antivirusCheck, {
      os: 'windows',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(host.calls.map((c) => `${c.command} ${c.args.slice(0, 4).join(' ')}`)).toEqual([
      'powershell.exe -NoProfile -NonInteractive -NoLogo -ExecutionPolicy',
    ]);
    expect(result).toMatchObject({
      status: 'pass',
      summary: 'Anti-virus (Windows Defender) is on and up to date.',
    });
  });
});
