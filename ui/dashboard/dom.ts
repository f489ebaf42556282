// DOM helpers for the dashboard pages. Text from devices (hostnames, summaries, event data) is
// untrusted: it only ever goes into the page as text nodes, never as markup.
import type { CheckStatus } from '../../shared/schemas/check-result.ts';
import { CHECK_NAMES } from './check-names.ts';

export { CHECK_NAMES };

/** A child of `h`: an element, text (set as a text node) or nothing. */
export type Child = Node | string | number | null | undefined | false;

/** Attributes `h` may set; event handlers are attached in code, never as attribute strings. */
export type Attributes = Record<string, string | number | boolean | null | undefined>;

/** Creates an element with attributes and children; strings become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) {
      element.setAttribute(name, '');
    } else if (value !== false && value !== null && value !== undefined) {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      // append() turns strings into text nodes: markup in device data stays text.
      element.append(typeof child === 'number' ? String(child) : child);
    }
  }
  return element;
}

/** The element with this id, of this type; a missing or different one is a bug in the HTML. */
export function byId<T extends HTMLElement = HTMLElement>(
  id: string,
  type: new () => T = HTMLElement as new () => T,
): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) {
    throw new Error(`the page has no ${type.name} #${id}`);
  }
  return element;
}

/** A status as the pages show it; `none` means enrolled but not reported yet. */
export type ShownStatus = CheckStatus | 'none';

/** Status words: colour is never the only signal. */
export const STATUS_WORDS: Record<ShownStatus, string> = {
  pass: 'Pass',
  fail: 'Fail',
  warn: 'Warning',
  unknown: 'Unknown',
  none: 'No report',
};

/** The statuses in the order the tables list them. */
export const STATUSES: readonly ShownStatus[] = ['pass', 'fail', 'warn', 'unknown', 'none'];

/** A status badge: the word, with a colour and a symbol for quick scanning. */
export function statusBadge(status: ShownStatus | null): HTMLSpanElement {
  const shown = status ?? 'none';
  return h('span', { class: `status status-${shown}` }, STATUS_WORDS[shown]);
}

/** The name of a check, or its id when this page does not know it. */
export function checkName(checkId: string): string {
  return (CHECK_NAMES as Record<string, string | undefined>)[checkId] ?? checkId;
}

const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

/** A `<time>` for an ISO date-time, or a word when there is none. */
export function time(iso: string | null, missing = 'Never'): HTMLElement {
  if (iso === null) {
    return h('span', { class: 'muted' }, missing);
  }
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, dateFormat.format(date));
}

/**
 * A table with a caption, column headers with scope, and the given rows, inside its own
 * scroll region: at 320 px a wide table scrolls there, never the whole page (WCAG 1.4.10). The
 * region is focusable and named by the caption, so a keyboard user can scroll it too.
 */
export function table(
  caption: string,
  headers: (string | Node)[],
  rows: HTMLTableRowElement[],
  className = '',
): HTMLDivElement {
  return scrollRegion(
    caption,
    h(
      'table',
      { class: className === '' ? null : className },
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...headers.map((header) =>
            header instanceof HTMLTableCellElement ? header : h('th', { scope: 'col' }, header),
          ),
        ),
      ),
      h('tbody', {}, ...rows),
    ),
  );
}

/** A focusable region, named for screen readers, that scrolls its wide content sideways. */
export function scrollRegion(label: string, content: Node): HTMLDivElement {
  return h(
    'div',
    { class: 'scroll-region', role: 'region', 'aria-label': label, tabindex: 0 },
    content,
  );
}

/** Shows a message in the page's alert region (`#error`), or hides it when null. */
export function showError(message: string | null): void {
  const region = byId('error');
  region.textContent = message ?? '';
  region.hidden = message === null;
}
