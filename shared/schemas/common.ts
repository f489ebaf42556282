import { Type } from 'typebox';

/** Version of every Hallpass document format; bump on an incompatible change. */
export const SCHEMA_VERSION = 1;

/** The `schemaVersion` field every document carries. */
export const SchemaVersionSchema = Type.Literal(SCHEMA_VERSION, {
  description: 'Version of the document format.',
});

/** An RFC 3339 date-time with offset, as `Date.prototype.toISOString` writes it. */
export const IsoDateTimeSchema = Type.String({
  format: 'date-time',
  maxLength: 40,
  // Years 1900–2199 only: every database and clock in the system can hold them.
  pattern: '^(19|20|21)[0-9]{2}-',
});

/** A UUID (any version) as written by `crypto.randomUUID`. */
export const UuidSchema = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
});

/** Operating systems Hallpass knows, by Node's naming less `win32`. */
export const OsNameSchema = Type.Union([
  Type.Literal('windows'),
  Type.Literal('darwin'),
  Type.Literal('linux'),
]);

/** Short bounded text shown to people (names, summaries). */
export const Text = (maxLength = 500, options: { description?: string } = {}) =>
  Type.String({ maxLength, ...options });
