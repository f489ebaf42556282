// USB storage enforcement on Windows (PLATFORMS.md §6). Fail closed in the registry: Device
// Installation Restrictions with layered evaluation deny the mass-storage class (USB\Class_08)
// and allow the instance ids the service approved, so a stick is refused by Windows itself
// while the service is stopped. Devices already attached are disabled and enabled with pnputil;
// read-only is the Removable Storage Access policy (Deny_Write for removable disks), which
// Windows applies to every removable disk alike. Detection: windows-usb.ps1 in watch mode, one
// PowerShell that prints the whole USB storage state after every device change.
import { Type, type Static } from 'typebox';
import { describeProblems, validate } from '../../../shared/index.ts';
import { readAsset } from '../assets.ts';
import type { Host } from '../host.ts';
import { parseJsonOutput, powershellArgs, runPowerShellScript } from '../powershell.ts';
import { ProbeError } from '../runner.ts';
import { startLineMonitor, spawnMonitor, type Spawner } from './line-monitor.ts';
import type {
  AttachedUsbStorage,
  UsbEnforcement,
  UsbPlatform,
  UsbWatchHandlers,
} from './platform.ts';
import { usbDevice } from './sanitize.ts';
import { unidentifiedDevice } from './unidentified.ts';

const SCRIPT = new URL('./windows-usb.ps1', import.meta.url);
const LIST_TIMEOUT_MS = 60_000;
const COMMAND_TIMEOUT_MS = 30_000;
/** A state line lists every USB storage node: generous, still bounded. */
const MAX_STATE_LINE = 1024 * 1024;

const RESTRICTIONS = 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\DeviceInstall\\Restrictions';
const DENY_IDS = `${RESTRICTIONS}\\DenyDeviceIDs`;
const ALLOW_IDS = `${RESTRICTIONS}\\AllowInstanceIDs`;
/** Removable Disks (GUID_DEVINTERFACE_DISK) under the Removable Storage Access policy. */
const REMOVABLE_DISKS =
  'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}';
/** The compatible id every USB mass-storage interface carries (MS Learn "Standard USB Identifiers"). */
export const MASS_STORAGE_CLASS_ID = 'USB\\Class_08';

/** What windows-usb.ps1 prints, checked before anything is read. */
export const ScriptOutputSchema = Type.Object(
  {
    devices: Type.Array(
      Type.Object(
        {
          instanceId: Type.String(),
          parentInstanceId: Type.Union([Type.String(), Type.Null()]),
          name: Type.String(),
          errorCode: Type.Integer(),
          diskIndexes: Type.Array(Type.Integer()),
        },
        { additionalProperties: false },
      ),
    ),
    systemDiskIndex: Type.Union([Type.Integer(), Type.Null()]),
    allowInstanceIds: Type.Array(
      Type.Object({ name: Type.String(), value: Type.String() }, { additionalProperties: false }),
    ),
    denyWrite: Type.Union([Type.Integer(), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
/** The USB storage state windows-usb.ps1 reports. */
export type WindowsUsbState = Static<typeof ScriptOutputSchema>;

/** Ids read from a PnP instance id `USB\VID_xxxx&PID_yyyy[&MI_nn]\<instance>`. */
export interface InstanceIdentity {
  vendorId: string;
  productId: string;
  /** The device's serial, or null when Windows made the instance part up. */
  serial: string | null;
  /** Interface number of a composite device's function (`MI_nn`), else null. */
  interface: string | null;
}

const INSTANCE_ID =
  /^USB\\VID_([0-9A-Fa-f]{4})&PID_([0-9A-Fa-f]{4})(?:&MI_([0-9A-Fa-f]{2}))?\\(.+)$/;

/**
 * Parses a USB device instance id. Windows uses the device's serial as the instance part when
 * the device reports one; otherwise it generates one holding `&` (e.g. `6&148744D9&0&3`, its
 * second character `&`): that is not a serial and is returned as null (MS Learn "Device
 * Instance ID", "Standard USB Identifiers"). Null when the id is not a USB instance id.
 */
export function parseInstanceId(id: string): InstanceIdentity | null {
  const match = INSTANCE_ID.exec(id.trim());
  if (match === null) {
    return null;
  }
  const [, vendor = '', product = '', iface, instance = ''] = match;
  const generated = instance.charAt(1) === '&' || iface !== undefined;
  return {
    vendorId: vendor.toLowerCase(),
    productId: product.toLowerCase(),
    serial: generated || instance === '' ? null : instance,
    interface: iface ?? null,
  };
}

/** Parses windows-usb.ps1's JSON; a string says why it is not understood. */
export function parseState(raw: string): WindowsUsbState | string {
  const json = parseJsonOutput(raw.trim());
  const checked = validate(ScriptOutputSchema, json);
  if (!checked.ok) {
    return `windows-usb.ps1 printed an unexpected shape: ${
      json === undefined ? raw.trim().slice(0, 200) : describeProblems(checked.problems)
    }`;
  }
  if (checked.value.error !== null) {
    return `windows-usb.ps1: ${checked.value.error.slice(0, 500)}`;
  }
  return checked.value;
}

/**
 * The storage a state lists. A node whose own id has no serial (an MI_nn interface, a stick
 * without one) takes its ids from its parent when the parent is the same USB device; a node
 * whose ids cannot be read at all is reported as unidentifiable (never approved).
 */
export function attachedFrom(state: WindowsUsbState): AttachedUsbStorage[] | string {
  if (state.systemDiskIndex === null) {
    // Without it the disk Windows runs from cannot be told apart: judge nothing.
    return 'the disk holding the Windows volume was not found (Get-Partition)';
  }
  return state.devices.map((node) => {
    const own = parseInstanceId(node.instanceId);
    const parent = node.parentInstanceId === null ? null : parseInstanceId(node.parentInstanceId);
    const sameDevice =
      own !== null &&
      parent !== null &&
      parent.vendorId === own.vendorId &&
      parent.productId === own.productId;
    const ids = own?.interface !== null && sameDevice ? parent : own;
    const device =
      ids === null
        ? null
        : usbDevice({
            vendorId: ids.vendorId,
            productId: ids.productId,
            serial: ids.serial,
            product: node.name,
            kind: 'mass-storage',
          });
    return {
      key: node.instanceId,
      device: device ?? unidentifiedDevice('its PnP instance id is not a USB device id'),
      systemDisk: node.diskIndexes.includes(state.systemDiskIndex ?? -1),
    };
  });
}

/** `reg.exe` arguments that set one value. */
export function regAdd(key: string, name: string, type: 'REG_DWORD' | 'REG_SZ', data: string) {
  return ['add', key, '/v', name, '/t', type, '/d', data, '/f'];
}

/** `reg.exe` arguments that delete one value. */
export function regDelete(key: string, name: string) {
  return ['delete', key, '/v', name, '/f'];
}

/**
 * The fail-closed restriction (MS Learn "Policy CSP - DeviceInstallation"): layered evaluation
 * (an allowed instance id beats a denied device id; Windows 10 1809 with KB5005102, 2004 with
 * KB5004296, Windows 11), deny USB\Class_08, retroactively for devices already installed, and
 * turn the instance-id allow list on. The values are what the Group Policy editor writes.
 */
export function failClosedCommands(): string[][] {
  return [
    regAdd(RESTRICTIONS, 'AllowDenyLayered', 'REG_DWORD', '1'),
    regAdd(DENY_IDS, '1', 'REG_SZ', MASS_STORAGE_CLASS_ID),
    regAdd(RESTRICTIONS, 'DenyDeviceIDs', 'REG_DWORD', '1'),
    regAdd(RESTRICTIONS, 'DenyDeviceIDsRetroactive', 'REG_DWORD', '1'),
    regAdd(RESTRICTIONS, 'AllowInstanceIDs', 'REG_DWORD', '1'),
  ];
}

/** Commands that make the allow list hold `instanceId` or not, given what it holds now. */
export function allowListCommands(
  current: readonly { name: string; value: string }[],
  instanceId: string,
  allowed: boolean,
): string[][] {
  const same = (value: string) => value.toUpperCase() === instanceId.toUpperCase();
  if (allowed) {
    if (current.some((entry) => same(entry.value))) {
      return [];
    }
    const used = new Set(current.map((entry) => entry.name));
    let name = 1;
    while (used.has(String(name))) {
      name += 1;
    }
    return [regAdd(ALLOW_IDS, String(name), 'REG_SZ', instanceId)];
  }
  return current
    .filter((entry) => same(entry.value))
    .map((entry) => regDelete(ALLOW_IDS, entry.name));
}

/** `pnputil` arguments for one device (Windows 10 2004 and later). */
export function pnputilArgs(verb: 'disable' | 'enable' | 'restart', instanceId: string) {
  return [`/${verb}-device`, instanceId];
}

/** The commands that give `storage` the action, given the registry state now. */
export function applyCommands(
  state: Pick<WindowsUsbState, 'allowInstanceIds' | 'denyWrite' | 'devices'>,
  storage: AttachedUsbStorage,
  action: UsbEnforcement,
  otherReadOnly: boolean,
): { command: 'reg.exe' | 'pnputil.exe'; args: string[] }[] {
  const reg = (args: string[]) => ({ command: 'reg.exe' as const, args });
  const pnputil = (args: string[]) => ({ command: 'pnputil.exe' as const, args });
  const allow = allowListCommands(state.allowInstanceIds, storage.key, action !== 'block').map(reg);
  // A node the restriction kept from installing (ConfigManagerErrorCode 28, drivers not
  // installed) gets its driver only when Windows looks at it again: a hardware scan, as Device
  // Manager's "Scan for hardware changes" (pnputil /scan-devices, Windows 10 2004 and later).
  const node = state.devices.find((d) => d.instanceId.toUpperCase() === storage.key.toUpperCase());
  const scan = action !== 'block' && node?.errorCode === 28 ? [pnputil(['/scan-devices'])] : [];
  switch (action) {
    case 'block':
      return [...allow, pnputil(pnputilArgs('disable', storage.key))];
    case 'read-only':
      return [
        ...allow,
        ...(state.denyWrite === 1
          ? []
          : [reg(regAdd(REMOVABLE_DISKS, 'Deny_Write', 'REG_DWORD', '1'))]),
        ...scan,
        pnputil(pnputilArgs('enable', storage.key)),
        // Deny_Write is read when the disk starts; restarting the device applies it without a
        // reboot (ADMX_RemovableStorage: otherwise "the access right doesn't take effect until
        // the operating system is restarted").
        pnputil(pnputilArgs('restart', storage.key)),
      ];
    case 'read-write': {
      // Deny_Write covers every removable disk: while another attached one must stay
      // read-only, this one stays read-only too (stricter, never looser).
      const lift = state.denyWrite !== null && !otherReadOnly;
      return [
        ...allow,
        ...(lift ? [reg(regDelete(REMOVABLE_DISKS, 'Deny_Write'))] : []),
        ...scan,
        pnputil(pnputilArgs('enable', storage.key)),
        ...(lift ? [pnputil(pnputilArgs('restart', storage.key))] : []),
      ];
    }
  }
}

/** pnputil exit codes that mean done; 3010 (ERROR_SUCCESS_REBOOT_REQUIRED) is not done yet. */
const PNPUTIL_DONE = new Set([0]);

/** The Windows USB platform; `spawner` starts the long-lived watcher. */
export function windowsUsbPlatform(host: Host, spawner: Spawner = spawnMonitor): UsbPlatform {
  const applied = new Map<string, UsbEnforcement>();

  async function state(): Promise<WindowsUsbState> {
    const parsed = parseState(await runPowerShellScript(host, SCRIPT, LIST_TIMEOUT_MS));
    if (typeof parsed === 'string') {
      throw new ProbeError('unrecognised-output', parsed);
    }
    return parsed;
  }

  async function run(command: 'reg.exe' | 'pnputil.exe', args: string[]): Promise<void> {
    const output = await host.run(command, args, { timeoutMs: COMMAND_TIMEOUT_MS });
    if (command === 'pnputil.exe' ? !PNPUTIL_DONE.has(output.exitCode) : output.exitCode !== 0) {
      throw new ProbeError(
        'probe-failed',
        `${command} ${args[0] ?? ''} exited ${output.exitCode}${
          output.exitCode === 3010 ? ' (a restart is needed to finish)' : ''
        }: ${output.stderr.trim().slice(0, 300) || output.stdout.trim().slice(0, 300)}`,
      );
    }
  }

  return {
    async installFailClosedDefault() {
      // A Windows that runs from a USB disk would lose its own disk to the retroactive deny:
      // its storage node is allowed first.
      const now = await state();
      const attached = attachedFrom(now);
      if (typeof attached === 'string') {
        throw new ProbeError('not-measured', attached);
      }
      for (const storage of attached.filter((s) => s.systemDisk)) {
        for (const args of allowListCommands(now.allowInstanceIds, storage.key, true)) {
          await run('reg.exe', args);
        }
      }
      for (const args of failClosedCommands()) {
        await run('reg.exe', args);
      }
      return null;
    },

    async listAttached() {
      const attached = attachedFrom(await state());
      if (typeof attached === 'string') {
        throw new ProbeError('not-measured', attached);
      }
      return attached;
    },

    watch(handlers: UsbWatchHandlers) {
      let known = new Map<string, AttachedUsbStorage>();
      let script: Promise<string> | null = readAsset(SCRIPT);
      let monitor: { stop(): Promise<void> } | null = null;
      let stopped = false;
      const onLine = (line: string) => {
        if (line.trim() === '') {
          return;
        }
        const parsed = parseState(line);
        const attached = typeof parsed === 'string' ? parsed : attachedFrom(parsed);
        if (typeof attached === 'string') {
          handlers.failed(new Error(attached));
          return;
        }
        const next = new Map(attached.map((s) => [s.key, s]));
        for (const key of known.keys()) {
          if (!next.has(key)) {
            applied.delete(key);
            handlers.detached(key);
          }
        }
        for (const [key, storage] of next) {
          if (!known.has(key)) {
            handlers.attached(storage);
          }
        }
        known = next;
      };
      void script
        .then((text) => {
          script = null;
          if (stopped) {
            return;
          }
          const args = powershellArgs(`$HallpassWatch = $true\n${text}`);
          monitor = startLineMonitor(
            spawner,
            'powershell.exe',
            args,
            {
              line: onLine,
              noise: () => undefined,
              ended: (error) => {
                handlers.failed(error);
              },
            },
            MAX_STATE_LINE,
          );
        })
        .catch((error: unknown) => {
          handlers.failed(new Error('windows-usb.ps1 could not be read', { cause: error }));
        });
      return {
        async stop() {
          stopped = true;
          await monitor?.stop();
        },
      };
    },

    async apply(storage, action) {
      if (storage.systemDisk || applied.get(storage.key) === action) {
        return;
      }
      const now = await state();
      const otherReadOnly = [...applied].some(
        ([key, done]) => key !== storage.key && done === 'read-only',
      );
      for (const step of applyCommands(now, storage, action, otherReadOnly)) {
        await run(step.command, step.args);
      }
      applied.set(storage.key, action);
    },
  };
}
