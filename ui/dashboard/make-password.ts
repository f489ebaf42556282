// A password made up in the browser for a new account or a reset, when the admin leaves the field
// empty. The API takes the password it is given (it never makes one up), so the page makes it,
// sends it once over the session's connection and shows it once; the server keeps only its hash.

/** 32 capitals and digits that are hard to confuse when copied by hand (no 0/O or 1/I). */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/**
 * Four groups of five characters, `xxxxx-xxxxx-xxxxx-xxxxx`: 100 bits from the browser's CSPRNG
 * (32 symbols, 5 bits each, taken without bias since 256 is a multiple of 32), 23 characters.
 */
export function makePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  const chars = [...bytes].map((byte) => ALPHABET.charAt(byte % 32));
  return [0, 5, 10, 15].map((start) => chars.slice(start, start + 5).join('')).join('-');
}
