import type { Policy } from '../../../../shared/index.ts';
import type { EvaluationContext, Verdict } from '../define-check.ts';
import type { AntivirusFacts, AntivirusProduct } from './facts.ts';
import { ISO_WITH_OFFSET } from './facts.ts';

const DAY_MS = 86_400_000;

type Freshness = { kind: 'fresh' } | { kind: 'stale'; days: number | null } | { kind: 'unknown' };

/** The older of the two ages a product may report: its own day count and its update time. */
export function signatureAgeDays(item: AntivirusProduct, now: Date): number | null {
  const ages: number[] = [];
  if (item.signatureAgeDays !== null) {
    ages.push(item.signatureAgeDays);
  }
  if (item.signaturesUpdatedAt !== null && ISO_WITH_OFFSET.test(item.signaturesUpdatedAt)) {
    const updated = Date.parse(item.signaturesUpdatedAt);
    if (!Number.isNaN(updated)) {
      // A date in the future (clock skew) counts as age 0, not as a negative age.
      ages.push(Math.max(0, Math.floor((now.getTime() - updated) / DAY_MS)));
    }
  }
  return ages.length === 0 ? null : Math.max(...ages);
}

function freshness(item: AntivirusProduct, maxDays: number, now: Date): Freshness {
  const age = signatureAgeDays(item, now);
  if (item.signaturesOutOfDate === true) {
    return { kind: 'stale', days: age };
  }
  if (age !== null) {
    return age > maxDays ? { kind: 'stale', days: age } : { kind: 'fresh' };
  }
  // Security Center gives third-party products no date, only the vendor's own up-to-date flag;
  // trusting it is the best Windows offers (PLATFORMS.md §2).
  if (item.signaturesOutOfDate === false) {
    return { kind: 'fresh' };
  }
  // XProtect has no signature date at all: Apple pushes it silently. Its freshness is the
  // os-updates check's business (automatic security data updates on), not this one's.
  if (item.source === 'xprotect') {
    return { kind: 'fresh' };
  }
  return { kind: 'unknown' };
}

const STATE_WORDS: Record<AntivirusProduct['state'], string> = {
  on: 'on',
  off: 'turned off',
  snoozed: 'snoozed',
  expired: 'expired',
  passive: 'in passive mode',
  unknown: 'in an unknown state',
};

function names(items: readonly AntivirusProduct[]): string {
  return items.map((item) => `${item.name} (${STATE_WORDS[item.state]})`).join(', ');
}

/** The verdict as if the policy required anti-virus; `evaluate` softens it when it does not. */
function strictVerdict(
  facts: AntivirusFacts,
  maxDays: number,
  context: EvaluationContext,
): Verdict {
  if (context.os === 'darwin') {
    if (facts.gatekeeper === 'disabled') {
      return {
        status: 'fail',
        summary: 'Gatekeeper, which checks apps before they open, is turned off on this Mac.',
        remediation:
          'Run `sudo spctl --global-enable` (or `--master-enable`) or enforce it with an MDM profile.',
      };
    }
    if (facts.gatekeeper === null) {
      return {
        status: 'unknown',
        summary: 'Could not tell whether Gatekeeper is on.',
        reason: { code: 'unrecognised-output', detail: 'Gatekeeper state was not reported' },
      };
    }
  }
  const active = facts.products.filter((item) => item.state === 'on');
  const rated = active.map((item) => ({ item, fresh: freshness(item, maxDays, context.now) }));
  const good = rated.find((entry) => entry.fresh.kind === 'fresh');
  if (good) {
    return {
      status: 'pass',
      summary: `Anti-virus (${good.item.name}) is on and up to date.`,
    };
  }
  const stale = rated.find((entry) => entry.fresh.kind === 'stale');
  if (stale && stale.fresh.kind === 'stale') {
    const age = stale.fresh.days === null ? '' : ` (${stale.fresh.days} days old)`;
    return {
      status: 'fail',
      summary: `${stale.item.name} is on, but its virus definitions are out of date${age}.`,
      remediation: `Update the definitions of ${stale.item.name} and check why automatic updates stopped; the policy allows ${maxDays} days.`,
    };
  }
  const undated = rated[0];
  if (undated) {
    return {
      status: 'unknown',
      summary: `${undated.item.name} is on, but the age of its virus definitions could not be read.`,
      reason: { code: 'not-measured', detail: `no signature date for ${undated.item.name}` },
    };
  }
  const unreadable = facts.products.filter((item) => item.state === 'unknown');
  if (facts.errors.length > 0 || unreadable.length > 0) {
    const detail = [...facts.errors, ...unreadable.map((item) => `${item.name}: state unknown`)];
    return {
      status: 'unknown',
      summary: 'Could not tell whether anti-virus is protecting this device.',
      reason: { code: 'probe-failed', detail: detail.join('; ') },
    };
  }
  if (facts.products.length > 0) {
    return {
      status: 'fail',
      summary: 'Anti-virus is installed but not protecting this device.',
      remediation:
        context.os === 'linux'
          ? 'Start ClamAV’s daemon and its on-access scanner: systemctl enable --now clamav-daemon clamav-clamonacc (on-access scanning needs OnAccessIncludePath in clamd.conf). Without it, files are not scanned as they are opened.'
          : `Turn real-time protection back on: ${names(facts.products)}.`,
    };
  }
  return {
    status: 'fail',
    summary: 'No anti-virus found on this device.',
    remediation:
      context.os === 'linux'
        ? 'Install ClamAV (clamav-daemon and clamav-freshclam) and start clamav-daemon, clamav-freshclam and clamav-clamonacc, its on-access scanner.'
        : 'Install or re-enable the trust’s anti-virus product.',
  };
}

/** Facts + policy → verdict. Pure: every threshold is a one-line test. */
export function evaluate(
  facts: AntivirusFacts,
  policy: Policy,
  context: EvaluationContext,
): Verdict {
  const rules = policy.checks.antivirus;
  const verdict = strictVerdict(facts, rules.maxSignatureAgeDays, context);
  if (verdict.status === 'fail' && !rules.required) {
    // Not required by this group's policy: still worth telling ICT, never worth failing.
    return { ...verdict, status: 'warn' };
  }
  return verdict;
}
