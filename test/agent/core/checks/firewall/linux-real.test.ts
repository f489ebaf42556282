import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firewallCheck } from '../../../../../agent/core/checks/firewall/index.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { realHost } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';

// The probe's front ends and the component each one reports.
const FRONT_ENDS: Record<string, string> = {
  nft: 'nftables',
  iptables: 'iptables',
  ufw: 'ufw',
  'firewall-cmd': 'firewalld',
};

/** Installed front ends, found by walking PATH ourselves (execFile searches the same PATH). */
function installed(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  return Object.keys(FRONT_ENDS).filter((command) =>
    dirs.some((dir) => {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

describe.runIf(process.platform === 'linux')('linux firewall probe on this machine', () => {
  it('reports exactly the front ends that are installed, and never passes without one', async () => {
    const result = await runCheck(firewallCheck, {
      os: 'linux',
      host: realHost,
      policy: await readDefaultPolicy(),
    });
    const present = installed();
    if (present.length === 0) {
      // The Debian 12 dev/CI container: no firewall tooling at all, so we cannot tell.
      expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
      expect(result.evidence).toEqual({});
      return;
    }
    const components = (result.evidence as { components?: { name: string }[] }).components ?? [];
    const names = components.map((c) => c.name).filter((name) => name !== 'ruleset');
    expect(names.sort()).toEqual(present.map((command) => FRONT_ENDS[command]).sort());
  });
});
