// Text the PDF's standard Helvetica can show. Its fonts are not embedded and their encoding
// (WinAnsi, PDF 32000-1:2008 annex D.2) holds Latin-1 and a few typographic marks only: a
// character outside it would print as garbage. Accents outside it are dropped ("Ŵ" becomes "W",
// as a Welsh school's name degrades most readably); anything else left becomes "?".

/** The characters WinAnsi adds to Latin-1's printable range. */
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ'.split(''));

const printable = (c: string): boolean => {
  const code = c.codePointAt(0) ?? 0;
  return (code >= 0x20 && code < 0x7f) || (code >= 0xa0 && code <= 0xff) || WIN_ANSI_EXTRA.has(c);
};

/** `text` with every character Helvetica cannot print replaced as well as can be. */
export function pdfText(text: string): string {
  let out = '';
  for (const c of text.replace(/[\t\n\r]+/g, ' ')) {
    if (printable(c)) {
      out += c;
      continue;
    }
    // Decomposed, a letter with an accent Helvetica lacks is the letter and combining marks.
    const base = c.normalize('NFD').replace(/\p{M}+/gu, '');
    out += base !== '' && Array.from(base).every(printable) ? base : '?';
  }
  return out;
}
