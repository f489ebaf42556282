// Pieces of the policy pages: who published a version, and a line diff as a table in which
// each line says in words whether it was added, removed or kept (colour only helps scanning).
import type { PolicyCheckResponse, PolicyDiffLine } from '../../shared/schemas/ict-api.ts';
import { h, table } from './dom.ts';

/** Who published a version: an ICT account, or the server's own command line. */
export function publisher(by: string | null): HTMLElement {
  return by === null
    ? h('span', { class: 'muted' }, 'Server command line')
    : h('span', { class: 'device-text' }, by);
}

/** Unchanged lines kept either side of a change; longer runs fold into one row. */
const CONTEXT = 3;
/** Rows drawn at most: a policy too different to pair up line by line can be every line twice. */
const MAX_ROWS = 1500;

const CHANGE_WORDS: Record<PolicyDiffLine['change'], { symbol: string; word: string }> = {
  added: { symbol: '+', word: 'Added' },
  removed: { symbol: '−', word: 'Removed' },
  same: { symbol: ' ', word: 'Unchanged' },
};

const plural = (n: number, one: string, many: string): string =>
  `${n.toLocaleString('en-GB')} ${n === 1 ? one : many}`;

function lineRow(line: PolicyDiffLine): HTMLTableRowElement {
  const { symbol, word } = CHANGE_WORDS[line.change];
  return h(
    'tr',
    { class: `diff-${line.change}` },
    h('td', { class: 'diff-change' }, h('span', { 'aria-hidden': 'true' }, symbol), ' ', word),
    h('td', { class: 'number' }, line.oldLine ?? ''),
    h('td', { class: 'number' }, line.newLine ?? ''),
    // Text, never markup: a policy's strings are whatever an admin typed.
    h('td', {}, h('code', { class: 'diff-text' }, line.text === '' ? ' ' : line.text)),
  );
}

function foldRow(count: number): HTMLTableRowElement {
  return h(
    'tr',
    { class: 'diff-fold' },
    h('td', { colspan: 4 }, `⋯ ${plural(count, 'unchanged line', 'unchanged lines')} not shown`),
  );
}

/**
 * A diff as a sentence and a table: changed lines with a few unchanged ones around them, longer
 * unchanged runs folded. `from` and `to` name the two sides ("version 4", "the new version 5").
 */
export function diffView(
  diff: NonNullable<PolicyCheckResponse['diff']>,
  from: string,
  to: string,
): HTMLElement {
  const { lines } = diff;
  const near = new Array<boolean>(lines.length).fill(false);
  lines.forEach((line, index) => {
    if (line.change !== 'same') {
      for (
        let i = Math.max(0, index - CONTEXT);
        i <= Math.min(lines.length - 1, index + CONTEXT);
        i++
      ) {
        near[i] = true;
      }
    }
  });
  const rows: HTMLTableRowElement[] = [];
  let folded = 0;
  let shown = 0;
  for (const [index, line] of lines.entries()) {
    if (!(near[index] ?? false)) {
      folded++;
      continue;
    }
    if (folded > 0) {
      rows.push(foldRow(folded));
      folded = 0;
    }
    if (shown === MAX_ROWS) {
      rows.push(
        h(
          'tr',
          { class: 'diff-fold' },
          h(
            'td',
            { colspan: 4 },
            `⋯ ${plural(lines.length - index, 'more line', 'more lines')} not shown here`,
          ),
        ),
      );
      break;
    }
    rows.push(lineRow(line));
    shown++;
  }
  if (folded > 0) {
    rows.push(foldRow(folded));
  }
  const summary =
    diff.added === 0 && diff.removed === 0
      ? `No line differs between ${from} and ${to}.`
      : `From ${from} to ${to}: ${plural(diff.added, 'line', 'lines')} added, ` +
        `${plural(diff.removed, 'line', 'lines')} removed.`;
  return h(
    'div',
    { class: 'diff' },
    h('p', {}, summary),
    diff.minimal
      ? null
      : h(
          'p',
          {},
          'They are too different to pair up line by line: every line of the first is shown as removed and every line of the second as added.',
        ),
    rows.length === 0
      ? null
      : table(
          `Changes from ${from} to ${to}, line by line`,
          ['Change', `Line in ${from}`, `Line in ${to}`, 'Text'],
          rows,
          'diff-table',
        ),
  );
}
