import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';

/** One problem found in a document, at a JSON pointer such as `/checks/antivirus/maxSignatureAgeDays`. */
export interface SchemaProblem {
  path: string;
  message: string;
}

/** Outcome of validating untrusted input against a schema. */
export type Validated<T> = { ok: true; value: T } | { ok: false; problems: SchemaProblem[] };

/**
 * Checks `input` against `schema` without changing it. Problems name the offending key;
 * for an unexpected key the path is the key itself, not its parent.
 */
export function validate<S extends TSchema>(schema: S, input: unknown): Validated<Static<S>> {
  if (Value.Check(schema, input)) {
    return { ok: true, value: input };
  }
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(schema, input)) {
    const extra = (error.params as { additionalProperties?: unknown }).additionalProperties;
    const entries: SchemaProblem[] = Array.isArray(extra)
      ? extra.map((key) => ({
          path: `${error.instancePath}/${String(key)}`,
          message: 'unknown key',
        }))
      : [{ path: error.instancePath || '/', message: error.message }];
    for (const entry of entries) {
      const id = `${entry.path} ${entry.message}`;
      if (!seen.has(id) && !(error.keyword === 'boolean' && error.message === 'schema is false')) {
        seen.add(id);
        problems.push(entry);
      }
    }
  }
  return { ok: false, problems };
}

/** A one-line description of validation problems, most specific first. */
export function describeProblems(problems: readonly SchemaProblem[], max = 5): string {
  const sorted = [...problems].sort((a, b) => b.path.length - a.path.length);
  const shown = sorted.slice(0, max).map((p) => `${p.path}: ${p.message}`);
  const more = problems.length > max ? ` (and ${problems.length - max} more)` : '';
  return shown.join('; ') + more;
}

/**
 * `text` parsed as JSON and checked against `schema`: the value, or why not in one line (a state
 * file, a message: anything read from where someone else could have written it).
 */
export function parseJsonAs<S extends TSchema>(
  schema: S,
  text: string,
): { ok: true; value: Static<S> } | { ok: false; reason: string } {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const checked = validate(schema, input);
  return checked.ok ? checked : { ok: false, reason: describeProblems(checked.problems) };
}
