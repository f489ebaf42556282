// The macOS hold: the pf rules (exactly), hostile targets refused before any rule text exists,
// pfctl's outputs read from recordings (test/fixtures/darwin/network-hold/README.md), and the
// hold driven through a runner that answers like pfctl, keeping its enable token in a real file.
// None of this ran on a Mac.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DarwinNetworkHold } from '../../../../agent/core/network-hold/darwin.ts';
import {
  parsePfAnchorRules,
  parsePfStatus,
  parsePfToken,
  pfHoldRules,
  pfMainEvaluatesAnchor,
  PF_ANCHOR,
} from '../../../../agent/core/network-hold/pf-rules.ts';
import type { CommandOutput, Runner } from '../../../../agent/core/runner.ts';

const repo = new URL('../../../../', import.meta.url);
const fixture = (name: string) =>
  readFileSync(new URL(`test/fixtures/darwin/network-hold/${name}`, repo), 'utf8');

const TARGETS = [
  { address: '10.0.0.5', port: 443 },
  { address: '192.0.2.10', port: null },
  { address: '2001:db8:0:0:0:0:0:5', port: 443 },
];

const RULES = [
  'pass out quick on lo0 all',
  'pass out quick proto udp from any to any port { 67, 547 }',
  'pass out quick proto { tcp, udp } from any to any port 53',
  'pass out quick inet6 proto icmp6 all icmp6-type { neighbrsol, neighbradv, routersol }',
  'pass out quick inet proto { tcp, udp } from any to 10.0.0.5 port 443',
  'pass out quick inet from any to 192.0.2.10',
  'pass out quick inet6 proto { tcp, udp } from any to 2001:db8::5 port 443',
  'block return out quick all',
  '',
].join('\n');

/**
 * The same rules as pfctl -s rules prints them back: `proto { tcp, udp }` split in two, `port =`,
 * and pf's default `flags S/SA keep state` on TCP and `keep state` on the rest. Constructed from
 * the print format of the recorded outputs (port = 80 / 5353, keep state), since no Mac ran these.
 */
const PRINTED = [
  'pass out quick on lo0 all flags S/SA keep state',
  'pass out quick proto udp from any to any port = 67 keep state',
  'pass out quick proto udp from any to any port = 547 keep state',
  'pass out quick proto tcp from any to any port = 53 flags S/SA keep state',
  'pass out quick proto udp from any to any port = 53 keep state',
  'pass out quick inet6 proto ipv6-icmp all icmp6-type neighbrsol keep state',
  'pass out quick inet6 proto ipv6-icmp all icmp6-type neighbradv keep state',
  'pass out quick inet6 proto ipv6-icmp all icmp6-type routersol keep state',
  'pass out quick inet proto tcp from any to 10.0.0.5 port = 443 flags S/SA keep state',
  'pass out quick inet proto udp from any to 10.0.0.5 port = 443 keep state',
  'pass out quick inet from any to 192.0.2.10 flags S/SA keep state',
  'pass out quick inet6 proto tcp from any to 2001:db8::5 port = 443 flags S/SA keep state',
  'pass out quick inet6 proto udp from any to 2001:db8::5 port = 443 keep state',
  'block return out quick all',
  '',
].join('\n');

describe('pfHoldRules', () => {
  it('passes loopback, DHCP, DNS, neighbour discovery and the targets, then refuses the rest', () => {
    expect(pfHoldRules(TARGETS)).toBe(RULES);
  });

  it('the anchor is a child of com.apple, which the stock pf.conf evaluates, before Apple’s own', () => {
    expect(PF_ANCHOR).toMatch(/^com\.apple\/[^/]+$/);
    expect((PF_ANCHOR.split('/')[1] ?? 'z') < '200.AirDrop').toBe(true);
  });

  it.each([
    '10.0.0.5\nblock drop all',
    '10.0.0.5 } pass out all {',
    '10.0.0.5 port 1 pass out quick all',
    '"10.0.0.5"',
    'fe80::1%en0',
    'any',
    '<table>',
    '10.0.0.0/8',
  ])('refuses the hostile target %j before any rule text exists', (address) => {
    expect(() => pfHoldRules([{ address, port: null }])).toThrow(/not an address and port/);
  });
});

describe('pfctl outputs (recorded)', () => {
  it('reads the enable token pfctl -E printed', () => {
    expect(parsePfToken(fixture('pfctl-E-token-2019.txt'))).toBe('8914907148313668449');
    expect(parsePfToken(fixture('pfctl-E-token-lion-2013.txt'))).toBe('18446743525445205896');
  });

  it('no token when pfctl refused, or printed something else', () => {
    expect(parsePfToken(fixture('pfctl-e-already-enabled.txt'))).toBeNull();
    expect(parsePfToken(fixture('pfctl-d-disabled.txt'))).toBeNull();
    expect(parsePfToken('Token : 1; rm -rf /')).toBeNull();
  });

  it('reads pfctl -s info', () => {
    expect(parsePfStatus(fixture('pfctl-s-info-enabled-big-sur.txt'))).toBe('enabled');
    expect(parsePfStatus(fixture('pfctl-s-info-disabled-macos26.txt'))).toBe('disabled');
    expect(parsePfStatus(fixture('pfctl-e-already-enabled.txt'))).toBe('unknown');
    expect(parsePfStatus('')).toBe('unknown');
  });

  it('the stock main ruleset evaluates com.apple/*; a replaced one does not', () => {
    expect(pfMainEvaluatesAnchor(fixture('pfctl-s-rules-main-macos26.txt'))).toBe(true);
    expect(pfMainEvaluatesAnchor(fixture('constructed-pfctl-s-rules-main-replaced.txt'))).toBe(
      false,
    );
    // scrub-anchor is not the filter anchor point; nothing at all is not one either.
    expect(pfMainEvaluatesAnchor('scrub-anchor "com.apple/*" all fragment reassemble\n')).toBe(
      false,
    );
    expect(pfMainEvaluatesAnchor('')).toBe(false);
  });

  it('an anchor that does not exist is empty; rules that are not the hold are not held', () => {
    expect(parsePfAnchorRules('', fixture('anchor-missing.stderr.txt'), TARGETS)).toEqual({
      state: 'empty',
    });
    expect(parsePfAnchorRules('', 'No ALTQ support in kernel\n', TARGETS)).toEqual({
      state: 'empty',
    });
    expect(parsePfAnchorRules(fixture('anchor-airdrop-bonjour-rules.txt'), '', TARGETS)).toEqual({
      state: 'other',
      reason:
        "the anchor's last rule is not the hold's: pass in on p2p0 inet6 proto udp from any to any port = 5353 keep state",
    });
    expect(parsePfAnchorRules(fixture('anchor-forward-proxy-vvv.txt'), '', TARGETS).state).toBe(
      'other',
    );
    expect(parsePfAnchorRules('', 'pfctl: Permission denied\n', TARGETS)).toEqual({
      state: 'other',
      reason: 'pfctl: Permission denied',
    });
  });

  it('the hold as pfctl prints it back is held; one target missing is not', () => {
    expect(parsePfAnchorRules(PRINTED, '', TARGETS)).toEqual({ state: 'held' });
    expect(
      parsePfAnchorRules(PRINTED, '', [...TARGETS, { address: '198.51.100.7', port: null }]),
    ).toEqual({ state: 'other', reason: 'no pass rule for 198.51.100.7 in the anchor' });
    // Open on 443 only is not open on any port.
    expect(parsePfAnchorRules(PRINTED, '', [{ address: '10.0.0.5', port: null }]).state).toBe(
      'other',
    );
  });
});

/** Answers like pfctl would for the anchor and enable reference it keeps. */
function fakePfctl(options: { enable?: string; loadRefusal?: string; main?: string } = {}) {
  const calls: string[] = [];
  let rules = '';
  let enabled = false;
  const out = (stdout: string, stderr = '', exitCode = 0): CommandOutput => ({
    stdout,
    stderr,
    exitCode,
  });
  const run: Runner = (command, args, runOptions) => {
    expect(command).toBe('/sbin/pfctl');
    calls.push(args.join(' '));
    const line = args.join(' ');
    if (line === `-a ${PF_ANCHOR} -f -`) {
      if (options.loadRefusal !== undefined) {
        return Promise.resolve(out('', options.loadRefusal, 1));
      }
      rules = runOptions.input === RULES ? PRINTED : 'unexpected\n';
      return Promise.resolve(out(''));
    }
    if (line === '-s rules') {
      return Promise.resolve(out(options.main ?? fixture('pfctl-s-rules-main-macos26.txt')));
    }
    if (line === '-E') {
      enabled = true;
      return Promise.resolve(out('', options.enable ?? fixture('pfctl-E-token-2019.txt')));
    }
    if (line === '-s info') {
      return Promise.resolve(
        out(
          enabled
            ? 'Status: Enabled for 0 days 00:00:01           Debug: Urgent\n'
            : fixture('pfctl-s-info-disabled-macos26.txt'),
        ),
      );
    }
    if (line === `-a ${PF_ANCHOR} -s rules`) {
      return Promise.resolve(
        rules === '' ? out('', fixture('anchor-missing.stderr.txt'), 1) : out(rules),
      );
    }
    if (line === `-a ${PF_ANCHOR} -F all`) {
      rules = '';
      return Promise.resolve(out('', 'rules cleared\n'));
    }
    if (line.startsWith('-X ')) {
      enabled = false;
      return Promise.resolve(out('', 'pf disabled\n'));
    }
    return Promise.resolve(out('', `pfctl: unexpected ${line}`, 1));
  };
  return { run, calls };
}

describe('DarwinNetworkHold', () => {
  let dir = '';
  let tokenFile = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-pf-'));
    tokenFile = join(dir, 'network-hold-pf-token');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the anchor, takes an enable reference, checks both; release gives both back', async () => {
    const pf = fakePfctl();
    const hold = new DarwinNetworkHold({ run: pf.run, tokenFile });
    await hold.hold(TARGETS);
    expect(hold.held()).toBe(true);
    expect(pf.calls).toEqual([
      '-s rules',
      `-a ${PF_ANCHOR} -f -`,
      '-E',
      '-s info',
      `-a ${PF_ANCHOR} -s rules`,
    ]);
    expect(await readFile(tokenFile, 'utf8')).toBe('8914907148313668449\n');
    await hold.release();
    expect(hold.held()).toBe(false);
    expect(pf.calls.slice(5)).toEqual([
      `-a ${PF_ANCHOR} -F all`,
      `-a ${PF_ANCHOR} -s rules`,
      '-X 8914907148313668449',
    ]);
    await expect(readFile(tokenFile, 'utf8')).rejects.toThrow();
  });

  it('a second hold keeps the one enable reference', async () => {
    const pf = fakePfctl();
    const hold = new DarwinNetworkHold({ run: pf.run, tokenFile });
    await hold.hold(TARGETS);
    await hold.hold(TARGETS);
    expect(pf.calls.filter((call) => call === '-E')).toHaveLength(1);
  });

  it('no token from pfctl -E: nothing is left held, and the reason is given', async () => {
    const pf = fakePfctl({ enable: fixture('pfctl-e-already-enabled.txt') });
    const hold = new DarwinNetworkHold({ run: pf.run, tokenFile });
    await expect(hold.hold(TARGETS)).rejects.toThrow(
      'could not hold the network: pf could not be enabled: pfctl: pf already enabled',
    );
    expect(hold.held()).toBe(false);
    expect(pf.calls).toContain(`-a ${PF_ANCHOR} -F all`);
  });

  it('a main ruleset that never reaches the anchor: no hold, pf not enabled, and why', async () => {
    const pf = fakePfctl({ main: fixture('constructed-pfctl-s-rules-main-replaced.txt') });
    const hold = new DarwinNetworkHold({ run: pf.run, tokenFile });
    await expect(hold.hold(TARGETS)).rejects.toThrow(
      'could not hold the network: the main pf ruleset does not evaluate anchor "com.apple/*"',
    );
    expect(hold.held()).toBe(false);
    expect(pf.calls).not.toContain('-E');
    expect(pf.calls).not.toContain(`-a ${PF_ANCHOR} -f -`);
  });

  it('rules pf refuses: the reason is pfctl’s', async () => {
    const pf = fakePfctl({
      loadRefusal:
        'No ALTQ support in kernel\nstdin:4: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n',
    });
    await expect(new DarwinNetworkHold({ run: pf.run, tokenFile }).hold(TARGETS)).rejects.toThrow(
      'could not hold the network: pf refused the rules: pfctl: Syntax error in config file: pf rules not loaded',
    );
  });

  it('at start, flushes a crashed run’s anchor and gives back its token', async () => {
    await writeFile(tokenFile, '18446743525445205896\n');
    const pf = fakePfctl();
    await new DarwinNetworkHold({ run: pf.run, tokenFile }).clearLeftover();
    expect(pf.calls).toEqual([
      `-a ${PF_ANCHOR} -F all`,
      `-a ${PF_ANCHOR} -s rules`,
      '-X 18446743525445205896',
    ]);
    await expect(readFile(tokenFile, 'utf8')).rejects.toThrow();
  });

  it('a token file that is not a token is never passed to pfctl', async () => {
    await writeFile(tokenFile, '1 -d\n');
    const pf = fakePfctl();
    await new DarwinNetworkHold({ run: pf.run, tokenFile }).clearLeftover();
    expect(pf.calls.some((call) => call.startsWith('-X'))).toBe(false);
  });
});
