// The policy as the dashboard shows it: canonical YAML that reads back as the same document, in
// the schema's key order whatever order it came in; each problem placed on its line of the YAML
// typed; and a line diff that is always true, and bounded when the texts are far apart.
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalOrder,
  lineDiff,
  placeProblems,
  policyYaml,
  readPolicyYaml,
  samePolicy,
} from '../../server/policy-text.ts';
import { validatePolicy } from '../../shared/index.ts';

const exampleYaml = await readFile(
  new URL('../../agent/core/policy/example-policy.yaml', import.meta.url),
  'utf8',
);
const example = (() => {
  const read = readPolicyYaml(exampleYaml);
  if (!read.ok) {
    throw new Error(read.detail);
  }
  return read.value as Record<string, unknown>;
})();

/** Rebuilds an object with its keys in reverse order, all the way down (as jsonb might). */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(reversed);
  }
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, inner]) => [key, reversed(inner)]),
  );
}

describe('canonical policy YAML', () => {
  it('reads back as the same document, in the schema order whatever the order it came in', () => {
    const yaml = policyYaml(example);
    const read = readPolicyYaml(yaml);
    expect(read).toEqual({ ok: true, value: example });
    expect(policyYaml(reversed(example))).toBe(yaml);
    expect(yaml.split('\n').slice(0, 4)).toEqual([
      'schemaVersion: 1',
      'name: Pupil laptops',
      'version: 1',
      'checks:',
    ]);
    // Strings that look like numbers stay strings; long strings stay on one line.
    expect(yaml).toContain('vendorId: "0781"');
    expect(yaml).toContain('darwin: "14.6"');
    for (const line of yaml.split('\n')) {
      expect(line.startsWith(' ') && line.trim() === '').toBe(false);
    }
  });

  it('round-trips any JSON value, markup and odd keys included', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const read = readPolicyYaml(policyYaml(value));
        expect(read.ok).toBe(true);
        // The same value with its keys in canonical order (and -0 as 0, as JSON writes it).
        expect(read.ok ? JSON.stringify(read.value) : '').toBe(
          JSON.stringify(canonicalOrder(value)),
        );
      }),
      { numRuns: 300 },
    );
    const hostile = {
      name: '<img src=x onerror=alert(1)>',
      ['__proto__']: { polluted: true },
      'key: with colon': '# not a comment',
      multi: 'line one\nline two',
    };
    expect(readPolicyYaml(policyYaml(hostile))).toEqual({ ok: true, value: hostile });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keys the schema does not know come after the known ones, sorted', () => {
    const ordered = canonicalOrder({ zebra: 1, name: 'x', apple: 2, schemaVersion: 1 });
    expect(Object.keys(ordered as object)).toEqual(['schemaVersion', 'name', 'apple', 'zebra']);
  });

  it('samePolicy ignores the version number and key order, nothing else', () => {
    expect(samePolicy(example, { ...(reversed(example) as object), version: 9 })).toBe(true);
    expect(samePolicy(example, { ...example, name: 'Other' })).toBe(false);
  });
});

describe('placing problems on their lines', () => {
  it('puts an unknown key on its own line, a missing one on its parent, an array item on its item', () => {
    const text = exampleYaml
      .replace('  screenLock:\n', '  screenLok:\n')
      .replace("vendorId: '0781'", "vendorId: 'xyz'");
    const read = readPolicyYaml(text);
    const checked = validatePolicy(read.ok ? read.value : null);
    expect(checked.ok).toBe(false);
    const placed = placeProblems(text, checked.ok ? [] : checked.problems);
    const lineOf = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(placed).toContainEqual({
      path: '/checks/screenLok',
      message: 'unknown key',
      line: lineOf('screenLok:'),
    });
    expect(placed).toContainEqual(
      expect.objectContaining({ path: '/checks', line: lineOf('checks:') }),
    );
    expect(placed).toContainEqual(
      expect.objectContaining({ path: '/usb/allow/0/vendorId', line: lineOf("vendorId: 'xyz'") }),
    );
  });

  it('a path the text does not hold stops at the deepest key it does', () => {
    expect(placeProblems('a:\n  b: 1\n', [{ path: '/a/c/d', message: 'x' }])).toEqual([
      { path: '/a/c/d', message: 'x', line: 1 },
    ]);
    expect(placeProblems('- 1\n- 2\n', [{ path: '/1', message: 'x' }])).toEqual([
      { path: '/1', message: 'x', line: 2 },
    ]);
  });
});

describe('line diff', () => {
  it('numbers each line on its side and counts what changed', async () => {
    const diff = await lineDiff('a\nb\nc\n', 'a\nB\nc\nd\n');
    expect(diff).toEqual({
      added: 2,
      removed: 1,
      minimal: true,
      lines: [
        { change: 'same', text: 'a', oldLine: 1, newLine: 1 },
        { change: 'removed', text: 'b', oldLine: 2, newLine: null },
        { change: 'added', text: 'B', oldLine: null, newLine: 2 },
        { change: 'same', text: 'c', oldLine: 3, newLine: 3 },
        { change: 'added', text: 'd', oldLine: null, newLine: 4 },
      ],
    });
    expect(await lineDiff('', 'x\n')).toMatchObject({ added: 1, removed: 0 });
  });

  it('rebuilds both texts from any diff (property)', async () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', '  d: 1', ''), { maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(lines, lines, async (before, after) => {
        const a = before.map((l) => `${l}\n`).join('');
        const b = after.map((l) => `${l}\n`).join('');
        const diff = await lineDiff(a, b);
        expect(diff.lines.filter((l) => l.change !== 'added').map((l) => l.text)).toEqual(before);
        expect(diff.lines.filter((l) => l.change !== 'removed').map((l) => l.text)).toEqual(after);
      }),
      { numRuns: 200 },
    );
  });

  it('texts too far apart to pair up come back as every line out, every line in', async () => {
    const many = (prefix: string) =>
      Array.from({ length: 6000 }, (_, i) => `${prefix}${String(i)}`).join('\n') + '\n';
    const diff = await lineDiff(many('old-'), many('new-'));
    expect(diff).toMatchObject({ minimal: false, added: 6000, removed: 6000 });
    expect(diff.lines).toHaveLength(12_000);
  });
});
