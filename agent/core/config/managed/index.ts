import type { OsName } from '../../platform.ts';
import { readDarwinManagedSettings } from './darwin.ts';
import { readLinuxManagedSettings } from './linux.ts';
import type { ManagedSettingsReader } from './managed-settings.ts';
import { readWindowsManagedSettings } from './windows.ts';

/** The managed-settings reader of each OS, chosen once at start-up. */
export const managedSettingsReaders: Record<OsName, ManagedSettingsReader> = {
  linux: readLinuxManagedSettings,
  windows: readWindowsManagedSettings,
  darwin: readDarwinManagedSettings,
};
