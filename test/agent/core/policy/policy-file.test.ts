import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import {
  parsePolicyText,
  PolicyError,
  readDefaultPolicy,
  readPolicyFile,
} from '../../../../agent/core/policy/policy-file.ts';

const examplePath = new URL('../../../../agent/core/policy/example-policy.yaml', import.meta.url)
  .pathname;

describe('policy files', () => {
  it('the default policy validates', async () => {
    const policy = await readDefaultPolicy();
    expect(policy.schemaVersion).toBe(1);
    expect(policy.checks.screenLock.maxIdleMinutes).toBeGreaterThan(0);
  });

  it('the example policy validates and carries staff and pupil AUPs', async () => {
    const policy = await readPolicyFile(examplePath);
    expect(policy.aup.documents.map((d) => d.role).sort()).toEqual(['pupil', 'staff', 'staff']);
    expect(policy.usb.mode).toBe('block');
  });

  it('reads JSON as well as YAML', async () => {
    const yamlPolicy = await readPolicyFile(examplePath);
    expect(parsePolicyText(JSON.stringify(yamlPolicy), 'policy.json')).toEqual(yamlPolicy);
  });

  const bad: [string, (text: string) => string, RegExp][] = [
    [
      'a wrong type',
      (t) => t.replace('maxSignatureAgeDays: 3', 'maxSignatureAgeDays: three'),
      /\/checks\/antivirus\/maxSignatureAgeDays/,
    ],
    [
      'an unknown key',
      (t) =>
        t.replace(
          'firewall:\n    required: true',
          'firewall:\n    required: true\n    requried: false',
        ),
      /\/checks\/firewall\/requried: unknown key/,
    ],
    ['a bad USB mode', (t) => t.replace('mode: block', 'mode: maybe'), /\/usb\/mode/],
    ['a duplicate key', (t) => t.replace('name: ', 'name: x\nname: '), /not valid YAML/],
    ['not YAML at all', () => '{ "unclosed": [', /not valid YAML/],
    [
      'a YAML alias bomb',
      () =>
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n' +
        Array.from(
          { length: 12 },
          (_, i) =>
            `b${i}: &b${i} [${Array(9)
              .fill(i === 0 ? '*a' : `*b${i - 1}`)
              .join(',')}]`,
        ).join('\n'),
      /not valid YAML|invalid policy/,
    ],
    ['a scalar', () => '42', /invalid policy/],
  ];

  it.each(bad)('rejects %s with a message naming the problem', async (_name, mutate, message) => {
    const text = mutate(await readFile(examplePath, 'utf8'));
    expect(() => parsePolicyText(text, 'policy.yaml')).toThrow(PolicyError);
    expect(() => parsePolicyText(text, 'policy.yaml')).toThrow(message);
  });

  it('a missing file is a PolicyError naming the path', async () => {
    await expect(readPolicyFile('/nonexistent/policy.yaml')).rejects.toThrow(
      '/nonexistent/policy.yaml: cannot read policy file (ENOENT)',
    );
  });
});
