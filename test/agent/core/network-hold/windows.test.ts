// The Windows hold: the block rules (exactly), the PowerShell that makes them (parsed with the
// tree-sitter grammar, as every .ps1 of the agent is: nothing here runs PowerShell), hostile
// targets refused before any script exists, the reports read from recorded outputs (see
// test/fixtures/windows/network-hold/README.md), and the hold driven through a runner that
// answers with those recordings. None of this ran on Windows.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Language, Parser } from 'web-tree-sitter';
import {
  HOLD_GROUP,
  MAX_TARGETS,
  parseWindowsHoldReport,
  parseWindowsReleaseReport,
  windowsHoldPlan,
  windowsHoldScript,
  windowsReleaseScript,
} from '../../../../agent/core/network-hold/windows-script.ts';
import { WindowsNetworkHold } from '../../../../agent/core/network-hold/windows.ts';
import { powershellArgs } from '../../../../agent/core/powershell.ts';
import type { CommandOutput, Runner } from '../../../../agent/core/runner.ts';
import { ProbeError } from '../../../../agent/core/runner.ts';

const repo = new URL('../../../../', import.meta.url);
const fixture = (name: string) =>
  readFileSync(new URL(`test/fixtures/windows/network-hold/${name}`, repo), 'utf8');

const TARGETS = [
  { address: '10.0.0.5', port: 443 },
  { address: '192.0.2.10', port: null },
  { address: '2001:db8::5', port: 443 },
];

const EVERYTHING = 'Hallpass AUP hold: everything but the Hallpass server and allowlist';

describe('windowsHoldPlan', () => {
  it('blocks each protocol to everywhere but the targets, then other ports of port-limited ones', () => {
    expect(windowsHoldPlan(TARGETS)).toEqual({
      elsewhere4: [
        '0.0.0.0-10.0.0.4',
        '10.0.0.6-126.255.255.255',
        '128.0.0.0-192.0.2.9',
        '192.0.2.11-255.255.255.254',
      ],
      elsewhere6: [
        '0:0:0:0:0:0:0:0',
        '0:0:0:0:0:0:0:2-2001:db8:0:0:0:0:0:4',
        '2001:db8:0:0:0:0:0:6-fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        'fec0:0:0:0:0:0:0:0-ff01:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        'ff03:0:0:0:0:0:0:0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      ],
      rules: [
        {
          name: 'Hallpass-AUP-hold-1',
          displayName: `${EVERYTHING} (TCP)`,
          protocol: 'TCP',
          remote: 'elsewhere',
          remotePort: ['1-52', '54-65535'],
        },
        {
          name: 'Hallpass-AUP-hold-2',
          displayName: `${EVERYTHING} (UDP)`,
          protocol: 'UDP',
          remote: 'elsewhere',
          remotePort: ['1-52', '54-66', '68-546', '548-65535'],
        },
        {
          name: 'Hallpass-AUP-hold-3',
          displayName: `${EVERYTHING} (ICMPv4)`,
          protocol: 'ICMPv4',
          remote: 'elsewhere-v4',
          remotePort: null,
        },
        {
          name: 'Hallpass-AUP-hold-4',
          displayName: `${EVERYTHING} (ICMPv6)`,
          protocol: 'ICMPv6',
          remote: 'elsewhere-v6',
          remotePort: null,
        },
        {
          name: 'Hallpass-AUP-hold-5',
          displayName: 'Hallpass AUP hold: TCP ports other than 443',
          protocol: 'TCP',
          remote: ['10.0.0.5', '2001:db8:0:0:0:0:0:5'],
          remotePort: ['1-52', '54-442', '444-65535'],
        },
        {
          name: 'Hallpass-AUP-hold-6',
          displayName: 'Hallpass AUP hold: UDP ports other than 443',
          protocol: 'UDP',
          remote: ['10.0.0.5', '2001:db8:0:0:0:0:0:5'],
          remotePort: ['1-52', '54-66', '68-442', '444-546', '548-65535'],
        },
      ],
    });
  });

  it('with nothing allowed holds to loopback, the link, DNS and DHCP only', () => {
    const plan = windowsHoldPlan([]);
    expect(plan.rules.map((r) => [r.protocol, r.remote])).toEqual([
      ['TCP', 'elsewhere'],
      ['UDP', 'elsewhere'],
      ['ICMPv4', 'elsewhere-v4'],
      ['ICMPv6', 'elsewhere-v6'],
    ]);
    expect(plan.elsewhere4).toEqual(['0.0.0.0-126.255.255.255', '128.0.0.0-255.255.255.254']);
    expect(plan.elsewhere6).toEqual([
      '0:0:0:0:0:0:0:0',
      '0:0:0:0:0:0:0:2-fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      'fec0:0:0:0:0:0:0:0-ff01:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      'ff03:0:0:0:0:0:0:0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ]);
  });

  it('an address open on any port is not port-limited by another entry for it', () => {
    const plan = windowsHoldPlan([
      { address: '10.0.0.5', port: 443 },
      { address: '10.0.0.5', port: null },
      { address: '10.0.0.6', port: 1 },
      { address: '10.0.0.6', port: 65535 },
    ]);
    expect(plan.elsewhere4.slice(0, 2)).toEqual(['0.0.0.0-10.0.0.4', '10.0.0.7-126.255.255.255']);
    expect(plan.rules.slice(4).map((r) => [r.protocol, r.remote, r.remotePort])).toEqual([
      ['TCP', ['10.0.0.6'], ['2-52', '54-65534']],
      ['UDP', ['10.0.0.6'], ['2-52', '54-66', '68-546', '548-65534']],
    ]);
  });
});

describe('windowsHoldScript', async () => {
  await Parser.init();
  const parser = new Parser();
  parser.setLanguage(
    await Language.load(
      new URL('node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm', repo).pathname,
    ),
  );
  // As test/agent/core/powershell.test.ts holds every shipped .ps1 to: Windows ships 5.1.
  const PS7_ONLY = [/\?\?/, /\?\./, /&&|\|\|/, /-EnumsAsStrings/i, /-AsHashtable/i];

  it('the grammar catches a syntax error (the test can fail)', () => {
    expect(parser.parse('New-NetFirewallRule -RemoteAddress @(')?.rootNode.hasError).toBe(true);
  });

  it.each([
    ['hold', windowsHoldScript(TARGETS)],
    ['hold to nothing', windowsHoldScript([])],
    ['release', windowsReleaseScript()],
  ])('the %s script parses, targets 5.1 and prints UTF-8 JSON', (_name, script) => {
    expect(parser.parse(script)?.rootNode.hasError).toBe(false);
    for (const pattern of PS7_ONLY) {
      expect(pattern.test(script)).toBe(false);
    }
    expect(script).toMatch(/\[Console\]::OutputEncoding\s*=\s*\[System\.Text\.Encoding\]::UTF8/);
    expect(script).toMatch(/ConvertTo-Json -InputObject \$result -Depth 5 -Compress/);
    expect(script).toContain(`$group = '${HOLD_GROUP}'`);
  });

  it('makes each rule in the group, after removing any hold, taking all back on failure', () => {
    const script = windowsHoldScript(TARGETS);
    const lines = script.split('\r\n').map((line) => line.trim());
    const made = lines.filter((line) => line.startsWith('New-NetFirewallRule'));
    expect(made).toHaveLength(6);
    expect(made[0]).toBe(
      `New-NetFirewallRule -Name 'Hallpass-AUP-hold-1' -DisplayName '${EVERYTHING} (TCP)' ` +
        '-Group $group -Direction Outbound -Action Block -Profile Any -Protocol TCP ' +
        "-RemoteAddress ($elsewhere4 + $elsewhere6) -RemotePort @('1-52', '54-65535') | Out-Null",
    );
    expect(made[4]).toBe(
      "New-NetFirewallRule -Name 'Hallpass-AUP-hold-5' -DisplayName 'Hallpass AUP hold: TCP ports other than 443' " +
        '-Group $group -Direction Outbound -Action Block -Profile Any -Protocol TCP ' +
        "-RemoteAddress @('10.0.0.5', '2001:db8:0:0:0:0:0:5') -RemotePort @('1-52', '54-442', '444-65535') | Out-Null",
    );
    expect(lines).toContain(
      "$elsewhere4 = @('0.0.0.0-10.0.0.4', '10.0.0.6-126.255.255.255', '128.0.0.0-192.0.2.9', '192.0.2.11-255.255.255.254')",
    );
    expect(lines.indexOf('Remove-Hold')).toBeLessThan(lines.findIndex((l) => l.startsWith('New-')));
    expect(script).toMatch(/catch \{\r\n {2}\$result\.error = .*\r\n.*\r\n {2}Remove-Hold\r\n\}/);
    expect(script).toContain('Get-NetFirewallRule -PolicyStore ActiveStore -Group $group');
    // The release script removes and reports; it makes nothing.
    expect(windowsReleaseScript()).not.toContain('New-NetFirewallRule');
  });

  it.each([
    "10.0.0.5'; Remove-NetFirewallRule -All; '",
    '10.0.0.5`; calc',
    '10.0.0.5\r\nStop-Computer',
    '$(Stop-Computer)',
    'fe80::1%"',
    '10.0.0.0/0',
    'mis.trust.example',
  ])('refuses the hostile target %j before any script exists', (address) => {
    expect(() => windowsHoldScript([{ address, port: 443 }])).toThrow(
      /not an address and port a firewall can hold to/,
    );
  });

  it(`fits ${String(MAX_TARGETS)} IPv6 targets on one command line, and refuses more`, () => {
    const many = Array.from({ length: MAX_TARGETS }, (_, i) => ({
      address: `2001:db8:${((i * 7919) % 65536).toString(16)}:ffff:1234:5678:9abc:${(i + 1).toString(16)}`,
      port: 8443,
    }));
    const args = powershellArgs(windowsHoldScript(many));
    expect(['powershell.exe', ...args].join(' ').length).toBeLessThan(32_000);
    expect(() => windowsHoldScript([...many, { address: '10.9.9.9', port: null }])).toThrow(
      /too many addresses/,
    );
  });
});

describe('parseWindowsHoldReport (recorded outputs)', () => {
  it('a published Format-List of Get-NetFirewallRule is not the report', () => {
    const state = parseWindowsHoldReport(fixture('get-netfirewallrule-cortana-format-list.txt'), 1);
    expect(state.state).toBe('failed');
    expect(state.state === 'failed' && state.reason).toMatch(/did not print the hold's report/);
  });

  it('a rule that is disabled and allows is not a hold in force', () => {
    expect(parseWindowsHoldReport(fixture('report-cortana-rule-server-2025.json'), 1)).toEqual({
      state: 'failed',
      reason:
        "Windows Firewall shows 0 of the hold's 1 rules in force (Group Policy may not merge local rules)",
    });
  });

  it('an inbound block rule (Server 2025 capture) is not an outbound hold', () => {
    expect(parseWindowsHoldReport(fixture('report-inbound-block-server-2025.json'), 1)).toEqual({
      state: 'failed',
      reason:
        "Windows Firewall shows 0 of the hold's 1 rules in force (Group Policy may not merge local rules)",
    });
  });

  it('names the profiles that are off', () => {
    expect(parseWindowsHoldReport(fixture('report-private-public-off.json'), 1)).toEqual({
      state: 'failed',
      reason: 'Windows Firewall is off for the Private, Public profiles, so a hold would not hold',
    });
  });

  it('passes on what the cmdlet said when it refused', () => {
    expect(parseWindowsHoldReport(fixture('report-access-denied.json'), 3)).toEqual({
      state: 'failed',
      reason: 'Windows Firewall refused the hold: Access is denied.',
    });
  });

  it('the refusal as PowerShell prints it on stderr is not a hold', () => {
    const state = parseWindowsHoldReport(
      fixture('set-netfirewallrule-access-denied.stderr.txt'),
      3,
    );
    expect(state.state).toBe('failed');
  });

  it('every rule enabled, outbound and blocking in the active store, every profile on: held', () => {
    expect(parseWindowsHoldReport(fixture('constructed-report-held.json'), 6)).toEqual({
      state: 'held',
      rules: 6,
    });
    // One rule short is not a hold.
    expect(parseWindowsHoldReport(fixture('constructed-report-held.json'), 7).state).toBe('failed');
  });

  it.each(['', 'null', '[]', '{"error":5,"rules":[],"profiles":[]}', '{"rules":[{"Name":1}]}'])(
    'unrecognised %j is a failure with a reason, never held',
    (raw) => {
      const state = parseWindowsHoldReport(raw, 0);
      expect(state.state).toBe('failed');
    },
  );
});

describe('parseWindowsReleaseReport', () => {
  it('released when no rule of the group is left', () => {
    expect(parseWindowsReleaseReport(fixture('constructed-report-released.json'))).toEqual({
      state: 'released',
    });
  });

  it('not released while a rule is left, or when the report is not one', () => {
    expect(parseWindowsReleaseReport(fixture('constructed-report-held.json'))).toEqual({
      state: 'failed',
      reason: '6 rule(s) of the hold are still in Windows Firewall',
    });
    expect(
      parseWindowsReleaseReport(fixture('set-netfirewallrule-access-denied.stderr.txt')).state,
    ).toBe('failed');
  });
});

/** A runner that answers each PowerShell run with the next recorded output, and keeps the scripts. */
function recordedRunner(answers: (CommandOutput | Error)[]) {
  const scripts: string[] = [];
  const run: Runner = (command, args) => {
    expect(command).toBe('powershell.exe');
    const encoded = args[args.indexOf('-EncodedCommand') + 1] ?? '';
    scripts.push(Buffer.from(encoded, 'base64').toString('utf16le'));
    const answer = answers.shift();
    if (answer === undefined) {
      throw new Error('no recorded output left');
    }
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  };
  return { run, scripts };
}

const out = (stdout: string, stderr = '', exitCode = 0): CommandOutput => ({
  stdout,
  stderr,
  exitCode,
});

describe('WindowsNetworkHold', () => {
  it('holds when the active store shows every rule, releases when none is left', async () => {
    const { run, scripts } = recordedRunner([
      out(fixture('constructed-report-held.json')),
      out(fixture('constructed-report-released.json')),
    ]);
    const hold = new WindowsNetworkHold({ run });
    await hold.hold(TARGETS);
    expect(hold.held()).toBe(true);
    expect(scripts[0]).toBe(windowsHoldScript(TARGETS));
    await hold.release();
    expect(hold.held()).toBe(false);
    expect(scripts[1]).toBe(windowsReleaseScript());
    // Nothing held: release runs nothing.
    await hold.release();
    expect(scripts).toHaveLength(2);
  });

  it('says so when what was made cannot be taken back either', async () => {
    const { run } = recordedRunner([
      out(fixture('report-private-public-off.json')),
      out(fixture('report-private-public-off.json')),
    ]);
    await expect(new WindowsNetworkHold({ run }).hold(TARGETS)).rejects.toThrow(
      'could not hold the network: Windows Firewall is off for the Private, Public profiles, so a hold would not hold; ' +
        'what was made could not be taken back (could not release the network hold: 1 rule(s) of the hold are still in Windows Firewall)',
    );
  });

  it('a hold that is not in force is taken back and the reason given', async () => {
    const { run, scripts } = recordedRunner([
      out(fixture('report-private-public-off.json')),
      out(fixture('constructed-report-released.json')),
    ]);
    const hold = new WindowsNetworkHold({ run });
    await expect(hold.hold(TARGETS)).rejects.toThrow(
      'could not hold the network: Windows Firewall is off for the Private, Public profiles, so a hold would not hold',
    );
    expect(hold.held()).toBe(false);
    expect(scripts[1]).toBe(windowsReleaseScript());
  });

  it('PowerShell refusing (stderr only) or missing is a failure, never a hold', async () => {
    const denied = recordedRunner([
      out('', fixture('set-netfirewallrule-access-denied.stderr.txt'), 1),
      out(fixture('constructed-report-released.json')),
    ]);
    await expect(new WindowsNetworkHold({ run: denied.run }).hold(TARGETS)).rejects.toThrow(
      /could not hold the network: PowerShell did not print the hold's report: Set-NetFirewallRule : Access is denied\./,
    );
    const missing = recordedRunner([
      new ProbeError('command-missing', 'powershell.exe was not found'),
      new ProbeError('command-missing', 'powershell.exe was not found'),
    ]);
    const hold = new WindowsNetworkHold({ run: missing.run });
    await expect(hold.hold(TARGETS)).rejects.toThrow('powershell.exe was not found');
    expect(hold.held()).toBe(false);
  });

  it('a hostile target fails before PowerShell runs at all', async () => {
    const { run, scripts } = recordedRunner([]);
    await expect(
      new WindowsNetworkHold({ run }).hold([{ address: "1.2.3.4'; Stop-Computer; '", port: null }]),
    ).rejects.toThrow(/not an address and port/);
    expect(scripts).toHaveLength(0);
  });

  it('refuses, without running anything, a hold too long for one command line', async () => {
    // Fifty IPv6 targets each on its own port: a hundred port rules.
    const many = Array.from({ length: MAX_TARGETS }, (_, i) => ({
      address: `2001:db8:${((i * 7919) % 65536).toString(16)}:ffff:1234:5678:9abc:${(i + 1).toString(16)}`,
      port: 1000 + i,
    }));
    const { run, scripts } = recordedRunner([]);
    await expect(new WindowsNetworkHold({ run }).hold(many)).rejects.toThrow(
      'could not hold the network: too many addresses for one PowerShell command',
    );
    expect(scripts).toHaveLength(0);
  });

  it('clears a leftover hold at start, and says so when rules remain', async () => {
    const ok = recordedRunner([out(fixture('constructed-report-released.json'))]);
    await new WindowsNetworkHold({ run: ok.run }).clearLeftover();
    expect(ok.scripts).toEqual([windowsReleaseScript()]);
    const stuck = recordedRunner([out(fixture('constructed-report-held.json'))]);
    await expect(new WindowsNetworkHold({ run: stuck.run }).clearLeftover()).rejects.toThrow(
      'could not release the network hold: 6 rule(s) of the hold are still in Windows Firewall',
    );
  });
});
