import { describe, expect, it } from 'vitest';
import { nameProblem } from '../../server/names.ts';

describe('nameProblem', () => {
  it.each([
    'Northgate Primary',
    "St Mary's C of E (Aided)",
    'École Saint-Exupéry',
    'Ysgol Gymraeg Aberystwyth',
    'مدرسة النور', // right-to-left text is fine: only the invisible controls are refused
    '北京第一中学',
    'Pupil laptops 😀', // a surrogate pair, well formed
    '',
  ])('accepts %j', (name) => {
    expect(nameProblem('the name', name)).toBeNull();
  });

  // Each character the issue names, one by one, at the start, inside and at the end of a name.
  const refused: [string, string][] = [
    ...['\u202A', '\u202B', '\u202C', '\u202D', '\u202E'].map((c): [string, string] => [
      c,
      'text-direction',
    ]),
    ...['\u2066', '\u2067', '\u2068', '\u2069'].map((c): [string, string] => [c, 'text-direction']),
    ...['\u200E', '\u200F', '\u061C'].map((c): [string, string] => [c, 'text-direction']),
    ...['\u200B', '\u200C', '\u200D', '\uFEFF', '\u2060', '\u00AD'].map((c): [string, string] => [
      c,
      'invisible',
    ]),
    ...['\u0000', '\n', '\u001B', '\u007F', '\u0085', '\u2028'].map((c): [string, string] => [
      c,
      'control',
    ]),
    ['\uD800', 'surrogate'],
    ['\uDFFF', 'surrogate'],
  ];
  it.each(refused)('refuses %j, saying what it is and where', (char, kind) => {
    for (const name of [`${char}Northgate`, `North${char}gate`, `Northgate${char}`]) {
      const problem = nameProblem('the name', name);
      expect(problem, JSON.stringify(name)).toContain(kind);
      expect(problem).toMatch(/^the name holds /);
    }
  });

  it('names the code point of an invisible character', () => {
    expect(nameProblem('the label', 'exam\u202Efdp.exe')).toContain('U+202E');
    expect(nameProblem('the label', 'a\u200Bb')).toContain('U+200B');
  });
});
