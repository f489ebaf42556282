// Where a "fix it" button takes a member of staff, per OS and check: the OS's own settings page,
// never a URL or command a message can choose (the renderer names a check id; the main process
// looks the target up here). A check with no settings page the user can act on has null: the
// page then says to contact ICT. One table per OS in this one file because it is data, not
// per-OS code: nothing here runs until the main process opens it.
import type { CheckId, DeviceFacts } from '../../shared/index.ts';

/** The OS names Hallpass uses (Node's, with `windows` for `win32`). */
export type OsName = DeviceFacts['os']['name'];

/** A settings page opened by URI (shell.openExternal) or by a fixed command (no shell). */
export type RemediationTarget =
  | { kind: 'uri'; uri: string; label: string }
  | { kind: 'command'; command: string; args: readonly string[]; label: string };

type Table = Record<CheckId, RemediationTarget | null>;

// Windows: the ms-settings: URIs Microsoft lists in "Launch the Windows Settings app"
// (learn.microsoft.com/windows/apps/develop/launch/launch-settings-app, sections System
// "Encryption", Accounts "Sign-in options", Update and security "Windows Security" and
// "Windows Update"). The firewall lives inside Windows Security, which has no ms-settings page
// of its own for it.
const windows: Table = {
  'disk-encryption': {
    kind: 'uri',
    uri: 'ms-settings:deviceencryption',
    label: 'Open Encryption settings',
  },
  antivirus: { kind: 'uri', uri: 'ms-settings:windowsdefender', label: 'Open Windows Security' },
  'os-updates': { kind: 'uri', uri: 'ms-settings:windowsupdate', label: 'Open Windows Update' },
  firewall: { kind: 'uri', uri: 'ms-settings:windowsdefender', label: 'Open Windows Security' },
  'screen-lock': { kind: 'uri', uri: 'ms-settings:signinoptions', label: 'Open Sign-in options' },
  'agent-health': null,
};

// macOS 13+ System Settings: the x-apple.systempreferences: ids listed for Ventura in
// github.com/bvanpeski/SystemPreferences (macos_preferencepanes-Ventura.md: "Software Update",
// "Privacy & Security" › "FileVault", "Lock Screen", "Network"; the firewall moved under
// Network in Ventura). macOS has no user-facing anti-virus settings (XProtect is built in).
const darwin: Table = {
  'disk-encryption': {
    kind: 'uri',
    uri: 'x-apple.systempreferences:com.apple.preference.security?FileVault',
    label: 'Open FileVault settings',
  },
  antivirus: null,
  'os-updates': {
    kind: 'uri',
    uri: 'x-apple.systempreferences:com.apple.Software-Update-Settings.extension',
    label: 'Open Software Update',
  },
  firewall: {
    kind: 'uri',
    uri: 'x-apple.systempreferences:com.apple.Network-Settings.extension',
    label: 'Open Network settings',
  },
  'screen-lock': {
    kind: 'uri',
    uri: 'x-apple.systempreferences:com.apple.Lock-Screen-Settings.extension',
    label: 'Open Lock Screen settings',
  },
  'agent-health': null,
};

// GNOME (Debian 12, gnome-control-center 43.6): the panel names from the package's own
// launchers (/usr/share/applications/gnome-screen-panel.desktop: `Exec=gnome-control-center
// screen`, the screen-lock panel) and gnome-software(1) (`--mode updates`). GNOME has no panel
// for disk encryption (set at install), a firewall or anti-virus.
const linux: Table = {
  'disk-encryption': null,
  antivirus: null,
  'os-updates': {
    kind: 'command',
    command: 'gnome-software',
    args: ['--mode', 'updates'],
    label: 'Open Software updates',
  },
  firewall: null,
  'screen-lock': {
    kind: 'command',
    command: 'gnome-control-center',
    args: ['screen'],
    label: 'Open Screen Lock settings',
  },
  'agent-health': null,
};

const TABLES: Record<OsName, Table> = { windows, darwin, linux };

/** The settings page that fixes `checkId` on `os`, or null when there is none to open. */
export function remediationTarget(os: OsName, checkId: CheckId): RemediationTarget | null {
  return TABLES[os][checkId];
}
