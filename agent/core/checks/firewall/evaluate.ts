import type { Policy } from '../../../../shared/index.ts';
import type { OsName } from '../../platform.ts';
import { assertNever, type EvaluationContext, type Verdict } from '../define-check.ts';
import { combinedState, type FirewallFacts } from './facts.ts';

/** What ICT staff do to turn the firewall on, per OS. */
const REMEDIATION: Record<OsName, string> = {
  windows:
    'Turn on Windows Defender Firewall for the Domain, Private and Public profiles ' +
    '(Set-NetFirewallProfile -Profile Domain,Private,Public -Enabled True) and check that no ' +
    'Group Policy or MDM profile turns it off.',
  darwin:
    'Turn on the Application Firewall (System Settings > Network > Firewall, or a ' +
    'com.apple.security.firewall profile with EnableFirewall set to true).',
  linux:
    'Enable a host firewall that drops unsolicited incoming traffic (for example ufw enable, ' +
    'or an nftables input chain with policy drop) and make it start at boot.',
};

/** Names of the components that are off, for the summary ("Public"). */
function offNames(facts: FirewallFacts): string[] {
  return facts.components.filter((c) => c.state === 'off').map((c) => c.name);
}

/**
 * Firewall verdict. Required: on → pass, off → fail, unknown → unknown (never pass).
 * Not required: always pass, with a summary that says what was seen.
 */
export function evaluate(
  facts: FirewallFacts,
  policy: Policy,
  context: EvaluationContext,
): Verdict {
  const state = combinedState(facts);
  const required = policy.checks.firewall.required;
  const remediation = REMEDIATION[context.os];
  if (!required) {
    const seen =
      state === 'on' ? 'it is on' : state === 'off' ? 'it is off' : 'its state could not be read';
    return {
      status: 'pass',
      summary: `A firewall is not required on this computer (${seen}).`,
    };
  }
  switch (state) {
    case 'on':
      return { status: 'pass', summary: "This computer's firewall is switched on." };
    case 'off': {
      // Windows: name the profiles, because "off for Public" is what staff need to find.
      const names = facts.rule === 'all' ? offNames(facts) : [];
      const which = names.length > 0 ? ` for the ${names.join(', ')} network profile` : '';
      return {
        status: 'fail',
        summary: `This computer's firewall is switched off${which}.`,
        remediation,
      };
    }
    case 'unknown': {
      const unknown = facts.components.find((c) => c.state === 'unknown');
      const detail = unknown
        ? `${unknown.name}: ${unknown.detail}`
        : 'the probe reported no firewall components';
      return {
        status: 'unknown',
        summary: `Could not tell whether the firewall is switched on: ${detail}`,
        remediation,
        reason: { code: unknown?.reason ?? 'not-measured', detail },
      };
    }
    default:
      return assertNever(state);
  }
}
