import { readJsonSettings } from '../agent-config.ts';
import { pickManaged, type ManagedSettingsReader } from './managed-settings.ts';

/** Where configuration management (Ansible, Puppet, a package) drops settings that win over agent.json. */
export const LINUX_MANAGED_FILE = '/etc/hallpass/managed.json';

/** Linux managed settings: a root-owned JSON file. */
export const readLinuxManagedSettings: ManagedSettingsReader = async () =>
  pickManaged(await readJsonSettings(LINUX_MANAGED_FILE));
