import { AgentConfigError } from '../agent-config.ts';
import { parseJsonOutput } from '../../powershell.ts';
import { pickManaged, type ManagedSettingsReader } from './managed-settings.ts';

// Group Policy / Intune write policies under HKLM\SOFTWARE\Policies; values named as the keys
// of agent.json (serverUrl, enrolmentToken, …). Get-ItemProperty, not `reg query`, whose
// output is localised.
const SCRIPT = [
  '[Console]::OutputEncoding = [System.Text.Encoding]::UTF8',
  "$key = 'HKLM:\\SOFTWARE\\Policies\\Hallpass\\Agent'",
  'if (Test-Path $key) { Get-ItemProperty -Path $key | Select-Object -Property * -ExcludeProperty PS* | ConvertTo-Json -Depth 3 -Compress } else { "{}" }',
].join('\n');

/** Parses the script's JSON into managed settings. */
export function parseWindowsManagedSettings(stdout: string): Record<string, unknown> {
  const parsed = parseJsonOutput(stdout);
  if (
    parsed === undefined ||
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed)
  ) {
    throw new AgentConfigError('managed settings (registry): unreadable output');
  }
  return pickManaged(parsed as Record<string, unknown>);
}

/** Windows managed settings from the Policies registry key. */
export const readWindowsManagedSettings: ManagedSettingsReader = async (host) => {
  const encoded = Buffer.from(SCRIPT, 'utf16le').toString('base64');
  const output = await host.run(
    'powershell.exe',
    ['-NoProfile', '-NonInteractive', '-NoLogo', '-EncodedCommand', encoded],
    { timeoutMs: 20_000 },
  );
  return { settings: parseWindowsManagedSettings(output.stdout), untrusted: [] };
};
