import { Type } from 'typebox';
import { describeProblems, validate } from '../../../../shared/index.ts';
import type { Host } from '../../host.ts';
import { parseJsonOutput, runPowerShellScript } from '../../powershell.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import type { FirewallComponent, FirewallFacts } from './facts.ts';

const TIMEOUT_MS = 20_000;
const PROFILES = ['Domain', 'Private', 'Public'] as const;

/** Runs windows.ps1 (Get-NetFirewallProfile -PolicyStore ActiveStore) and returns its stdout. */
export function probe(host: Host): Promise<string> {
  return runPowerShellScript(host, new URL('./windows.ps1', import.meta.url), TIMEOUT_MS);
}

/**
 * The JSON windows.ps1 prints: its contract, checked before anything is read, and checked
 * against the script's own source by test/agent/core/checks/windows-script-contract.test.ts.
 */
export const ScriptOutputSchema = Type.Object(
  {
    profiles: Type.Array(
      Type.Object(
        {
          Name: Type.String(),
          Enabled: Type.Integer(),
          DefaultInboundAction: Type.Union([Type.Integer(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

const unrecognised = (detail: string): Parsed<FirewallFacts> => ({
  ok: false,
  code: 'unrecognised-output',
  detail,
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// MSFT_NetFirewallProfile.DefaultInboundAction: 0 NotConfigured, 2 Allow, 4 Block. When not
// configured the built-in default applies, which blocks unsolicited inbound traffic
// (Set-NetFirewallProfile docs, -DefaultInboundAction).
const INBOUND: Record<number, string> = { 0: 'NotConfigured', 2: 'Allow', 4: 'Block' };

/** Turns one profile row into a component, or a string saying why it is not understood. */
function component(row: unknown): FirewallComponent | string {
  if (!isRecord(row) || typeof row.Name !== 'string') {
    return 'a profile entry has no Name';
  }
  const { Name: name, Enabled: enabled, DefaultInboundAction: inbound } = row;
  if (typeof enabled !== 'number' || ![0, 1, 2].includes(enabled)) {
    return `profile ${name} has Enabled=${JSON.stringify(enabled)}, not 0, 1 or 2`;
  }
  const inboundName = typeof inbound === 'number' ? INBOUND[inbound] : undefined;
  if (inbound !== null && inboundName === undefined) {
    return `profile ${name} has DefaultInboundAction=${JSON.stringify(inbound)}`;
  }
  const detail = `Enabled=${enabled}, DefaultInboundAction=${inboundName ?? 'not reported'}`;
  if (enabled === 2) {
    // The active store should always resolve GpoBoolean; NotConfigured here is not a fact we trust.
    return { name, state: 'unknown', detail, reason: 'not-measured' };
  }
  // Enabled but allowing all unsolicited inbound traffic protects nothing: count it as off.
  const on = enabled === 1 && inboundName !== 'Allow';
  return { name, state: on ? 'on' : 'off', detail, reason: null };
}

/** Parses windows.ps1's JSON into one component per profile; all three must be present. */
export function parse(raw: string): Parsed<FirewallFacts> {
  const json = parseJsonOutput(raw);
  if (!isRecord(json) || !('profiles' in json) || !('error' in json)) {
    return unrecognised(`not the firewall probe's JSON: ${raw.trim().slice(0, 200)}`);
  }
  const checked = validate(ScriptOutputSchema, json);
  if (!checked.ok) {
    return unrecognised(
      `windows.ps1 printed an unexpected shape: ${describeProblems(checked.problems)}`,
    );
  }
  if (typeof json.error === 'string' && json.error !== '') {
    return { ok: false, code: 'probe-failed', detail: `Get-NetFirewallProfile: ${json.error}` };
  }
  if (json.error !== null || !Array.isArray(json.profiles)) {
    return unrecognised('the probe JSON has an unexpected shape');
  }
  const components: FirewallComponent[] = [];
  for (const row of json.profiles as unknown[]) {
    const parsed = component(row);
    if (typeof parsed === 'string') {
      return unrecognised(parsed);
    }
    components.push(parsed);
  }
  const names = components.map((c) => c.name).sort();
  if (names.join(',') !== [...PROFILES].sort().join(',')) {
    return unrecognised(`expected profiles Domain, Private and Public, got: ${names.join(', ')}`);
  }
  // Report in a fixed order so evidence reads the same on every device.
  const order = (name: string) => (PROFILES as readonly string[]).indexOf(name);
  components.sort((a, b) => order(a.name) - order(b.name));
  return { ok: true, facts: { rule: 'all', components } };
}

/** The Windows half of the firewall check. */
export const windows = platformCheck({ probe, parse });
