// Each Windows probe is a windows.ps1 that prints JSON and a parser that first checks it against
// ScriptOutputSchema. Nothing here can run PowerShell, and the fixtures are JSON transcribed by
// hand, so this compares the two ends directly: the keys and value kinds the script's own syntax
// tree says it prints (powershell-shape.ts) against the schema the parser enforces.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ScriptOutputSchema as diskEncryption } from '../../../../agent/core/checks/disk-encryption/windows.ts';
import { ScriptOutputSchema as firewall } from '../../../../agent/core/checks/firewall/windows.ts';
import { ScriptOutputSchema as osUpdates } from '../../../../agent/core/checks/os-updates/windows.ts';
import { ScriptOutputSchema as screenLock } from '../../../../agent/core/checks/screen-lock/windows.ts';
import { ScriptOutputSchema as consoleUser } from '../../../../agent/core/console-user/windows.ts';
import { ScriptOutputSchema as usbStorage } from '../../../../agent/core/usb/windows.ts';
import { printedShape, type Kind } from './powershell-shape.ts';

/** The JSON Schema keywords TypeBox emits that this comparison reads. */
interface JsonSchema {
  type?: string;
  anyOf?: JsonSchema[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
}

const describeKind = (kind: Kind): string =>
  kind.kind === 'object' ? `an object {${[...kind.keys.keys()].join(', ')}}` : kind.kind;

/** Why `schema` would refuse a value of `kind`; empty when it accepts every such value. */
function refusals(schema: JsonSchema, kind: Kind, path: string): string[] {
  if (kind.kind === 'any') {
    return []; // a cmdlet's or COM object's value: its kind is not in the script's text
  }
  if (schema.anyOf !== undefined) {
    const tries = schema.anyOf.map((alternative) => refusals(alternative, kind, path));
    return tries.some((t) => t.length === 0)
      ? []
      : (tries.sort((a, b) => a.length - b.length)[0] ?? []);
  }
  const type = schema.type ?? (typeof schema.const === 'number' ? 'number' : undefined);
  switch (kind.kind) {
    case 'null':
    case 'string':
    case 'boolean':
      return type === kind.kind
        ? []
        : [`${path}: the script can print ${kind.kind}, the schema wants ${type ?? '?'}`];
    case 'number':
      return type === 'number' || type === 'integer'
        ? []
        : [`${path}: the script can print a number, the schema wants ${type ?? '?'}`];
    case 'array':
      if (type !== 'array' || schema.items === undefined) {
        return [`${path}: the script can print an array, the schema wants ${type ?? '?'}`];
      }
      return kind.items.flatMap((item) => refusals(schema.items ?? {}, item, `${path}[]`));
    case 'object': {
      if (type !== 'object') {
        return [
          `${path}: the script can print ${describeKind(kind)}, the schema wants ${type ?? '?'}`,
        ];
      }
      const known = schema.properties ?? {};
      const problems: string[] = [];
      for (const [key, kinds] of kind.keys) {
        const property = known[key];
        if (property === undefined) {
          problems.push(`${path}.${key}: printed by the script, unknown to the parser's schema`);
        } else {
          problems.push(...kinds.flatMap((k) => refusals(property, k, `${path}.${key}`)));
        }
      }
      for (const key of schema.required ?? []) {
        if (!kind.keys.has(key)) {
          problems.push(
            `${path}.${key}: required by the parser's schema, never printed by the script`,
          );
        }
      }
      return problems;
    }
  }
}

const mismatches = (schema: unknown, kinds: Kind[]): string[] =>
  kinds.flatMap((kind) => refusals(schema as JsonSchema, kind, '$'));

const checks = [
  ['disk-encryption', diskEncryption],
  ['firewall', firewall],
  ['os-updates', osUpdates],
  ['screen-lock', screenLock],
  ['usb-storage', usbStorage],
  ['console-user', consoleUser],
] as const;

/** Scripts that are not a check's windows.ps1. */
const SCRIPT_PATHS: Record<string, string> = {
  'usb-storage': '../../../../agent/core/usb/windows-usb.ps1',
  'console-user': '../../../../agent/core/console-user/windows.ps1',
};

const scriptOf = (check: string) =>
  readFile(
    new URL(
      SCRIPT_PATHS[check] ?? `../../../../agent/core/checks/${check}/windows.ps1`,
      import.meta.url,
    ),
    'utf8',
  );

describe('windows.ps1 prints what its parser reads', () => {
  it.each(checks)('%s', async (check, schema) => {
    const shape = await printedShape(await scriptOf(check));
    expect(shape.some((kind) => kind.kind === 'object')).toBe(true);
    expect(mismatches(schema, shape)).toEqual([]);
  });

  // The test can fail: renaming any one top-level property where the script sets it (in a hash
  // literal `name = …` or as `$result.name = …`) must be caught.
  it.each(checks)('%s: every renamed top-level property is caught', async (check, schema) => {
    const source = await scriptOf(check);
    const [root] = await printedShape(source);
    if (root?.kind !== 'object') {
      throw new Error(`${check}: the printed value is not an object`);
    }
    expect(root.keys.size).toBeGreaterThan(1);
    for (const key of root.keys.keys()) {
      const renamed = source.replace(
        new RegExp(`(^|[\\s{;.])${key}(\\s*=)`, 'gm'),
        `$1${key}Renamed$2`,
      );
      expect(renamed, `${check}: ${key} was not found to rename`).not.toBe(source);
      const problems = mismatches(schema, await printedShape(renamed));
      expect(problems.join('\n'), `${check}: renaming ${key}`).toContain(`${key}Renamed`);
    }
  });

  it('a changed kind is caught too (an [int] cast that became [string])', async () => {
    const source = (await scriptOf('disk-encryption')).replace(
      '$result.volumeStatus = [int]$volume.VolumeStatus',
      '$result.volumeStatus = [string]$volume.VolumeStatus',
    );
    expect(mismatches(diskEncryption, await printedShape(source))).toContain(
      '$.volumeStatus: the script can print string, the schema wants integer',
    );
  });
});
