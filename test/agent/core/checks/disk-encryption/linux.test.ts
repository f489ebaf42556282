import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
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

const read = (machine: string, file: string): string =>
  readFileSync(
    new URL(`../../../../fixtures/linux/disk-encryption/${machine}/${file}`, import.meta.url),
    'utf8',
  );

const ok = (stdout: string) => ({ stdout, stderr: '', exitCode: 0 });

const has = (machine: string, file: string): boolean =>
  existsSync(
    new URL(`../../../../fixtures/linux/disk-encryption/${machine}/${file}`, import.meta.url),
  );

/**
 * A LinuxRaw from a recorded machine folder; parts the folder lacks were not collected. A source
 * that published only `lsblk` gives no `findmnt.txt`: the row then names a stand-in root source
 * (never a fixture file) so the verdict rests on the recorded tree alone, and /proc/swaps is null.
 */
function recorded(machine: string, findmntStandIn?: string): LinuxRaw {
  const findmnt = has(machine, 'findmnt.txt') ? read(machine, 'findmnt.txt') : findmntStandIn;
  if (findmnt === undefined) {
    throw new Error(`${machine} has no findmnt.txt and the row gives no stand-in`);
  }
  return {
    root: { findmnt: ok(findmnt), lsblk: ok(read(machine, 'lsblk.json')) },
    dmUuids: {},
    swaps: has(machine, 'swaps.txt') ? read(machine, 'swaps.txt') : null,
    swapStacks: {},
    home: null,
    mounts: null,
  };
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
