// The Group Policy template against the agent: every managed setting the agent reads from
// HKLM\SOFTWARE\Policies\Hallpass\Agent has a policy, under the value name the agent reads, with
// the limits the agent's config schema enforces; and the template sets nothing the agent ignores.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../../agent/core/config/agent-config.ts';
import { MANAGED_KEYS } from '../../../agent/core/config/managed/managed-settings.ts';

const execFileAsync = promisify(execFile);
const admxPath = new URL('../../../installers/windows/hallpass.admx', import.meta.url).pathname;
const admlPath = new URL('../../../installers/windows/en-US/hallpass.adml', import.meta.url)
  .pathname;
// The key the Windows reader queries (agent/core/config/managed/windows.ts).
const READER_KEY = 'SOFTWARE\\Policies\\Hallpass\\Agent';

interface Setting {
  policy: string;
  key: string;
  kind: string;
  valueName: string;
  attributes: Record<string, string>;
  body: string;
}

const attributesOf = (text: string): Record<string, string> =>
  Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));

/** Each value a policy writes: its element kind, value name and attributes. */
function settingsOf(admx: string): Setting[] {
  const policies = [...admx.matchAll(/<policy\s([^>]*)>([\s\S]*?)<\/policy>/g)];
  return policies.flatMap((policy) => {
    const attributes = attributesOf(policy[1] ?? '');
    const body = policy[2] ?? '';
    const elements = [
      ...body.matchAll(
        /<(text|decimal|enum|boolean|list|multiText)\s([^>]*?)\/?>([\s\S]*?<\/\1>)?/g,
      ),
    ];
    return elements.map((element) => {
      const own = attributesOf(element[2] ?? '');
      return {
        policy: attributes.name ?? '',
        key: own.key ?? attributes.key ?? '',
        kind: element[1] ?? '',
        valueName: own.valueName ?? '',
        attributes: own,
        body: element[3] ?? '',
      };
    });
  });
}

const schemaOf = (key: string): Record<string, unknown> =>
  (AgentConfigSchema.properties as unknown as Record<string, Record<string, unknown>>)[key] ?? {};

describe('hallpass.admx / hallpass.adml', async () => {
  const admx = await readFile(admxPath, 'utf8');
  const adml = await readFile(admlPath, 'utf8');
  const settings = settingsOf(admx);

  it('are well-formed XML', async () => {
    await expect(
      execFileAsync('xmllint', ['--noout', admxPath, admlPath], { timeout: 60_000 }),
    ).resolves.toBeDefined();
  });

  it('set exactly the managed settings the agent reads, under its key', () => {
    expect(settings.map((s) => s.valueName).sort()).toEqual([...MANAGED_KEYS].sort());
    for (const setting of settings) {
      expect(setting.key, setting.policy).toBe(READER_KEY);
    }
    // No policy-level value (the agent would ignore it).
    expect(admx).not.toMatch(/<policy\s[^>]*valueName=/);
    expect(admx).not.toMatch(/<(enabledValue|disabledValue|enabledList|disabledList)>/);
    expect(admx.match(/class="Machine"/g)?.length).toBe(settings.length);
  });

  it('give each setting the type and limits of the agent config schema', () => {
    for (const setting of settings) {
      const schema = schemaOf(setting.valueName);
      if (schema.type === 'integer') {
        // decimal elements write REG_DWORD, which Get-ItemProperty returns as a number.
        expect(setting.kind, setting.valueName).toBe('decimal');
        expect(Number(setting.attributes.minValue)).toBe(schema.minimum);
        expect(Number(setting.attributes.maxValue)).toBe(schema.maximum);
      } else if (setting.kind === 'enum') {
        const literals = ((schema.anyOf ?? []) as { const?: unknown }[]).map((s) => s.const);
        const values = [...setting.body.matchAll(/<string>([^<]*)<\/string>/g)].map((m) => m[1]);
        expect(values.sort()).toEqual([...literals].sort());
      } else {
        expect(setting.kind, setting.valueName).toBe('text');
        // The string branch of a string-or-null setting.
        const text = ((schema.anyOf ?? []) as { type?: string; maxLength?: number }[]).find(
          (s) => s.type === 'string',
        );
        expect(Number(setting.attributes.maxLength)).toBe(text?.maxLength);
      }
    }
  });

  it('name only strings and presentations the ADML defines', () => {
    const strings = new Set([...adml.matchAll(/<string id="([^"]+)"/g)].map((m) => m[1]));
    const presentations = new Set(
      [...adml.matchAll(/<presentation id="([^"]+)"/g)].map((m) => m[1]),
    );
    const usedStrings = [...admx.matchAll(/\$\(string\.([^)]+)\)/g)].map((m) => m[1]);
    const usedPresentations = [...admx.matchAll(/\$\(presentation\.([^)]+)\)/g)].map((m) => m[1]);
    expect(usedStrings.length).toBeGreaterThan(10);
    for (const id of usedStrings) {
      expect(strings.has(id), `string ${String(id)}`).toBe(true);
    }
    for (const id of usedPresentations) {
      expect(presentations.has(id), `presentation ${String(id)}`).toBe(true);
    }
    // Each presentation control refers to an element of the template.
    const ids = new Set(
      [...admx.matchAll(/<(?:text|decimal|enum)\s+id="([^"]+)"/g)].map((m) => m[1]),
    );
    for (const ref of adml.matchAll(/refId="([^"]+)"/g)) {
      expect(ids.has(ref[1]), `refId ${String(ref[1])}`).toBe(true);
    }
  });

  it('warn that a token set by policy is readable by local users', () => {
    expect(adml).toMatch(/can be read by every local user/);
  });
});
