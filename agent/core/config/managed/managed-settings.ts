import type { Host } from '../../host.ts';

/** Reads the OS's managed settings for the agent (GPO/Intune, MDM profile, config management). */
export type ManagedSettingsReader = (host: Host) => Promise<Record<string, unknown>>;

/** Keys managed settings may set; anything else there is ignored with a warning by the caller. */
export const MANAGED_KEYS = [
  'serverUrl',
  'enrolmentToken',
  'logLevel',
  'outboxMaxReports',
  'heartbeatMinutes',
];

/** Keeps only the keys managed settings may set (never local paths such as the state folder). */
export function pickManaged(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).filter(([key]) => MANAGED_KEYS.includes(key)));
}
