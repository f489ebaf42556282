import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { jsonSchemaFiles } from '../../scripts/json-schemas.ts';

const repo = new URL('../../', import.meta.url);
const read = (path: string) => readFile(new URL(path, repo), 'utf8');

describe('published JSON Schema files', () => {
  const files = jsonSchemaFiles();

  it.each(Object.keys(files))('%s is up to date (run `npm run schemas`)', async (name) => {
    expect(await read(`shared/json-schema/${name}`)).toBe(files[name]);
  });

  // An independent validator (Ajv, draft 2020-12) stands in for ICT's own tooling.
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const policySchema = JSON.parse(files['policy.schema.json'] ?? '') as object;
  const validatePolicy = ajv.compile(policySchema);

  it.each(['agent/core/policy/default-policy.yaml', 'agent/core/policy/example-policy.yaml'])(
    '%s validates against policy.schema.json outside Hallpass',
    async (path) => {
      const valid = validatePolicy(parseYaml(await read(path)));
      expect(validatePolicy.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
    },
  );

  it('an invalid policy is rejected by the published schema, naming the key', async () => {
    const policy = parseYaml(await read('agent/core/policy/example-policy.yaml')) as {
      usb: { mode: string };
    };
    policy.usb.mode = 'sometimes';
    expect(validatePolicy(policy)).toBe(false);
    expect(validatePolicy.errors?.map((e) => e.instancePath)).toContain('/usb/mode');
  });
});
