import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AttachedUsbStorage } from '../../../../agent/core/usb/platform.ts';
import {
  allowListCommands,
  applyCommands,
  attachedFrom,
  failClosedCommands,
  parseInstanceId,
  parseState,
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
