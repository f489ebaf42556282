// The one check of every name an ICT admin types (schools, device groups, token labels, policy
// names; usernames are already limited to ASCII letters, digits and . _ @ -), from the API and
// the command line alike. Names are shown to other admins, in CSV exports and on pupils' trays, so
// they must read as what they are: no invisible text-direction controls that reorder what follows
// ("Trojan Source", CVE-2021-42574), no zero-width characters that make two names look the same,
// no control characters, and no lone UTF-16 surrogates, which PostgreSQL would silently store as
// U+FFFD.

// Unicode bidirectional formatting characters (UAX #9, section 2): embeddings and overrides
// U+202A–U+202E, isolates U+2066–U+2069, and the marks U+200E, U+200F, U+061C.
const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;
// Zero-width and invisible characters: U+200B–U+200D, U+2060–U+2064, U+FEFF, U+180E, U+00AD.
const INVISIBLE = /[\u200B-\u200D\u2060-\u2064\uFEFF\u180E\u00AD]/u;
// C0 and C1 controls and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/u;

const codePoint = (char: string): string =>
  'U+' + (char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');

/** Why `text` may not be a name, or null when it may. `what` names the field in the message. */
export function nameProblem(what: string, text: string): string | null {
  if (!text.isWellFormed()) {
    return `${what} holds a broken character (a lone UTF-16 surrogate)`;
  }
  const bidi = BIDI.exec(text);
  if (bidi !== null) {
    return `${what} holds an invisible text-direction control (${codePoint(bidi[0])}): type the name without it`;
  }
  const invisible = INVISIBLE.exec(text);
  if (invisible !== null) {
    return `${what} holds an invisible character (${codePoint(invisible[0])}): type the name without it`;
  }
  const control = CONTROL.exec(text);
  if (control !== null) {
    return `${what} holds a control character (${codePoint(control[0])})`;
  }
  return null;
}
