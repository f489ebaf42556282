// electron-builder's afterPack hook for the tray (electron-builder.yml): flips Electron's fuses
// in the packed binary before it is signed, so that the Electron a pupil finds on the machine
// cannot be used as a general-purpose Node (ARCHITECTURE.md, "Three programs"; Electron's
// "Electron Fuses" docs). electron-builder loads this file with import(): Node 24 strips its
// types, so it must stay erasable TypeScript.
import { FuseV1Options, FuseVersion, type FuseConfig } from '@electron/fuses';

/**
 * Every fuse set explicitly (strictlyRequireAllFuses: a fuse added by a newer Electron fails the
 * build until it is decided here). Asar integrity is checked by Electron on macOS and Windows;
 * Linux has no embedded integrity check, only the asar-only loading.
 */
export const TRAY_FUSES: FuseConfig = {
  version: FuseVersion.V1,
  strictlyRequireAllFuses: true,
  // Apple silicon refuses a binary whose ad-hoc signature no longer matches after the flip.
  resetAdHocDarwinSignature: true,
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableCookieEncryption]: true,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
};

/** The part of electron-builder's AfterPackContext this hook uses. */
export interface AfterPackContext {
  packager: {
    /** electron-builder's own call into @electron/fuses for the packed executable. */
    addElectronFuses(context: AfterPackContext, fuses: FuseConfig): Promise<number>;
  };
}

/** The hook: flips TRAY_FUSES in the packed app. */
export default async function afterPack(context: AfterPackContext): Promise<void> {
  await context.packager.addElectronFuses(context, TRAY_FUSES);
}
