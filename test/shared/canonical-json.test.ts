// The text both sides hash to name a report: one text per value, whoever built the object.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../shared/canonical-json.ts';

describe('canonicalJson', () => {
  it.each([
    [
      'keys sorted at every depth',
      { b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } },
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    ],
    [
      'undefined properties left out, as JSON.stringify does',
      { a: undefined, b: 'x' },
      '{"b":"x"}',
    ],
    ['undefined in an array as null', [1, undefined], '[1,null]'],
    ['strings escaped as JSON', { 'k"': 'line\nbreak é' }, '{"k\\"":"line\\nbreak é"}'],
    ['numbers as JSON writes them', [1.5, 0, -2e-7, 1e21], '[1.5,0,-2e-7,1e+21]'],
  ])('%s', (_what, value, text) => {
    expect(canonicalJson(value)).toBe(text);
  });

  it('gives a parsed copy of an object the same text as the object', () => {
    const built = { z: [{ y: 0.1 + 0.2, x: 'a' }], remediation: undefined, w: true };
    expect(canonicalJson(JSON.parse(JSON.stringify(built)))).toBe(canonicalJson(built));
  });
});
