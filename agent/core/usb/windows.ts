// USB storage enforcement on Windows (PLATFORMS.md §6). Fail closed in the registry: Device
// Installation Restrictions with layered evaluation deny the mass-storage class (USB\Class_08)
// and allow the instance ids the service approved, so a stick is refused by Windows itself
// while the service is stopped. Devices already attached are disabled and enabled with pnputil;
// read-only is the Removable Storage Access policy (Deny_Write for removable disks), which
// Windows applies to every removable disk alike. Detection: windows-usb.ps1 in watch mode, one
// PowerShell that prints the whole USB storage state after every device change.
// Portable media (MTP/PTP phones and cameras: Windows Portable Devices) are listed too, with kind
// portable-media, so the shared decision applies the policy's portableMediaIsStorage. When the
// policy counts them as storage, the same restriction denies their setup class and compatible
// ids; read-only is the Removable Storage Access policy's WPD Deny_Write.
import { Type, type Static } from 'typebox';
import {
  describeProblems,
  validate,
  type UsbPolicy,
  type UsbStorageKind,
} from '../../../shared/index.ts';
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
const DENY_CLASSES = `${RESTRICTIONS}\\DenyDeviceClasses`;
/** The WPD device setup class (GUID_DEVCLASS_WPD, "Portable Devices"), as Win32_PnPEntity prints it. */
export const WPD_CLASS_GUID = '{eec5ad98-8080-425f-922a-dabf3de3f69a}';
/**
 * Compatible ids of portable media the restriction denies: still image (PTP, and MTP phones
 * that reuse its class) and the Microsoft OS descriptor ids an MTP/PTP function with a vendor
 * class reports (MS Learn "Microsoft OS 1.0 Descriptors": compatible ids "MTP", "PTP").
 */
export const PORTABLE_MEDIA_DENY_IDS = ['USB\\Class_06', 'USB\\MS_COMP_MTP', 'USB\\MS_COMP_PTP'];
/**
 * "WPD Devices: Deny write access" (ADMX_RemovableStorage WPDDevices_DenyWrite_Access_2) writes
 * Deny_Write under both keys: GUID_DEVINTERFACE_WPD, and the Windows Media Device Manager
 * device interface {F33FDC04-…} that the shipped RemovableStorage.admx names beside it.
 */
export const WPD_ACCESS_KEYS = [
  'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\{6AC27878-A6FA-4155-BA85-F98F491D4F33}',
  'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\{F33FDC04-D1AC-4E8E-9A30-19BBD4B108AE}',
];

const RegistryList = Type.Array(
  Type.Object({ name: Type.String(), value: Type.String() }, { additionalProperties: false }),
);

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
    allowInstanceIds: RegistryList,
    denyWrite: Type.Union([Type.Integer(), Type.Null()]),
    /** USB nodes of phones and cameras (MTP/PTP), never also in `devices`. */
    portableMedia: Type.Array(
      Type.Object(
        {
          instanceId: Type.String(),
          parentInstanceId: Type.Union([Type.String(), Type.Null()]),
          name: Type.String(),
          errorCode: Type.Integer(),
          /** Lower case with braces; null while no driver was ever installed. */
          classGuid: Type.Union([Type.String(), Type.Null()]),
          /** Only its portable-media compatible ids (USB\Class_06…, USB\MS_COMP_MTP/PTP…). */
          compatibleIds: Type.Array(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    denyDeviceIds: RegistryList,
    denyDeviceClasses: RegistryList,
    /** Deny_Write under the WPD access keys, for each key that has one. */
    wpdDenyWrite: Type.Array(
      Type.Object(
        { classGuid: Type.String(), value: Type.Integer() },
        { additionalProperties: false },
      ),
    ),
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

/** Whether a compatible id is one windows-usb.ps1 lists portable media by (the same test). */
export function isPortableMediaId(id: string): boolean {
  return /^USB\\(?:Class_06|MS_COMP_MTP|MS_COMP_PTP)(?:&.*)?$/i.test(id);
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
  const state = checked.value;
  if (state.error !== null) {
    return `windows-usb.ps1: ${state.error.slice(0, 500)}`;
  }
  // A listing that contradicts itself is not believed: a node without the evidence it was
  // listed for, or one node twice (its key would stand for two devices).
  const unfounded = state.portableMedia.find(
    (node) =>
      node.classGuid?.toLowerCase() !== WPD_CLASS_GUID &&
      !node.compatibleIds.some(isPortableMediaId),
  );
  if (unfounded !== undefined) {
    return `windows-usb.ps1 listed portable media without WPD class or MTP/PTP compatible id: ${JSON.stringify(unfounded.instanceId.slice(0, 200))}`;
  }
  const keys = [...state.devices, ...state.portableMedia].map((node) =>
    node.instanceId.toUpperCase(),
  );
  const twice = keys.find((key, index) => keys.indexOf(key) !== index);
  if (twice !== undefined) {
    return `windows-usb.ps1 listed one node twice: ${JSON.stringify(twice.slice(0, 200))}`;
  }
  return state;
}

/**
 * Who a node is. A node whose own id has no serial (an MI_nn interface, a stick without one)
 * takes its ids from its parent when the parent is the same USB device; a node whose ids cannot
 * be read at all is reported as unidentifiable (never approved).
 */
function identify(
  node: { instanceId: string; parentInstanceId: string | null; name: string },
  kind: UsbStorageKind,
): AttachedUsbStorage['device'] {
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
          kind,
        });
  return device ?? unidentifiedDevice('its PnP instance id is not a USB device id', kind);
}

/** The storage and portable media a state lists (portable media never hold the system disk). */
export function attachedFrom(state: WindowsUsbState): AttachedUsbStorage[] | string {
  if (state.systemDiskIndex === null) {
    // Without it the disk Windows runs from cannot be told apart: judge nothing.
    return 'the disk holding the Windows volume was not found (Get-Partition)';
  }
  const systemDiskIndex = state.systemDiskIndex;
  return [
    ...state.devices.map((node) => ({
      key: node.instanceId,
      device: identify(node, 'mass-storage'),
      systemDisk: node.diskIndexes.includes(systemDiskIndex),
    })),
    ...state.portableMedia.map((node) => ({
      key: node.instanceId,
      device: identify(node, 'portable-media'),
      systemDisk: false,
    })),
  ];
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

/**
 * Commands that make the restriction deny portable media (`counts`: the policy's
 * portableMediaIsStorage is true) or stop denying them, given the deny lists now. Denied: the
 * WPD setup class (DenyDeviceClasses) and the compatible ids in PORTABLE_MEDIA_DENY_IDS
 * (DenyDeviceIDs, retroactive with the storage id). Approved instance ids stay allowed through
 * AllowInstanceIDs and AllowDenyLayered, as for storage. Entries are recognised by value, so an
 * administrator's own entries are never touched; value name 1 of DenyDeviceIDs is kept for
 * USB\Class_08 (failClosedCommands). The class deny is not made retroactive: that flag covers
 * every listed class, and a retroactive WPD deny would also remove WPD nodes that are not USB
 * (the portable-device node of every mounted volume, Bluetooth phones).
 */
export function portableMediaRestrictionCommands(
  state: Pick<WindowsUsbState, 'denyDeviceIds' | 'denyDeviceClasses'>,
  counts: boolean,
): string[][] {
  const has = (list: readonly { value: string }[], value: string) =>
    list.some((entry) => entry.value.trim().toUpperCase() === value.toUpperCase());
  if (!counts) {
    return [
      ...state.denyDeviceIds
        .filter((entry) =>
          PORTABLE_MEDIA_DENY_IDS.some(
            (id) => id.toUpperCase() === entry.value.trim().toUpperCase(),
          ),
        )
        .map((entry) => regDelete(DENY_IDS, entry.name)),
      ...state.denyDeviceClasses
        .filter((entry) => entry.value.trim().toLowerCase() === WPD_CLASS_GUID)
        .map((entry) => regDelete(DENY_CLASSES, entry.name)),
    ];
  }
  const freeNames = (list: readonly { name: string }[], reserved: string[]) => {
    const used = new Set([...list.map((entry) => entry.name), ...reserved]);
    let next = 1;
    return () => {
      while (used.has(String(next))) {
        next += 1;
      }
      used.add(String(next));
      return String(next);
    };
  };
  const idName = freeNames(state.denyDeviceIds, ['1']);
  const ids = PORTABLE_MEDIA_DENY_IDS.filter((id) => !has(state.denyDeviceIds, id)).map((id) =>
    regAdd(DENY_IDS, idName(), 'REG_SZ', id),
  );
  const classes = has(state.denyDeviceClasses, WPD_CLASS_GUID)
    ? []
    : [regAdd(DENY_CLASSES, freeNames(state.denyDeviceClasses, [])(), 'REG_SZ', WPD_CLASS_GUID)];
  return [...ids, ...classes, regAdd(RESTRICTIONS, 'DenyDeviceClasses', 'REG_DWORD', '1')];
}

/** `pnputil` arguments for one device (Windows 10 2004 and later). */
export function pnputilArgs(verb: 'disable' | 'enable' | 'restart', instanceId: string) {
  return [`/${verb}-device`, instanceId];
}

type Step = { command: 'reg.exe' | 'pnputil.exe'; args: string[] };
const reg = (args: string[]): Step => ({ command: 'reg.exe', args });
const pnputil = (args: string[]): Step => ({ command: 'pnputil.exe', args });

/**
 * Whether WPD Deny_Write can make a portable-media node read-only: its class is WPD, or it has
 * no class yet (never installed; the platform checks the class once it is, see apply). A node of
 * another class (Image: a still-image device driven through WIA) cannot: it is blocked instead.
 */
export function wpdReadOnlyPossible(node: { classGuid: string | null } | undefined): boolean {
  const guid = node?.classGuid ?? null;
  return guid === null || guid === '' || guid.toLowerCase() === WPD_CLASS_GUID;
}

/** The commands for a phone or camera (see applyCommands). */
function portableCommands(
  state: Pick<WindowsUsbState, 'allowInstanceIds' | 'portableMedia' | 'wpdDenyWrite'>,
  storage: AttachedUsbStorage,
  action: UsbEnforcement,
  otherReadOnly: boolean,
): Step[] {
  const node = state.portableMedia.find(
    (d) => d.instanceId.toUpperCase() === storage.key.toUpperCase(),
  );
  // MTP/PTP has no disk: read-only is WPD's Deny_Write or nothing, so fail closed without it.
  const effective = action === 'read-only' && !wpdReadOnlyPossible(node) ? 'block' : action;
  const allow = allowListCommands(state.allowInstanceIds, storage.key, effective !== 'block').map(
    reg,
  );
  const scan = effective !== 'block' && node?.errorCode === 28 ? [pnputil(['/scan-devices'])] : [];
  const denyWriteOf = (key: string) =>
    state.wpdDenyWrite.find((entry) => key.toUpperCase().endsWith(entry.classGuid.toUpperCase()));
  switch (effective) {
    case 'block':
      return [...allow, pnputil(pnputilArgs('disable', storage.key))];
    case 'read-only':
      return [
        ...allow,
        ...WPD_ACCESS_KEYS.filter((key) => denyWriteOf(key)?.value !== 1).map((key) =>
          reg(regAdd(key, 'Deny_Write', 'REG_DWORD', '1')),
        ),
        ...scan,
        pnputil(pnputilArgs('enable', storage.key)),
        pnputil(pnputilArgs('restart', storage.key)),
      ];
    case 'read-write': {
      // Deny_Write covers every WPD device: while another must stay read-only, so does this one.
      const present = otherReadOnly
        ? []
        : WPD_ACCESS_KEYS.filter((key) => denyWriteOf(key) !== undefined);
      return [
        ...allow,
        ...present.map((key) => reg(regDelete(key, 'Deny_Write'))),
        ...scan,
        pnputil(pnputilArgs('enable', storage.key)),
        ...(present.length > 0 ? [pnputil(pnputilArgs('restart', storage.key))] : []),
      ];
    }
  }
}

/**
 * The commands that give `storage` the action, given the registry state now. `otherReadOnly`:
 * another attached device of the same kind must stay read-only (Deny_Write is per kind).
 */
export function applyCommands(
  state: Pick<
    WindowsUsbState,
    'allowInstanceIds' | 'denyWrite' | 'devices' | 'portableMedia' | 'wpdDenyWrite'
  >,
  storage: AttachedUsbStorage,
  action: UsbEnforcement,
  otherReadOnly: boolean,
): Step[] {
  if (storage.device.kind === 'portable-media') {
    return portableCommands(state, storage, action, otherReadOnly);
  }
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
  const kinds = new Map<string, UsbStorageKind>();
  /** Portable media found, once installed, not to be WPD: read-only is a block for them. */
  const notWpd = new Set<string>();

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
    async installFailClosedDefault(policy?: UsbPolicy) {
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
      if (policy !== undefined) {
        const counts = policy.portableMediaIsStorage === true;
        const commands = portableMediaRestrictionCommands(now, counts);
        for (const args of commands) {
          await run('reg.exe', args);
        }
        // A phone the lifted deny kept from installing gets its driver at the next scan.
        if (!counts && now.portableMedia.some((node) => node.errorCode === 28)) {
          await run('pnputil.exe', ['/scan-devices']);
        }
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
            kinds.delete(key);
            notWpd.delete(key);
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
      const kind = storage.device.kind;
      const otherReadOnly = [...applied].some(
        ([key, done]) =>
          key !== storage.key &&
          done === 'read-only' &&
          (kinds.get(key) ?? 'mass-storage') === kind,
      );
      const effective = action === 'read-only' && notWpd.has(storage.key) ? 'block' : action;
      for (const step of applyCommands(now, storage, effective, otherReadOnly)) {
        await run(step.command, step.args);
      }
      if (kind === 'portable-media' && effective === 'read-only') {
        // A node that had no class yet got one when it installed: only WPD honours Deny_Write,
        // so anything else is blocked now and from now on (fail closed).
        const after = await state();
        const node = after.portableMedia.find(
          (d) => d.instanceId.toUpperCase() === storage.key.toUpperCase(),
        );
        if (node !== undefined && node.classGuid?.toLowerCase() !== WPD_CLASS_GUID) {
          notWpd.add(storage.key);
          for (const step of applyCommands(after, storage, 'block', otherReadOnly)) {
            await run(step.command, step.args);
          }
        }
      }
      kinds.set(storage.key, kind);
      applied.set(storage.key, action);
    },
  };
}
