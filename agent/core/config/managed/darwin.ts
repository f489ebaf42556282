import { AgentConfigError } from '../agent-config.ts';
import { pickManaged, type ManagedSettingsReader } from './managed-settings.ts';

/** An MDM configuration profile for the payload type org.hallpass.agent lands here. */
export const DARWIN_MANAGED_PLIST = '/Library/Managed Preferences/org.hallpass.agent.plist';

/** Parses `plutil -convert json -o -` output into managed settings. */
export function parseDarwinManagedSettings(stdout: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(stdout);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return pickManaged(parsed as Record<string, unknown>);
    }
  } catch {
    // fall through to the error below
  }
  throw new AgentConfigError(`managed settings (${DARWIN_MANAGED_PLIST}): unreadable`);
}

/** macOS managed settings from the MDM profile's plist; none when no profile is installed. */
export const readDarwinManagedSettings: ManagedSettingsReader = async (host) => {
  if ((await host.files.mtime(DARWIN_MANAGED_PLIST)) === null) {
    return { settings: {}, untrusted: [] };
  }
  const output = await host.run('plutil', ['-convert', 'json', '-o', '-', DARWIN_MANAGED_PLIST], {
    timeoutMs: 10_000,
  });
  return { settings: parseDarwinManagedSettings(output.stdout), untrusted: [] };
};
