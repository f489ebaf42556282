import { describe, expect, it } from 'vitest';
import {
  defineCheck,
  platformCheck,
  type CheckDefinition,
} from '../../../../agent/core/checks/define-check.ts';
import { runCheck, runChecks } from '../../../../agent/core/checks/run-checks.ts';
import { readDefaultPolicy } from '../../../../agent/core/policy/policy-file.ts';
import { ProbeError } from '../../../../agent/core/runner.ts';
import { fakeHost } from '../../../helpers/fake-host.ts';

const policy = await readDefaultPolicy();
const host = fakeHost({ commands: { probe: { stdout: 'on', stderr: '', exitCode: 0 } } });

/** A check whose Linux probe runs `probe` and passes when it printed "on". */
function checkWith(collect: CheckDefinition['platforms']['linux'], timeoutMs = 1000) {
  return defineCheck({
    id: 'firewall',
    title: 'Test',
    timeoutMs,
    platforms: { linux: collect },
    evaluate: (facts) =>
      facts.on === true
        ? { status: 'pass', summary: 'on' }
        : { status: 'fail', summary: 'off', remediation: 'turn it on' },
  });
}

const echoProbe = platformCheck({
  probe: async (h) => (await h.run('probe', [], { timeoutMs: 100 })).stdout,
  parse: (raw: string) =>
    raw === 'on' || raw === 'off'
      ? { ok: true as const, facts: { on: raw === 'on' } }
      : { ok: false as const, code: 'unrecognised-output' as const, detail: `unexpected: ${raw}` },
});

describe('runCheck', () => {
  it('evaluates parsed facts and keeps them as evidence', async () => {
    const result = await runCheck(checkWith(echoProbe), { os: 'linux', host, policy });
    expect(result).toMatchObject({ checkId: 'firewall', status: 'pass', evidence: { on: true } });
    expect(result.measuredAt).toBe('2026-11-23T09:00:00.000Z');
  });

  it("hands remember() this check's previous result and evaluates what it returns", async () => {
    const seen: unknown[] = [];
    const check = {
      ...checkWith(echoProbe),
      remember: (facts: Record<string, unknown>, previous: unknown, now: Date) => {
        seen.push(previous, now.toISOString());
        return { ...facts, on: false, carried: true };
      },
    };
    const previous = { ...(await runCheck(checkWith(echoProbe), { os: 'linux', host, policy })) };
    const result = await runCheck(check, {
      os: 'linux',
      host,
      policy,
      previous: (id) => (id === 'firewall' ? previous : undefined),
    });
    expect(seen).toEqual([previous, '2026-11-23T09:00:00.000Z']);
    // The evaluator and the evidence both see the remembered facts.
    expect(result).toMatchObject({ status: 'fail', evidence: { on: false, carried: true } });
  });

  it('an OS without an implementation is unknown: unsupported-os', async () => {
    const result = await runCheck(checkWith(echoProbe), { os: 'darwin', host, policy });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'unsupported-os' } });
  });

  it('a missing command is unknown with its reason, not a pass', async () => {
    const result = await runCheck(checkWith(echoProbe), {
      os: 'linux',
      host: fakeHost({}),
      policy,
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });

  it('output the parser does not know is unknown: unrecognised-output', async () => {
    const odd = fakeHost({
      commands: { probe: { stdout: 'Zugriff verweigert', stderr: '', exitCode: 0 } },
    });
    const result = await runCheck(checkWith(echoProbe), { os: 'linux', host: odd, policy });
    expect(result.reason).toEqual({
      code: 'unrecognised-output',
      detail: 'unexpected: Zugriff verweigert',
    });
  });

  it('a probe that throws a bug is unknown for that check, and logged', async () => {
    const logged: string[] = [];
    const crashing = { collect: () => Promise.reject(new TypeError('cannot read x of undefined')) };
    const result = await runCheck(checkWith(crashing), {
      os: 'linux',
      host,
      policy,
      log: { warn: (_d, message) => logged.push(message) },
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'probe-failed' } });
    expect(logged).toEqual(['check crashed']);
  });

  it('a probe that never answers is unknown: timeout, after the check timeout', async () => {
    const hanging = { collect: () => new Promise<never>(() => undefined) };
    const result = await runCheck(checkWith(hanging, 50), { os: 'linux', host, policy });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'timeout' } });
  });

  it('a ProbeError keeps its code', async () => {
    const denied = {
      collect: () => Promise.reject(new ProbeError('permission-denied', 'needs root')),
    };
    const result = await runCheck(checkWith(denied), { os: 'linux', host, policy });
    expect(result.reason).toEqual({ code: 'permission-denied', detail: 'needs root' });
  });
});

describe('runChecks', () => {
  it('one hanging and one crashing probe do not hold up or break the others', async () => {
    const hanging = checkWith({ collect: () => new Promise<never>(() => undefined) }, 200);
    const crashing = checkWith({ collect: () => Promise.reject(new Error('boom')) });
    const results = await runChecks({
      checks: [hanging, crashing, checkWith(echoProbe)],
      os: 'linux',
      host,
      policy,
    });
    expect(results.map((r) => r.status)).toEqual(['unknown', 'unknown', 'pass']);
  });
});
