// Text for the PDF's standard Helvetica: what WinAnsi holds stays, accents it lacks are dropped,
// anything else becomes "?" rather than garbage.
import { expect, it } from 'vitest';
import { pdfText } from '../../../server/reports/pdf-text.ts';

it.each([
  ['Northgate Primary', 'Northgate Primary'],
  ['Saint-Étienne École', 'Saint-Étienne École'],
  ['St Mary’s – “Upper”', 'St Mary’s – “Upper”'],
  ['Ysgol Bro Ŵyr', 'Ysgol Bro Wyr'],
  ['Łódź', '?ódz'],
  ['東京 lab', '?? lab'],
  ['line\none\ttab', 'line one tab'],
  ['emoji 😀', 'emoji ?'],
])('%j prints as %j', (given, printed) => {
  expect(pdfText(given)).toBe(printed);
});
