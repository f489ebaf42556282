import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UsbPolicy } from '../../../../shared/index.ts';
import { decideUsb } from '../../../../agent/core/usb/decide.ts';
import type { AttachedUsbStorage } from '../../../../agent/core/usb/platform.ts';
import {
  allowListCommands,
  applyCommands,
  attachedFrom,
  failClosedCommands,
  isPortableMediaId,
  parseInstanceId,
  parseState,
  portableMediaRestrictionCommands,
  windowsUsbPlatform,
  type WindowsUsbState,
} from '../../../../agent/core/usb/windows.ts';
import { fakeHost } from '../../../helpers/fake-host.ts';

const fixture = (name: string) =>
  readFile(new URL(`../../../fixtures/windows/usb/${name}`, import.meta.url), 'utf8');

const state = async (name: string): Promise<WindowsUsbState> => {
  const parsed = parseState(await fixture(name));
  if (typeof parsed === 'string') {
    throw new Error(parsed);
  }
  return parsed;
};

/** The value, or a failed test when it is missing. */
function must<T>(value: T | undefined): T {
  if (value === undefined) {
    throw new Error('missing');
  }
  return value;
}

const ok = (stdout = '', exitCode = 0) => ({ stdout, stderr: '', exitCode });

describe('parseInstanceId on recorded Win32_USBHub ids (Swedish Windows)', async () => {
  const lines = (await fixture('win32-usbhub-swedish.txt')).trim().split('\n');
  const ids = lines.map((line) => /^Device ID: (.*?), PNP Device ID:/.exec(line)?.[1] ?? '');

  it('every recorded line holds an id', () => {
    expect(ids.filter((id) => id === '')).toEqual([]);
    expect(ids).toHaveLength(22);
  });

  it('reads the mass-storage stick and its serial', () => {
    expect(parseInstanceId('USB\\VID_0781&PID_5580\\AA010501150437250249')).toEqual({
      vendorId: '0781',
      productId: '5580',
      serial: 'AA010501150437250249',
      interface: null,
    });
    expect(parseInstanceId('USB\\VID_1D03&PID_001A\\09101')?.serial).toBe('09101');
  });

  it('a Windows-generated instance (second character &) is no serial', () => {
    const generated = ids.filter((id) => /\\[0-9A-F]&/.test(id) && id.includes('VID_'));
    expect(generated.length).toBeGreaterThan(10);
    for (const id of generated) {
      expect(parseInstanceId(id), id).toMatchObject({ serial: null });
    }
  });

  it('root hubs and non-USB-device ids are not USB device ids', async () => {
    expect(ids.filter((id) => id.includes('ROOT_HUB')).map(parseInstanceId)).toEqual([null, null]);
    expect(parseInstanceId((await fixture('usbstor-disk-uf2-bootloader.txt')).trim())).toBe(null);
    expect(parseInstanceId('')).toBe(null);
  });

  it('an interface of a composite device has no serial of its own', () => {
    expect(parseInstanceId('USB\\VID_1D03&PID_001A&MI_01\\7&1B2C3D4E&0&0001')).toEqual({
      vendorId: '1d03',
      productId: '001a',
      serial: null,
      interface: '01',
    });
  });
});

describe('windows-usb.ps1 output', () => {
  it('a stick: key is its instance id, identity from it', async () => {
    expect(attachedFrom(await state('constructed-state-sandisk.json'))).toEqual([
      {
        key: 'USB\\VID_0781&PID_5580\\AA010501150437250249',
        device: {
          vendorId: '0781',
          productId: '5580',
          serial: 'AA010501150437250249',
          name: 'USB-masslagringsenhet',
          kind: 'mass-storage',
        },
        systemDisk: false,
      },
    ]);
  });

  it('a composite interface takes its parent serial; the Windows disk is the system disk', async () => {
    const attached = attachedFrom(await state('constructed-state-composite-and-system.json'));
    if (typeof attached === 'string') {
      throw new Error(attached);
    }
    expect(attached.map((s) => [s.device.vendorId, s.device.serial, s.systemDisk])).toEqual([
      ['1d03', '09101', false],
      ['0781', 'AA010501150437250249', true],
      ['05e3', null, false],
    ]);
  });

  it('without the Windows disk nothing is judged', async () => {
    const parsed = await state('constructed-state-sandisk.json');
    expect(attachedFrom({ ...parsed, systemDiskIndex: null })).toMatch(/Windows volume/);
  });

  it.each([
    ['the script reported an error', 'constructed-state-error-access-denied.json', /Access denied/],
  ])('%s: a reason, not a state', async (_, name, reason) => {
    expect(parseState(await fixture(name))).toMatch(reason);
  });

  it.each(['', 'Zugriff verweigert', '{"devices":[]}', '{"devices":"x","error":null}'])(
    'refuses %j',
    (raw) => {
      expect(typeof parseState(raw)).toBe('string');
    },
  );

  it('hostile ids are escaped and cut, and an unreadable id is unidentifiable', async () => {
    const parsed = await state('constructed-state-sandisk.json');
    const hostile = `\u001b[2J${'A'.repeat(10_000)}`;
    const [first, second] = attachedFrom({
      ...parsed,
      devices: [
        { ...must(parsed.devices[0]), instanceId: `USB\\VID_0781&PID_5580\\${hostile}` },
        { ...must(parsed.devices[0]), instanceId: 'USB\\VID_XYZW&PID_5580\\1' },
      ],
    }) as AttachedUsbStorage[];
    expect(first?.device.serial?.startsWith('\\x1b[2JAAAA')).toBe(true);
    expect(first?.device.serial?.length).toBeLessThanOrEqual(200);
    expect(second?.device).toMatchObject({ vendorId: '0000', productId: '0000', serial: null });
  });
});

describe('registry and pnputil commands', () => {
  const RESTRICTIONS = 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\DeviceInstall\\Restrictions';

  it('fail closed: layered, deny USB\\Class_08 retroactively, allow list on', () => {
    expect(failClosedCommands()).toEqual([
      ['add', RESTRICTIONS, '/v', 'AllowDenyLayered', '/t', 'REG_DWORD', '/d', '1', '/f'],
      [
        'add',
        `${RESTRICTIONS}\\DenyDeviceIDs`,
        '/v',
        '1',
        '/t',
        'REG_SZ',
        '/d',
        'USB\\Class_08',
        '/f',
      ],
      ['add', RESTRICTIONS, '/v', 'DenyDeviceIDs', '/t', 'REG_DWORD', '/d', '1', '/f'],
      ['add', RESTRICTIONS, '/v', 'DenyDeviceIDsRetroactive', '/t', 'REG_DWORD', '/d', '1', '/f'],
      ['add', RESTRICTIONS, '/v', 'AllowInstanceIDs', '/t', 'REG_DWORD', '/d', '1', '/f'],
    ]);
  });

  it('the allow list: first free value name, no duplicate, removal by name', () => {
    const current = [
      { name: '1', value: 'USB\\VID_0781&PID_5580\\A' },
      { name: '3', value: 'USB\\VID_1235&PID_0061\\X1' },
    ];
    expect(allowListCommands(current, 'USB\\VID_0951&PID_1666\\B', true)).toEqual([
      [
        'add',
        `${RESTRICTIONS}\\AllowInstanceIDs`,
        '/v',
        '2',
        '/t',
        'REG_SZ',
        '/d',
        'USB\\VID_0951&PID_1666\\B',
        '/f',
      ],
    ]);
    expect(allowListCommands(current, 'usb\\vid_0781&pid_5580\\a', true)).toEqual([]);
    expect(allowListCommands(current, 'USB\\VID_0781&PID_5580\\A', false)).toEqual([
      ['delete', `${RESTRICTIONS}\\AllowInstanceIDs`, '/v', '1', '/f'],
    ]);
  });

  it('each action, as commands', async () => {
    const now = await state('constructed-state-composite-and-system.json');
    const [composite, stick] = attachedFrom(now) as AttachedUsbStorage[];
    const show = (steps: { command: string; args: string[] }[]) =>
      steps.map((s) => `${s.command} ${s.args.slice(0, 4).join(' ')}`);
    expect(show(applyCommands(now, must(stick), 'block', false))).toEqual([
      `reg.exe delete ${RESTRICTIONS}\\AllowInstanceIDs /v 1`,
      'pnputil.exe /disable-device USB\\VID_0781&PID_5580\\AA010501150437250249',
    ]);
    // Deny_Write is already 1 in this state: not written again.
    expect(show(applyCommands(now, must(composite), 'read-only', false))).toEqual([
      `reg.exe add ${RESTRICTIONS}\\AllowInstanceIDs /v 2`,
      'pnputil.exe /enable-device USB\\VID_1D03&PID_001A&MI_01\\7&1B2C3D4E&0&0001',
      'pnputil.exe /restart-device USB\\VID_1D03&PID_001A&MI_01\\7&1B2C3D4E&0&0001',
    ]);
    expect(show(applyCommands(now, must(stick), 'read-write', false))).toEqual([
      'reg.exe delete HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\{53f5630d-b6bf-11d0-94f2-00a0c91efb8b} /v Deny_Write',
      'pnputil.exe /enable-device USB\\VID_0781&PID_5580\\AA010501150437250249',
      'pnputil.exe /restart-device USB\\VID_0781&PID_5580\\AA010501150437250249',
    ]);
    // A node the restriction kept from installing (code 28) is scanned for once allowed.
    const third = must((attachedFrom(now) as AttachedUsbStorage[])[2]);
    expect(show(applyCommands(now, third, 'read-write', true))).toEqual([
      `reg.exe add ${RESTRICTIONS}\\AllowInstanceIDs /v 2`,
      'pnputil.exe /scan-devices',
      'pnputil.exe /enable-device USB\\VID_05E3&PID_0610\\6&148744D9&0&3',
    ]);
    expect(show(applyCommands(now, third, 'block', true))).toEqual([
      'pnputil.exe /disable-device USB\\VID_05E3&PID_0610\\6&148744D9&0&3',
    ]);
    // Another disk must stay read-only: Deny_Write stays, this one stays read-only too.
    expect(show(applyCommands(now, must(stick), 'read-write', true))).toEqual([
      'pnputil.exe /enable-device USB\\VID_0781&PID_5580\\AA010501150437250249',
    ]);
  });
});

describe('windowsUsbPlatform', () => {
  const withState = async (name: string, pnputilExit = 0) => {
    const stdout = await fixture(name);
    return fakeHost({
      commands: {
        'powershell.exe': ok(stdout),
        'reg.exe': ok('The operation completed successfully.'),
        'pnputil.exe': ok('', pnputilExit),
      },
    });
  };

  it('lists through windows-usb.ps1 as an encoded command', async () => {
    const host = await withState('constructed-state-sandisk.json');
    const attached = await windowsUsbPlatform(host).listAttached();
    expect(attached.map((s) => s.key)).toEqual(['USB\\VID_0781&PID_5580\\AA010501150437250249']);
    const args = host.calls[0]?.args ?? [];
    const script = Buffer.from(args[args.indexOf('-EncodedCommand') + 1] ?? '', 'base64').toString(
      'utf16le',
    );
    expect(script).toContain('USB\\Class_08');
  });

  it('applies once; the same action again is a no-op; the system disk is never touched', async () => {
    const host = await withState('constructed-state-composite-and-system.json');
    const platform = windowsUsbPlatform(host);
    const [composite, stick] = await platform.listAttached();
    await platform.apply(must(composite), 'block');
    const after = host.calls.length;
    await platform.apply(must(composite), 'block');
    expect(host.calls.length).toBe(after);
    expect(host.calls.at(-1)).toEqual({
      command: 'pnputil.exe',
      args: ['/disable-device', 'USB\\VID_1D03&PID_001A&MI_01\\7&1B2C3D4E&0&0001'],
    });
    await platform.apply(must(stick), 'block');
    expect(host.calls.length).toBe(after);
  });

  it('pnputil asking for a restart is not a block', async () => {
    const host = await withState('constructed-state-sandisk.json', 3010);
    const platform = windowsUsbPlatform(host);
    const [stick] = await platform.listAttached();
    await expect(platform.apply(must(stick), 'block')).rejects.toThrow(
      /3010 \(a restart is needed/,
    );
  });

  it('fail closed writes the restriction and says nothing is missing', async () => {
    const host = await withState('constructed-state-sandisk.json');
    await expect(windowsUsbPlatform(host).installFailClosedDefault()).resolves.toBe(null);
    expect(host.calls.filter((c) => c.command === 'reg.exe')).toHaveLength(5);
  });

  it('watches a real process printing states: arrivals, removals, then its end', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'hallpass-usb-'));
    const lines = join(folder, 'states.jsonl');
    const stick = (await fixture('constructed-state-sandisk.json')).trim();
    const none = stick.replace(
      /"devices":\[.*\],"systemDiskIndex"/,
      '"devices":[],"systemDiskIndex"',
    );
    await writeFile(lines, `${none}\n${stick}\nnot json\n${none}\n`);
    const spawned: string[][] = [];
    const events: string[] = [];
    const platform = windowsUsbPlatform(fakeHost({}), (command, args) => {
      spawned.push([command, ...args]);
      return spawn('cat', [lines]);
    });
    await new Promise<void>((resolve) => {
      platform.watch({
        attached: (s) => events.push(`+${s.device.serial ?? ''}`),
        detached: (key) => events.push(`-${key}`),
        failed: (error) => {
          events.push(`! ${error.message.slice(0, 40)}`);
          if (/ended/.test(error.message)) {
            resolve();
          }
        },
      });
    });
    expect(events).toEqual([
      '+AA010501150437250249',
      '! windows-usb.ps1 printed an unexpected sh',
      '-USB\\VID_0781&PID_5580\\AA010501150437250249',
      '! powershell.exe ended (exit 0, signal non',
    ]);
    const [command, ...args] = spawned[0] ?? [];
    expect(command).toBe('powershell.exe');
    const script = Buffer.from(args.at(-1) ?? '', 'base64').toString('utf16le');
    expect(script.startsWith('$HallpassWatch = $true\n')).toBe(true);
  });
});

describe('portable media (MTP/PTP phones and cameras, WPD)', () => {
  const RESTRICTIONS = 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\DeviceInstall\\Restrictions';
  const WPD_KEY =
    'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\{6AC27878-A6FA-4155-BA85-F98F491D4F33}';
  const WMDM_KEY =
    'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\{F33FDC04-D1AC-4E8E-9A30-19BBD4B108AE}';
  const policy = (portableMediaIsStorage: boolean | undefined): UsbPolicy => ({
    mode: 'block',
    allow: [],
    exempt: { users: [], groups: [] },
    ...(portableMediaIsStorage === undefined ? {} : { portableMediaIsStorage }),
  });
  const show = (steps: { command: string; args: string[] }[]) =>
    steps.map((s) => `${s.command} ${s.args.slice(0, 4).join(' ')}`);
  const attached = async (name: string) => {
    const list = attachedFrom(await state(name));
    if (typeof list === 'string') {
      throw new Error(list);
    }
    return list;
  };

  it('recorded pnputil ids: the MTP function is an interface, its serial is the parent', async () => {
    const text = await fixture('pnputil-vivo-iqoo-neo5-composite.txt');
    const ids = [...text.matchAll(/^Instance ID:\s+(.*)$/gm)].map((m) => m[1] ?? '');
    expect(ids).toHaveLength(5);
    const [parent, storage, volume, mtp, adb] = ids.map((id) => parseInstanceId(id));
    expect(parent).toEqual({
      vendorId: '2d95',
      productId: '6013',
      serial: '34089226650035U',
      interface: null,
    });
    expect(mtp).toEqual({ vendorId: '2d95', productId: '6013', serial: null, interface: '00' });
    expect([storage?.interface, adb?.interface]).toEqual(['01', '02']);
    // The WPD node Windows makes for a mounted disk's volume is not a USB node: the script lists
    // USB\ nodes only, so it is never mistaken for a phone.
    expect(volume).toBe(null);
    expect(text).toMatch(/MI_00\\6&1cdeab7e&0&0000\n.*\nClass Name:\s+WPD\n/);
  });

  it('recorded compatible ids: MTP and PTP modes are both portable media, by the same ids', async () => {
    const lines = (await fixture('xiaomi-redmi-note-14-compatible-ids.txt')).trim().split('\n');
    const kept = lines.map((line) => line.slice(5).split(';').filter(isPortableMediaId));
    expect(kept).toEqual([
      [
        'USB\\MS_COMP_MTP',
        'USB\\Class_06&SubClass_01&Prot_01',
        'USB\\Class_06&SubClass_01',
        'USB\\Class_06',
      ],
      [
        'USB\\MS_COMP_PTP',
        'USB\\Class_06&SubClass_01&Prot_01',
        'USB\\Class_06&SubClass_01',
        'USB\\Class_06',
      ],
    ]);
    for (const id of [
      'USB\\Class_08&SubClass_06&Prot_50',
      'USB\\Class_060',
      'USB\\Class_0E&SubClass_03&Prot_00',
      'USB\\MS_COMP_WINUSB',
      'USB\\MS_COMP_MTPX',
      'USB\\COMPAT_VID_2717&Class_06',
      'MS_COMP_MTP',
      '',
    ]) {
      expect(isPortableMediaId(id), id).toBe(false);
    }
    expect(isPortableMediaId('usb\\ms_comp_mtp&ms_subcomp_0000')).toBe(true);
  });

  it('phones are reported with kind portable-media, a composite one with its parent serial', async () => {
    const list = await attached('constructed-state-phones.json');
    expect(
      list.map((s) => [s.key, s.device.kind, s.device.vendorId, s.device.serial, s.systemDisk]),
    ).toEqual([
      [
        'USB\\VID_0781&PID_5580\\AA010501150437250249',
        'mass-storage',
        '0781',
        'AA010501150437250249',
        false,
      ],
      [
        'USB\\VID_2D95&PID_6013&MI_00\\6&1cdeab7e&0&0000',
        'portable-media',
        '2d95',
        '34089226650035U',
        false,
      ],
      [
        'USB\\VID_2717&PID_FF40\\EXAMPLE0SERIAL01',
        'portable-media',
        '2717',
        'EXAMPLE0SERIAL01',
        false,
      ],
    ]);
    expect(list[1]?.device.name).toBe('iQOO Neo5 活力版');
  });

  it('the shared decision follows portableMediaIsStorage for them', async () => {
    const [stick, phone] = await attached('constructed-state-phones.json');
    const now = new Date('2026-12-01T10:00:00Z');
    for (const counts of [undefined, false]) {
      expect(decideUsb(must(phone), policy(counts), null, now)).toBe(null);
    }
    expect(decideUsb(must(phone), policy(true), null, now)).toMatchObject({ action: 'blocked' });
    expect(decideUsb(must(stick), policy(false), null, now)).toMatchObject({ action: 'blocked' });
  });

  it('refuses a listing that contradicts itself or lacks the new fields', async () => {
    const phones = await state('constructed-state-phones.json');
    const phone = must(phones.portableMedia[1]);
    const print = (value: unknown) => JSON.stringify(value);
    expect(
      parseState(
        print({ ...phones, portableMedia: [{ ...phone, classGuid: null, compatibleIds: [] }] }),
      ),
    ).toMatch(/without WPD class or MTP\/PTP compatible id/);
    expect(
      parseState(
        print({
          ...phones,
          portableMedia: [
            {
              ...phone,
              compatibleIds: ['USB\\Class_08'],
              classGuid: '{4d36e967-e325-11ce-bfc1-08002be10318}',
            },
          ],
        }),
      ),
    ).toMatch(/without WPD class/);
    expect(
      parseState(
        print({
          ...phones,
          portableMedia: [
            { ...phone, instanceId: must(phones.devices[0]).instanceId.toLowerCase() },
          ],
        }),
      ),
    ).toMatch(/listed one node twice/);
    const { compatibleIds: _dropped, ...withoutIds } = phone;
    expect(parseState(print({ ...phones, portableMedia: [withoutIds] }))).toMatch(
      /unexpected shape/,
    );
    const { wpdDenyWrite: _gone, ...older } = phones;
    expect(parseState(print(older))).toMatch(/unexpected shape/);
    expect(parseState(print({ ...phones, portableMedia: 'USB\\VID_2717' }))).toMatch(
      /unexpected shape/,
    );
  });

  it('hostile names and ids of a phone are escaped and cut, never a crash', async () => {
    const phones = await state('constructed-state-phones.json');
    const phone = must(phones.portableMedia[1]);
    const hostile = `\u0007\u001b]0;pwned\u0007${'\u202e'.repeat(3)}${'B'.repeat(10_000)}`;
    const list = attachedFrom({
      ...phones,
      portableMedia: [
        { ...phone, name: hostile, instanceId: `USB\\VID_2717&PID_FF40\\${hostile}` },
        { ...phone, instanceId: 'MTP\\not-a-usb-id' },
      ],
    }) as AttachedUsbStorage[];
    const [, first, second] = list;
    expect(first?.device.name.length).toBeLessThanOrEqual(200);
    expect(first?.device.name.startsWith('\\x07\\x1b]0;pwned\\x07\\u{202e}')).toBe(true);
    expect(first?.device.serial?.length).toBeLessThanOrEqual(200);
    expect(first?.device.kind).toBe('portable-media');
    expect(second?.device).toMatchObject({
      vendorId: '0000',
      kind: 'portable-media',
      serial: null,
    });
  });

  it('the restriction denies WPD and the portable-media ids only while they count as storage', async () => {
    const empty = { denyDeviceIds: [], denyDeviceClasses: [] };
    expect(portableMediaRestrictionCommands(empty, true)).toEqual([
      [
        'add',
        `${RESTRICTIONS}\\DenyDeviceIDs`,
        '/v',
        '2',
        '/t',
        'REG_SZ',
        '/d',
        'USB\\Class_06',
        '/f',
      ],
      [
        'add',
        `${RESTRICTIONS}\\DenyDeviceIDs`,
        '/v',
        '3',
        '/t',
        'REG_SZ',
        '/d',
        'USB\\MS_COMP_MTP',
        '/f',
      ],
      [
        'add',
        `${RESTRICTIONS}\\DenyDeviceIDs`,
        '/v',
        '4',
        '/t',
        'REG_SZ',
        '/d',
        'USB\\MS_COMP_PTP',
        '/f',
      ],
      [
        'add',
        `${RESTRICTIONS}\\DenyDeviceClasses`,
        '/v',
        '1',
        '/t',
        'REG_SZ',
        '/d',
        '{eec5ad98-8080-425f-922a-dabf3de3f69a}',
        '/f',
      ],
      ['add', RESTRICTIONS, '/v', 'DenyDeviceClasses', '/t', 'REG_DWORD', '/d', '1', '/f'],
    ]);
    expect(portableMediaRestrictionCommands(empty, false)).toEqual([]);
    const refused = await state('constructed-state-phone-refused.json');
    // Already in force: only the switch is written again; nothing is added twice.
    expect(portableMediaRestrictionCommands(refused, true)).toEqual([
      ['add', RESTRICTIONS, '/v', 'DenyDeviceClasses', '/t', 'REG_DWORD', '/d', '1', '/f'],
    ]);
    // Lifted: ours go by name, the administrator's own id and class and USB\Class_08 stay.
    expect(portableMediaRestrictionCommands(refused, false)).toEqual([
      ['delete', `${RESTRICTIONS}\\DenyDeviceIDs`, '/v', '2', '/f'],
      ['delete', `${RESTRICTIONS}\\DenyDeviceIDs`, '/v', '3', '/f'],
      ['delete', `${RESTRICTIONS}\\DenyDeviceIDs`, '/v', '4', '/f'],
      ['delete', `${RESTRICTIONS}\\DenyDeviceClasses`, '/v', '2', '/f'],
    ]);
    // New names skip every used one, and name 1 of DenyDeviceIDs (USB\Class_08) always.
    const gaps = {
      denyDeviceIds: [{ name: '2', value: 'USB\\VID_1234&PID_5678' }],
      denyDeviceClasses: [{ name: '1', value: '{d48179be-ec20-11d1-b6b8-00c04fa372a7}' }],
    };
    expect(
      portableMediaRestrictionCommands(gaps, true).map(
        (args) => `${args[3] ?? ''}=${args[7] ?? ''}`,
      ),
    ).toEqual([
      '3=USB\\Class_06',
      '4=USB\\MS_COMP_MTP',
      '5=USB\\MS_COMP_PTP',
      '2={eec5ad98-8080-425f-922a-dabf3de3f69a}',
      'DenyDeviceClasses=1',
    ]);
  });

  it('each action on a phone, as commands; Deny_Write is the WPD one, not the disks one', async () => {
    const phones = await state('constructed-state-phones.json');
    const [stick, vivo, xiaomi] = await attached('constructed-state-phones.json');
    expect(show(applyCommands(phones, must(vivo), 'block', false))).toEqual([
      'pnputil.exe /disable-device USB\\VID_2D95&PID_6013&MI_00\\6&1cdeab7e&0&0000',
    ]);
    expect(show(applyCommands(phones, must(xiaomi), 'read-only', false))).toEqual([
      `reg.exe add ${RESTRICTIONS}\\AllowInstanceIDs /v 1`,
      `reg.exe add ${WPD_KEY} /v Deny_Write`,
      `reg.exe add ${WMDM_KEY} /v Deny_Write`,
      'pnputil.exe /enable-device USB\\VID_2717&PID_FF40\\EXAMPLE0SERIAL01',
      'pnputil.exe /restart-device USB\\VID_2717&PID_FF40\\EXAMPLE0SERIAL01',
    ]);
    // No WPD Deny_Write to lift, and the disks' one is not the phone's business.
    expect(
      show(applyCommands({ ...phones, denyWrite: 1 }, must(xiaomi), 'read-write', false)),
    ).toEqual([
      `reg.exe add ${RESTRICTIONS}\\AllowInstanceIDs /v 1`,
      'pnputil.exe /enable-device USB\\VID_2717&PID_FF40\\EXAMPLE0SERIAL01',
    ]);
    // And a stick's commands never touch the WPD keys.
    expect(
      show(
        applyCommands(
          {
            ...phones,
            wpdDenyWrite: [{ classGuid: '{6AC27878-A6FA-4155-BA85-F98F491D4F33}', value: 1 }],
          },
          must(stick),
          'read-write',
          false,
        ),
      ),
    ).toEqual([
      `reg.exe add ${RESTRICTIONS}\\AllowInstanceIDs /v 1`,
      'pnputil.exe /enable-device USB\\VID_0781&PID_5580\\AA010501150437250249',
    ]);
  });

  it('a refused phone is scanned for once allowed; a camera of class Image is blocked for read-only', async () => {
    const refused = await state('constructed-state-phone-refused.json');
    const [xiaomi, canon] = await attached('constructed-state-phone-refused.json');
    expect(show(applyCommands(refused, must(xiaomi), 'read-only', false))).toEqual([
      `reg.exe add ${RESTRICTIONS}\\AllowInstanceIDs /v 2`,
      `reg.exe add ${WMDM_KEY} /v Deny_Write`,
      'pnputil.exe /scan-devices',
      'pnputil.exe /enable-device USB\\VID_2717&PID_FF10\\EXAMPLE0SERIAL01',
      'pnputil.exe /restart-device USB\\VID_2717&PID_FF10\\EXAMPLE0SERIAL01',
    ]);
    expect(show(applyCommands(refused, must(canon), 'read-only', false))).toEqual([
      'pnputil.exe /disable-device USB\\VID_04A9&PID_3218\\5&2B6A1D3C&0&2',
    ]);
    // Read-write lifts only the WPD value that exists, and restarts to apply it...
    expect(show(applyCommands(refused, must(xiaomi), 'read-write', false))).toEqual([
      `reg.exe add ${RESTRICTIONS}\\AllowInstanceIDs /v 2`,
      `reg.exe delete ${WPD_KEY} /v Deny_Write`,
      'pnputil.exe /scan-devices',
      'pnputil.exe /enable-device USB\\VID_2717&PID_FF10\\EXAMPLE0SERIAL01',
      'pnputil.exe /restart-device USB\\VID_2717&PID_FF10\\EXAMPLE0SERIAL01',
    ]);
    // ...unless another phone must stay read-only.
    expect(show(applyCommands(refused, must(xiaomi), 'read-write', true))).toEqual([
      `reg.exe add ${RESTRICTIONS}\\AllowInstanceIDs /v 2`,
      'pnputil.exe /scan-devices',
      'pnputil.exe /enable-device USB\\VID_2717&PID_FF10\\EXAMPLE0SERIAL01',
    ]);
  });

  const hostWith = (states: string[]) => {
    let listed = 0;
    return fakeHost({
      commands: {
        'powershell.exe': () => ok(states[Math.min(listed++, states.length - 1)]),
        'reg.exe': ok('The operation completed successfully.'),
        'pnputil.exe': ok(''),
      },
    });
  };

  it('fail closed follows the policy: deny while portable media count, lift and rescan when not', async () => {
    const sandisk = await fixture('constructed-state-sandisk.json');
    const counting = hostWith([sandisk]);
    await expect(windowsUsbPlatform(counting).installFailClosedDefault(policy(true))).resolves.toBe(
      null,
    );
    const regs = counting.calls.filter((c) => c.command === 'reg.exe').map((c) => c.args[7]);
    expect(regs).toEqual([
      '1',
      'USB\\Class_08',
      '1',
      '1',
      '1',
      'USB\\Class_06',
      'USB\\MS_COMP_MTP',
      'USB\\MS_COMP_PTP',
      '{eec5ad98-8080-425f-922a-dabf3de3f69a}',
      '1',
    ]);
    expect(counting.calls.map((c) => c.args.join(' ')).join('\n')).toContain(
      'DenyDeviceClasses /v 1 /t REG_SZ /d {eec5ad98-8080-425f-922a-dabf3de3f69a}',
    );

    const lifting = hostWith([await fixture('constructed-state-phone-refused.json')]);
    await windowsUsbPlatform(lifting).installFailClosedDefault(policy(false));
    const after = lifting.calls.slice(1).map((c) => `${c.command} ${c.args.slice(0, 4).join(' ')}`);
    expect(after.slice(5)).toEqual([
      `reg.exe delete ${RESTRICTIONS}\\DenyDeviceIDs /v 2`,
      `reg.exe delete ${RESTRICTIONS}\\DenyDeviceIDs /v 3`,
      `reg.exe delete ${RESTRICTIONS}\\DenyDeviceIDs /v 4`,
      `reg.exe delete ${RESTRICTIONS}\\DenyDeviceClasses /v 2`,
      // The phone the deny kept from installing gets its driver now.
      'pnputil.exe /scan-devices',
    ]);

    // Without a policy (an older caller) portable media are left as they are.
    const untouched = hostWith([sandisk]);
    await windowsUsbPlatform(untouched).installFailClosedDefault();
    expect(untouched.calls.filter((c) => c.command === 'reg.exe')).toHaveLength(5);
  });

  it('read-only on a refused phone that installs as something other than WPD ends blocked', async () => {
    const refused = await state('constructed-state-phone-refused.json');
    const phone = must(refused.portableMedia[0]);
    const print = (value: WindowsUsbState) => JSON.stringify(value);
    const installedAs = (classGuid: string) =>
      print({
        ...refused,
        allowInstanceIds: [...refused.allowInstanceIds, { name: '2', value: phone.instanceId }],
        portableMedia: [{ ...phone, errorCode: 0, classGuid }],
      });
    const host = hostWith([print(refused), installedAs('{6bdd1fc6-810f-11d0-bec7-08002be2092f}')]);
    const platform = windowsUsbPlatform(host);
    const [xiaomi] = attachedFrom(refused) as AttachedUsbStorage[];
    await platform.apply(must(xiaomi), 'read-only');
    const steps = host.calls
      .filter((c) => c.command !== 'powershell.exe')
      .map((c) => `${c.command} ${c.args.slice(0, 4).join(' ')}`);
    expect(steps.slice(-2)).toEqual([
      `reg.exe delete ${RESTRICTIONS}\\AllowInstanceIDs /v 2`,
      'pnputil.exe /disable-device USB\\VID_2717&PID_FF10\\EXAMPLE0SERIAL01',
    ]);
    // From then on read-only is a block for it, without enabling it first.
    const calls = host.calls.length;
    await platform.apply(must(xiaomi), 'read-write');
    await platform.apply(must(xiaomi), 'read-only');
    const later = host.calls.slice(calls).filter((c) => c.command === 'pnputil.exe');
    expect(later.at(-1)?.args[0]).toBe('/disable-device');
    expect(later.filter((c) => c.args[0] === '/enable-device')).toHaveLength(1);

    // Installed as WPD: it stays read-only (enabled, nothing blocked afterwards).
    const wpd = hostWith([print(refused), installedAs('{eec5ad98-8080-425f-922a-dabf3de3f69a}')]);
    await windowsUsbPlatform(wpd).apply(must(xiaomi), 'read-only');
    expect(wpd.calls.filter((c) => c.args[0] === '/disable-device')).toEqual([]);
  });
});
