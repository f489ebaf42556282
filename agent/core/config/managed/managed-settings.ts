import type { Host } from '../../host.ts';

/** Managed settings, and why a source of them was not trusted (its settings then ignored). */
export interface ManagedSettings {
  settings: Record<string, unknown>;
  /** Each a sentence naming the source: the service reports them as `tamper.state-corrupt`. */
  untrusted: string[];
}

/** Reads the OS's managed settings for the agent (GPO/Intune, MDM profile, config management). */
export type ManagedSettingsReader = (host: Host) => Promise<ManagedSettings>;

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
