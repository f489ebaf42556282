// A policy as people read it on the dashboard: YAML in a canonical form (keys in the schema's
// order, one line per value), where in a typed YAML text each problem is, and a line diff of two
// such texts. The server renders and diffs; the page only shows what it is sent.
import { diffArrays, type ArrayChange } from 'diff';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parse as parseYaml,
  parseDocument,
  stringify,
  type ParseOptions,
  type DocumentOptions,
  type SchemaOptions,
  type ToJSOptions,
  type YAMLError,
} from 'yaml';
import { PolicySchema, type SchemaProblem } from '../shared/index.ts';

// A YAML document can expand far beyond its size through aliases ("billion laughs"): bound them.
const MAX_YAML_ALIASES = 100;

/** How every policy YAML is read: one plain YAML 1.2 document, core schema, unique keys. */
const READ_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions & ToJSOptions = {
  maxAliasCount: MAX_YAML_ALIASES,
  uniqueKeys: true,
  // YAML 1.2 core schema: no custom tags, no `<<` merge keys.
  version: '1.2',
  schema: 'core',
  // Warnings (an unknown tag, say) are the uploader's problem, not lines in the server's log.
  logLevel: 'error',
};

/** A YAML text read into a value, or why it could not be: the parser's first line, and where. */
export function readPolicyYaml(
  text: string,
): { ok: true; value: unknown } | { ok: false; detail: string; line: number | null } {
  try {
    return { ok: true, value: parseYaml(text, READ_OPTIONS) };
  } catch (error) {
    const detail = error instanceof Error ? (error.message.split('\n')[0] ?? '') : '';
    return { ok: false, detail, line: (error as YAMLError).linePos?.[0].line ?? null };
  }
}

/** The parts of a JSON schema that say in which order an object's keys are written. */
interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
}

// A TypeBox schema is a JSON schema: read it as one.
const POLICY_SCHEMA = PolicySchema as unknown as SchemaNode;

/** The object schema a value of `schema` would follow (a union's object member), if any. */
function objectSchema(schema: SchemaNode | undefined): SchemaNode | undefined {
  if (schema === undefined) {
    return undefined;
  }
  if (schema.properties !== undefined || schema.patternProperties !== undefined) {
    return schema;
  }
  return schema.anyOf?.map(objectSchema).find((member) => member !== undefined);
}

function itemSchema(schema: SchemaNode | undefined): SchemaNode | undefined {
  return schema?.items ?? schema?.anyOf?.map(itemSchema).find((member) => member !== undefined);
}

/**
 * The value with every object's keys in the order the schema lists them (then keys the schema
 * does not know, sorted), recursively: the same document always reads the same, whatever order it
 * was typed or stored in (jsonb keeps keys in an order of its own).
 */
export function canonicalOrder(
  value: unknown,
  schema: SchemaNode | undefined = POLICY_SCHEMA,
): unknown {
  if (Array.isArray(value)) {
    const items = itemSchema(schema);
    return value.map((item: unknown) => canonicalOrder(item, items));
  }
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  const shape = objectSchema(schema);
  const known = Object.keys(shape?.properties ?? {});
  const own = Object.keys(value);
  const keys = [
    ...known.filter((key) => Object.hasOwn(value, key)),
    ...own.filter((key) => !known.includes(key)).sort(),
  ];
  const patterned = Object.values(shape?.patternProperties ?? {})[0];
  const ordered: Record<string, unknown> = {};
  for (const key of keys) {
    // defineProperty, not assignment: a key named `__proto__` stays a key.
    Object.defineProperty(ordered, key, {
      value: canonicalOrder(
        (value as Record<string, unknown>)[key],
        shape?.properties?.[key] ?? patterned,
      ),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return ordered;
}

/** A policy (or any parsed document) as canonical YAML: schema order, one line per value. */
export function policyYaml(value: unknown): string {
  return stringify(canonicalOrder(value), {
    version: '1.2',
    // Never fold a long string over lines: a diff then shows whole values.
    lineWidth: 0,
    aliasDuplicateObjects: false,
  });
}

/** True when two documents are the same policy apart from their version numbers. */
export function samePolicy(a: object, b: object): boolean {
  const comparable = (value: object) => JSON.stringify(canonicalOrder({ ...value, version: 0 }));
  return comparable(a) === comparable(b);
}

/** A problem with the line of the typed YAML it is about (null when it cannot be placed). */
export type PlacedProblem = SchemaProblem & { line: number | null };

/** Unescapes a JSON pointer's segments: `/a~1b/c` → ['a/b', 'c']. */
function pointerSegments(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .filter((segment, index, all) => !(segment === '' && index === all.length - 1))
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * Each problem with the line where the YAML text says what it is about: the key itself for an
 * unknown or wrong key, the nearest enclosing key for a missing one.
 */
export function placeProblems(text: string, problems: readonly SchemaProblem[]): PlacedProblem[] {
  const lineCounter = new LineCounter();
  let document;
  try {
    document = parseDocument(text, { ...READ_OPTIONS, lineCounter });
  } catch {
    return problems.map((problem) => ({ ...problem, line: null }));
  }
  const lineOf = (offset: number | undefined): number | null =>
    offset === undefined ? null : lineCounter.linePos(offset).line;
  return problems.map((problem) => {
    let node: unknown = document.contents;
    let line = lineOf((node as { range?: [number] } | null)?.range?.[0]);
    for (const segment of pointerSegments(problem.path)) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === segment,
        );
        if (pair === undefined) {
          break;
        }
        line = lineOf((pair.key as { range?: [number] }).range?.[0]) ?? line;
        node = pair.value;
      } else if (isSeq(node)) {
        const item: unknown = node.items[Number(segment)];
        if (item === undefined) {
          break;
        }
        line = lineOf((item as { range?: [number] }).range?.[0]) ?? line;
        node = item;
      } else {
        break;
      }
    }
    return { ...problem, line };
  });
}

/** One line of a diff: kept, added or removed, with its number on each side it is on. */
export interface DiffLine {
  change: 'same' | 'added' | 'removed';
  text: string;
  oldLine: number | null;
  newLine: number | null;
}

/** A line diff: `minimal` is false when the texts were too different to pair lines up. */
export interface LineDiff {
  lines: DiffLine[];
  added: number;
  removed: number;
  minimal: boolean;
}

/** Beyond this many changed lines (or this long), the diff is every old line out, every new in. */
const MAX_EDIT_LENGTH = 2000;
const DIFF_TIMEOUT_MS = 500;

const linesOf = (text: string): string[] => {
  const lines = text.split('\n');
  if (lines.at(-1) === '') {
    lines.pop();
  }
  return lines;
};

/**
 * The line diff of two texts: jsdiff's Myers diff in its asynchronous mode, one edit step per
 * timer tick (about a millisecond each), so it never holds up other requests. Texts that need
 * more than 2,000 steps, or half a second (a few hundred changed lines), come back as every old
 * line removed and every new one added: still true, only not the shortest.
 */
export async function lineDiff(before: string, after: string): Promise<LineDiff> {
  const oldLines = linesOf(before);
  const newLines = linesOf(after);
  const changes = await new Promise<ArrayChange<string>[] | undefined>((resolve) => {
    diffArrays(oldLines, newLines, {
      maxEditLength: MAX_EDIT_LENGTH,
      timeout: DIFF_TIMEOUT_MS,
      callback: resolve,
    });
  });
  const blocks = changes ?? [
    { value: oldLines, added: false, removed: true, count: oldLines.length },
    { value: newLines, added: true, removed: false, count: newLines.length },
  ];
  const lines: DiffLine[] = [];
  let oldLine = 1;
  let newLine = 1;
  let added = 0;
  let removed = 0;
  for (const block of blocks) {
    for (const text of block.value) {
      if (block.added) {
        lines.push({ change: 'added', text, oldLine: null, newLine: newLine++ });
        added++;
      } else if (block.removed) {
        lines.push({ change: 'removed', text, oldLine: oldLine++, newLine: null });
        removed++;
      } else {
        lines.push({ change: 'same', text, oldLine: oldLine++, newLine: newLine++ });
      }
    }
  }
  return { lines, added, removed, minimal: changes !== undefined };
}
