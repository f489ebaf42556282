import { describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import {
  CheckResultSchema,
  ComplianceReportSchema,
  describeProblems,
  parseJsonAs,
  validate,
} from '../../shared/index.ts';

describe('validate', () => {
  const Schema = Type.Object(
    {
      limits: Type.Object({ days: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    },
    { additionalProperties: false },
  );

  it('accepts a valid document and returns it unchanged', () => {
    const input = { limits: { days: 3 } };
    expect(validate(Schema, input)).toEqual({ ok: true, value: input });
  });

  it('names the nested key of a bad value', () => {
    const result = validate(Schema, { limits: { days: -1 } });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : describeProblems(result.problems)).toBe('/limits/days: must be >= 0');
  });

  it('names an unknown key itself rather than its parent', () => {
    const result = validate(Schema, { limits: { days: 1, dayz: 2 } });
    expect(result.ok ? [] : result.problems).toEqual([
      { path: '/limits/dayz', message: 'unknown key' },
    ]);
  });

  it('rejects a check result whose status is outside the closed union', () => {
    const result = validate(CheckResultSchema, {
      checkId: 'firewall',
      status: 'ok',
      summary: 'x',
      evidence: {},
      measuredAt: new Date(0).toISOString(),
      durationMs: 1,
    });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.map((p) => p.path)).toContain('/status');
  });

  it('requires a schema version on a report', () => {
    const result = validate(ComplianceReportSchema, {});
    expect(result.ok ? [] : result.problems.map((p) => p.path)).toContain('/');
    expect(result.ok ? '' : describeProblems(result.problems, 50)).toMatch(/schemaVersion/);
  });
});

describe('parseJsonAs', () => {
  const Schema = Type.Object({ on: Type.Array(Type.String()) }, { additionalProperties: false });

  it('gives the value of JSON text that fits the schema', () => {
    expect(parseJsonAs(Schema, '{"on":["ClamAV"]}')).toEqual({
      ok: true,
      value: { on: ['ClamAV'] },
    });
  });

  it('says in one line why text is not JSON, or not of the schema', () => {
    expect(parseJsonAs(Schema, '{"on":[')).toEqual({ ok: false, reason: 'not JSON' });
    expect(parseJsonAs(Schema, '')).toEqual({ ok: false, reason: 'not JSON' });
    expect(parseJsonAs(Schema, '{"on":[1],"extra":true}')).toEqual({
      ok: false,
      reason: describeProblems([
        { path: '/on/0', message: 'must be string' },
        { path: '/extra', message: 'unknown key' },
      ]),
    });
  });
});
