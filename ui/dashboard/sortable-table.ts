// A table whose column headers are buttons that sort it: aria-sort says the order to screen
// readers, the caption says it in words, and the keyboard reaches every header button.
import { h, table } from './dom.ts';

/** Which way a column is sorted. */
export type SortDirection = 'ascending' | 'descending';

/** One sortable column: its header and the value rows sort by (null sorts last either way). */
export interface SortColumn<T> {
  label: string;
  value: (row: T) => number | string | null;
}

/** Compares two values for sorting in `direction`; nulls always last. */
function compare(
  a: number | string | null,
  b: number | string | null,
  direction: SortDirection,
): number {
  if (a === null || b === null) {
    return a === b ? 0 : a === null ? 1 : -1;
  }
  const order =
    typeof a === 'number' && typeof b === 'number'
      ? a - b
      : String(a).localeCompare(String(b), 'en-GB');
  return direction === 'ascending' ? order : -order;
}

/**
 * A table sortable by any column. `tieBreak` orders rows the chosen column cannot tell apart
 * (stable and meaningful, e.g. by name). Starts sorted by `initial`. `unsorted` names columns
 * after the sortable ones that hold controls (a row's buttons), with plain headers.
 */
export function sortableTable<T>(
  caption: string,
  columns: readonly SortColumn<T>[],
  rows: readonly T[],
  renderRow: (row: T) => HTMLTableRowElement,
  initial: { column: number; direction: SortDirection },
  tieBreak: (a: T, b: T) => number,
  className = '',
  unsorted: readonly string[] = [],
): HTMLDivElement {
  let sorted = { ...initial };
  const headers = columns.map((column, index) =>
    h(
      'th',
      { scope: 'col' },
      h('button', { type: 'button', class: 'sort', 'data-column': index }, column.label),
    ),
  );
  const wrapper = table(
    caption,
    [...headers, ...unsorted.map((label) => h('th', { scope: 'col' }, label))],
    [],
    className,
  );
  const tbody = wrapper.querySelector('tbody');
  const captionElement = wrapper.querySelector('caption');
  const draw = () => {
    const column = columns[sorted.column];
    if (column === undefined || tbody === null || captionElement === null) {
      return;
    }
    const ordered = [...rows].sort(
      (a, b) => compare(column.value(a), column.value(b), sorted.direction) || tieBreak(a, b),
    );
    tbody.replaceChildren(...ordered.map(renderRow));
    headers.forEach((th, index) => {
      if (index === sorted.column) {
        th.setAttribute('aria-sort', sorted.direction);
      } else {
        th.removeAttribute('aria-sort');
      }
    });
    captionElement.textContent = `${caption}, sorted by ${column.label}, ${sorted.direction}`;
  };
  headers.forEach((th, index) => {
    th.querySelector('button')?.addEventListener('click', () => {
      sorted =
        sorted.column === index
          ? {
              column: index,
              direction: sorted.direction === 'ascending' ? 'descending' : 'ascending',
            }
          : { column: index, direction: 'ascending' };
      draw();
    });
  });
  draw();
  return wrapper;
}
