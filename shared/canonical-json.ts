// One text per JSON value, whoever wrote it: object keys sorted, no white space, undefined
// properties left out (as JSON.stringify does). The agent and the server hash this text to name a
// report (its digest, issue 18), so both must get the same text from the same report: the agent
// from the object it built, the server from the same report parsed out of a request body.

/** The canonical JSON text of a JSON value (sorted keys, no white space). */
export function canonicalJson(value: unknown): string {
  if (value === undefined) {
    return 'null';
  }
  if (value === null || typeof value !== 'object') {
    // Numbers, strings, booleans and null as JSON.stringify writes them; a number parsed from
    // JSON and written again comes out the same on both sides.
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item: unknown) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}
