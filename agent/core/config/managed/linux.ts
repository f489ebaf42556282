import { AgentConfigError, checkTokenFilePermissions, parseSettingsText } from '../agent-config.ts';
import { ancestorsProblem, readTrustedFile, serviceUid } from '../../trusted-path.ts';
import {
  pickManaged,
  type ManagedSettings,
  type ManagedSettingsReader,
} from './managed-settings.ts';

/** Where configuration management (Ansible, Puppet, a package) drops settings that win over agent.json. */
export const LINUX_MANAGED_FILE = '/etc/hallpass/managed.json';

const MAX_BYTES = 64 * 1024;

/**
 * Reads a managed settings file only if root wrote it (issue 12): owned by `owner`, not
 * writable by group or others, not a link, in folders only root can change. Its settings beat
 * agent.json (the server URL among them), so a file anyone else could have written is ignored
 * and reported, never obeyed. One that holds the enrolment token must also be unreadable by
 * others, or the service refuses to start. `owner` null (no uids) skips those checks.
 */
export async function readManagedSettingsFile(
  path: string,
  owner: number | null,
): Promise<ManagedSettings> {
  const read = await readTrustedFile(path, { uid: owner, maxBytes: MAX_BYTES });
  switch (read.kind) {
    case 'missing':
      return { settings: {}, untrusted: [] };
    case 'unreadable':
      throw new AgentConfigError(`managed settings: ${read.reason}`);
    case 'untrusted':
      return { settings: {}, untrusted: [`${read.reason}; its settings were ignored`] };
    case 'ok':
      break;
    default:
      return read satisfies never;
  }
  const above =
    owner === null
      ? null
      : await ancestorsProblem(path, owner).catch(
          (error: unknown) => `the folders above ${path} cannot be examined (${String(error)})`,
        );
  if (above !== null) {
    return { settings: {}, untrusted: [`${above}; the settings in ${path} were ignored`] };
  }
  const settings = pickManaged(parseSettingsText(path, read.text));
  const token = settings.enrolmentToken;
  if (owner !== null && token !== undefined && token !== null) {
    // Root wrote it, but a token others can read lets a pupil enrol devices of their own: the
    // same refusal to start as agent.json's (issue 12).
    checkTokenFilePermissions(path, read.stats, owner);
  }
  return { settings, untrusted: [] };
}

/** Linux managed settings: a root-owned JSON file. */
export const readLinuxManagedSettings: ManagedSettingsReader = () =>
  readManagedSettingsFile(LINUX_MANAGED_FILE, serviceUid() === null ? null : 0);
