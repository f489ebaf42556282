import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../../../agent/core/checks/disk-encryption/evaluate.ts';
import type { DiskEncryptionFacts } from '../../../../../agent/core/checks/disk-encryption/facts.ts';
import { diskEncryptionCheck } from '../../../../../agent/core/checks/disk-encryption/index.ts';
import {
  parse,
  parseSwaps,
  type LinuxRaw,
} from '../../../../../agent/core/checks/disk-encryption/linux.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { realHost, type Host } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { ProbeError } from '../../../../../agent/core/runner.ts';
import type { Policy } from '../../../../../shared/index.ts';

const fixtureDir = (machine: string, sub = ''): URL =>
  new URL(`../../../../fixtures/linux/disk-encryption/${machine}/${sub}`, import.meta.url);

const read = (machine: string, file: string): string =>
  readFileSync(fixtureDir(machine, file), 'utf8');

const ok = (stdout: string) => ({ stdout, stderr: '', exitCode: 0 });

const has = (machine: string, file: string): boolean => existsSync(fixtureDir(machine, file));

/**
 * The swap stacks a machine folder recorded: `swap-lsblk/<path of the /proc/swaps device>.json`,
 * so `swap-lsblk/dev/dm-1.json` is the `lsblk -J -s` of `/dev/dm-1`.
 */
function swapStacksOf(machine: string): Record<string, string> {
  if (!has(machine, 'swap-lsblk')) {
    return {};
  }
  const files = readdirSync(fixtureDir(machine, 'swap-lsblk'), {
    recursive: true,
    encoding: 'utf8',
  });
  return Object.fromEntries(
    files
      .filter((file) => file.endsWith('.json'))
      .map((file) => [`/${file.slice(0, -'.json'.length)}`, read(machine, `swap-lsblk/${file}`)]),
  );
}

/**
 * A LinuxRaw from a recorded machine folder; parts the folder lacks were not collected. A source
 * that published only `lsblk` gives no `findmnt.txt`: the row then names a stand-in root source
 * (never a fixture file) so the verdict rests on the recorded tree alone, and /proc/swaps is null.
 * `dm-uuids.json` ({dm name: /sys/block/dm-N/dm/uuid}), `swap-lsblk/`, `home-findmnt.txt` with
 * `home-lsblk.json`, and `mounts.txt` (/proc/mounts) are read when the folder has them.
 */
function recorded(machine: string, findmntStandIn?: string): LinuxRaw {
  const findmnt = has(machine, 'findmnt.txt') ? read(machine, 'findmnt.txt') : findmntStandIn;
  if (findmnt === undefined) {
    throw new Error(`${machine} has no findmnt.txt and the row gives no stand-in`);
  }
  return {
    root: { findmnt: ok(findmnt), lsblk: ok(read(machine, 'lsblk.json')) },
    dmUuids: has(machine, 'dm-uuids.json')
      ? (JSON.parse(read(machine, 'dm-uuids.json')) as Record<string, string>)
      : {},
    swaps: has(machine, 'swaps.txt') ? read(machine, 'swaps.txt') : null,
    swapStacks: swapStacksOf(machine),
    home: has(machine, 'home-findmnt.txt')
      ? {
          source: read(machine, 'home-findmnt.txt').trim(),
          lsblk: read(machine, 'home-lsblk.json'),
        }
      : null,
    mounts: has(machine, 'mounts.txt') ? read(machine, 'mounts.txt') : null,
  };
}

const defaultPolicy = await readDefaultPolicy();
const evaluationContext = { os: 'linux' as const, now: new Date('2025-01-01T00:00:00Z') };

/** Status of the check for recorded facts, with encryption required and swap rule on or off. */
function statusOf(facts: DiskEncryptionFacts, requireSwapEncrypted: boolean): string {
  const policy: Policy = {
    ...defaultPolicy,
    checks: {
      ...defaultPolicy.checks,
      diskEncryption: { required: true, requireSwapEncrypted },
    },
  };
  return evaluate(facts, policy, evaluationContext).status;
}

describe('linux parse (recorded outputs)', () => {
  it('debian12-plain-root: a plain virtio disk at / is not encrypted', () => {
    expect(parse(recorded('debian12-plain-root'))).toEqual({
      ok: true,
      facts: {
        technology: 'dm-crypt',
        volume: '/dev/vda',
        state: 'not-encrypted',
        percentEncrypted: null,
        method: null,
        protectors: [],
        stack: ['vda disk'],
        swap: [],
        partial: [],
        detail: null,
      },
    });
  });

  // Published `lsblk -J` trees without findmnt, FSTYPE or dm uuids (see SOURCES.md). The stand-in
  // root source is the /dev/mapper path of the node lsblk shows at /, or the usual root device
  // where lsblk shows none; the verdict never reads it.
  it.each([
    {
      machine: 'ubuntu-lvm-on-luks-fleet',
      standIn: '/dev/mapper/ubuntu--vg-ubuntu--lv',
      // lvm on a crypt device, but no FSTYPE column and no dm uuid: which crypt target is unknown.
      facts: {
        state: 'undetermined',
        method: null,
        stack: ['ubuntu--vg-ubuntu--lv lvm', 'dm_crypt-0 crypt', 'nvme0n1p3 part', 'nvme0n1 disk'],
        swap: [],
        detail: 'cannot tell what kind of crypt device dm_crypt-0 is',
      },
    },
    {
      machine: 'fedora40-luks-btrfs-fleet',
      standIn: '/dev/mapper/luks-21fc9b67-752e-42fb-83bb-8c92864382e9',
      // btrfs mounted at /home and / straight on a crypt device; zram swap is in lsblk only.
      facts: {
        state: 'undetermined',
        method: null,
        stack: [
          'luks-21fc9b67-752e-42fb-83bb-8c92864382e9 crypt',
          'nvme0n1p3 part',
          'nvme0n1 disk',
        ],
        swap: [],
        detail:
          'cannot tell what kind of crypt device luks-21fc9b67-752e-42fb-83bb-8c92864382e9 is',
      },
    },
  ] as const)('$machine: a crypt layer without LUKS proof is undetermined', (row) => {
    expect(parse(recorded(row.machine, row.standIn))).toEqual({
      ok: true,
      facts: {
        technology: 'dm-crypt',
        volume: row.standIn,
        percentEncrypted: null,
        protectors: [],
        partial: [],
        ...row.facts,
      },
    });
  });

  it.each([
    // LUKS-on-LVM with a btrfs root, but the single MOUNTPOINT column shows a bind mount
    // (/etc/NetworkManager/system-connections) instead of /, so no node is mounted at /.
    { machine: 'nixos-luks-on-lvm-btrfs', standIn: '/dev/mapper/cryptroot' },
    // util-linux 2.32 string values ("rm": "0", "rm": null); Chrome OS's root is not in the tree.
    { machine: 'chromeos-caroline-util-linux-2.32', standIn: '/dev/root' },
  ])('$machine: a tree with nothing at / is unrecognised, never a pass', (row) => {
    const parsed = parse(recorded(row.machine, row.standIn));
    expect(parsed).toMatchObject({ ok: false, code: 'unrecognised-output' });
    expect(parsed.ok ? '' : parsed.detail).toContain('no device stack for /');
  });

  // Recorded by Hallpass in qemu (Debian 12 kernel and user space, SOURCES.md): the probe's exact
  // commands on a root the guest had switch_root'ed into, with the dm uuids from sysfs.
  it.each([
    {
      machine: 'qemu-debian12-luks2-root',
      // ext4 on LUKS2; swap on dm-crypt plain with a random key (crypttab `swap`), no header.
      facts: {
        volume: '/dev/mapper/vda1_crypt',
        state: 'encrypted',
        method: 'LUKS2',
        stack: ['vda1_crypt crypt ext4', 'vda1 part crypto_LUKS', 'vda disk'],
        swap: [{ device: '/dev/dm-1', kind: 'partition', state: 'encrypted' }],
        partial: [],
      },
      status: 'pass',
      statusSwapRequired: 'pass',
    },
    {
      machine: 'qemu-debian12-luks1-root',
      // ext4 on LUKS1; swap on a keyed LUKS2 volume.
      facts: {
        volume: '/dev/mapper/vda1_crypt',
        state: 'encrypted',
        method: 'LUKS1',
        stack: ['vda1_crypt crypt ext4', 'vda1 part crypto_LUKS', 'vda disk'],
        swap: [{ device: '/dev/dm-1', kind: 'partition', state: 'encrypted' }],
        partial: [],
      },
      status: 'pass',
      statusSwapRequired: 'pass',
    },
    {
      machine: 'qemu-debian12-lvm-on-luks',
      // The Debian installer's layout: LUKS2 → PV → debian-vg with LVs root and swap_1.
      facts: {
        volume: '/dev/mapper/debian--vg-root',
        state: 'encrypted',
        method: 'LUKS2',
        stack: [
          'debian--vg-root lvm ext4',
          'vda1_crypt crypt LVM2_member',
          'vda1 part crypto_LUKS',
          'vda disk',
        ],
        swap: [{ device: '/dev/dm-2', kind: 'partition', state: 'encrypted' }],
        partial: [],
      },
      status: 'pass',
      statusSwapRequired: 'pass',
    },
    {
      machine: 'qemu-debian12-luks2-root-plain-swap',
      // Root on LUKS2, but swap straight on a partition: fails only when swap must be encrypted.
      facts: {
        volume: '/dev/mapper/vda1_crypt',
        state: 'encrypted',
        method: 'LUKS2',
        stack: ['vda1_crypt crypt ext4', 'vda1 part crypto_LUKS', 'vda disk'],
        swap: [{ device: '/dev/vda2', kind: 'partition', state: 'not-encrypted' }],
        partial: [],
      },
      status: 'pass',
      statusSwapRequired: 'fail',
    },
    {
      machine: 'qemu-debian12-lvm-plain',
      // LVM without LUKS: a dm device at / is not encryption.
      facts: {
        volume: '/dev/mapper/debian--vg-root',
        state: 'not-encrypted',
        method: null,
        stack: ['debian--vg-root lvm ext4', 'vda1 part LVM2_member', 'vda disk'],
        swap: [{ device: '/dev/dm-1', kind: 'partition', state: 'not-encrypted' }],
        partial: [],
      },
      status: 'fail',
      statusSwapRequired: 'fail',
    },
    {
      machine: 'qemu-debian12-luks-home-only',
      // Plain root, /home on LUKS2: only part of the disk is encrypted.
      facts: {
        volume: '/dev/vda1',
        state: 'not-encrypted',
        method: null,
        stack: ['vda1 part ext4', 'vda disk'],
        swap: [],
        partial: ['/home'],
      },
      status: 'fail',
      statusSwapRequired: 'fail',
    },
  ] as const)(
    '$machine: $facts.state, check $status ($statusSwapRequired when swap must be encrypted)',
    (row) => {
      const parsed = parse(recorded(row.machine));
      expect(parsed).toEqual({
        ok: true,
        facts: {
          technology: 'dm-crypt',
          percentEncrypted: null,
          protectors: [],
          detail: null,
          ...row.facts,
        },
      });
      const facts = parsed.ok ? parsed.facts : null;
      expect(facts && statusOf(facts, false)).toBe(row.status);
      expect(facts && statusOf(facts, true)).toBe(row.statusSwapRequired);
    },
  );

  it.each([
    // Without sysfs dm uuids the LUKS header lsblk shows under the crypt device still proves it,
    {
      machine: 'qemu-debian12-luks2-root',
      state: 'encrypted',
      method: 'LUKS',
      // but a plain dm-crypt swap has no header: which crypt target it is stays unknown.
      swap: 'undetermined',
      statusSwapRequired: 'unknown',
    },
    {
      machine: 'qemu-debian12-luks1-root',
      state: 'encrypted',
      method: 'LUKS',
      swap: 'encrypted',
      statusSwapRequired: 'pass',
    },
    {
      machine: 'qemu-debian12-lvm-on-luks',
      state: 'encrypted',
      method: 'LUKS',
      swap: 'encrypted',
      statusSwapRequired: 'pass',
    },
  ] as const)('$machine without dm uuids: $state by the LUKS header, swap $swap', (row) => {
    const raw = recorded(row.machine);
    raw.dmUuids = {};
    const parsed = parse(raw);
    expect(parsed).toMatchObject({ ok: true, facts: { state: row.state, method: row.method } });
    const facts = parsed.ok ? parsed.facts : null;
    expect(facts?.swap?.map((area) => area.state)).toEqual([row.swap]);
    expect(facts && statusOf(facts, true)).toBe(row.statusSwapRequired);
  });

  it('fails closed when lsblk printed an error instead of JSON', () => {
    const raw = recorded('debian12-plain-root');
    raw.root.lsblk = { stdout: '', stderr: 'lsblk: /dev/vda: not a block device', exitCode: 32 };
    const parsed = parse(raw);
    expect(parsed).toMatchObject({ ok: false, code: 'unrecognised-output' });
    expect(parsed.ok ? '' : parsed.detail).toContain('not a block device');
  });

  it('a swap area whose stack was not collected is undetermined, never encrypted', () => {
    const raw = recorded('debian12-plain-root');
    raw.swaps = `${read('debian12-plain-root', 'swaps.txt')}/dev/vda2 partition 1048572 0 -2\n`;
    const parsed = parse(raw);
    expect(parsed.ok ? parsed.facts.swap : null).toEqual([
      { device: '/dev/vda2', kind: 'partition', state: 'undetermined' },
    ]);
  });
});

describe('linux probe plumbing', () => {
  it('a missing findmnt is unknown command-missing', async () => {
    const host: Host = {
      ...realHost,
      run: (command) =>
        Promise.reject(new ProbeError('command-missing', `${command} is not installed`)),
    };
    const result = await runCheck(diskEncryptionCheck, {
      os: 'linux',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });
});

/** The root mount's source and device number, read from /proc/self/mountinfo (proc(5)). */
function rootFromMountinfo(): { source: string; device: string } {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n');
  const root =
    lines
      .map((line) => line.split(' '))
      .filter((fields) => fields[4] === '/')
      .at(-1) ?? [];
  const after = root.slice(root.indexOf('-') + 1);
  return { source: after[1] ?? '', device: root[2] ?? '' };
}

/** Whether any device-mapper layer under a block device is an encrypting CRYPT-* target. */
function encryptedInSysfs(sysPath: string): boolean {
  const uuidFile = `${sysPath}/dm/uuid`;
  if (
    existsSync(uuidFile) &&
    /^CRYPT-(LUKS1|LUKS2|PLAIN|BITLK|TCRYPT)-/.test(readFileSync(uuidFile, 'utf8'))
  ) {
    return true;
  }
  const slaves = `${sysPath}/slaves`;
  const below = existsSync(slaves) ? readdirSync(slaves) : [];
  return below.length > 0 && below.every((name) => encryptedInSysfs(`/sys/class/block/${name}`));
}

describe('linux probe on this machine', () => {
  it('agrees with /proc/self/mountinfo, sysfs and /proc/swaps', async () => {
    const result = await runCheck(diskEncryptionCheck, {
      os: 'linux',
      host: realHost,
      policy: await readDefaultPolicy(),
    });
    const { source, device } = rootFromMountinfo();
    const encrypted = encryptedInSysfs(`/sys/dev/block/${device}`);
    expect(result.evidence).toMatchObject({ technology: 'dm-crypt', volume: source });
    expect(result.evidence.state).toBe(encrypted ? 'encrypted' : 'not-encrypted');
    expect(result.status).toBe(encrypted ? 'pass' : 'fail');
    const swaps = parseSwaps(readFileSync('/proc/swaps', 'utf8'));
    expect((result.evidence.swap as unknown[]).length).toBe(swaps.length);
  });
});
