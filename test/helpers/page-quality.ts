// The dashboard's quality bar, checked on a real page in Chromium: axe-core finds no WCAG
// violation, everything works from the keyboard alone, nothing but a table's own region scrolls
// sideways at 320 CSS px (WCAG 1.4.10 Reflow), and at 200 % zoom the page still reflows.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
let axeSource: Promise<string> | undefined;

/**
 * The few DOM types the in-page probes below use. The test tree is type-checked without the DOM
 * library (it is Node code), so these say what the functions passed to page.evaluate() touch.
 */
interface PageElement {
  tagName: string;
  id: string;
  textContent: string | null;
  parentElement: PageElement | null;
  tabIndex: number;
  disabled?: boolean;
  scrollWidth: number;
  clientWidth: number;
  getBoundingClientRect(): { width: number; height: number; right: number };
  hasAttribute(name: string): boolean;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  checkVisibility(options?: { visibilityProperty?: boolean }): boolean;
  querySelectorAll(selector: string): Iterable<PageElement>;
  prepend(element: PageElement): void;
  focus(): void;
  blur(): void;
  remove(): void;
}
interface PageWindow {
  document: {
    documentElement: PageElement;
    body: PageElement;
    activeElement: PageElement | null;
    querySelectorAll(selector: string): Iterable<PageElement>;
    createElement(tag: string): PageElement;
  };
  requestAnimationFrame(callback: () => void): number;
  getComputedStyle(element: PageElement): {
    overflowX: string;
    outlineStyle: string;
    outlineWidth: string;
    boxShadow: string;
  };
  scrollTo(x: number, y: number): void;
}

/** One axe-core violation, short enough to read in a failed assertion. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core (WCAG 2.0–2.2 A and AA rules, plus best practice) in the page. axe is evaluated
 * through the DevTools protocol, so the dashboard's strict CSP (no inline script) stays on.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(await axeSource);
  return page.evaluate(async () => {
    interface AxeResult {
      violations: {
        id: string;
        impact: string | null;
        help: string;
        nodes: { target: string[] }[];
      }[];
    }
    const axe = (globalThis as unknown as { axe: { run(o: unknown): Promise<AxeResult> } }).axe;
    const result = await axe.run({
      runOnly: {
        type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'],
      },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
}

/**
 * How far the page itself scrolls sideways, in CSS px (0 when it does not). A wide table may
 * scroll inside its own region; the page must not.
 */
export function pageOverflowX(page: Page): Promise<number> {
  return page.evaluate(() => {
    const win = globalThis as unknown as PageWindow;
    const document = win.document;
    const root = document.documentElement;
    return Math.max(root.scrollWidth, document.body.scrollWidth) - root.clientWidth;
  });
}

/** Elements wider than the viewport that are not inside a region that scrolls on its own. */
export function unscrolledWideElements(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const win = globalThis as unknown as PageWindow;
    const document = win.document;
    const width = document.documentElement.clientWidth;
    const scrollsItself = (element: PageElement): boolean => {
      for (let e: PageElement | null = element.parentElement; e !== null; e = e.parentElement) {
        const overflow = win.getComputedStyle(e).overflowX;
        if (overflow === 'auto' || overflow === 'scroll') {
          return true;
        }
      }
      return false;
    };
    const tooWide = (e: PageElement | null): boolean => {
      if (e === null || e === document.body) {
        return false;
      }
      const box = e.getBoundingClientRect();
      return box.width > 0 && box.right > width + 1 && !scrollsItself(e);
    };
    // Only the outermost: a too-wide table's cells are too wide because the table is.
    return [...document.body.querySelectorAll('*')]
      .filter((e) => tooWide(e) && !tooWide(e.parentElement))
      .map((e) => e.tagName.toLowerCase() + (e.id === '' ? '' : `#${e.id}`));
  });
}

/** What keyboard-only use found on a page. */
export interface KeyboardWalk {
  /** Every element Tab reached, in order, as `tag#id` or `tag text`. */
  reached: string[];
  /** Focusable controls (links, buttons, fields, scroll regions) Tab never reached. */
  missed: string[];
  /** Reached elements that showed no focus indicator (no outline and no box-shadow). */
  invisibleFocus: string[];
}

/**
 * Tabs through the whole page from the top, as a keyboard user does, and reports which visible
 * controls were never reached and which showed no visible focus.
 */
export async function walkWithKeyboard(page: Page, maxStops = 400): Promise<KeyboardWalk> {
  await page.evaluate(() => {
    const win = globalThis as unknown as PageWindow;
    const document = win.document;
    for (const e of document.querySelectorAll('[data-tab-reached], [data-tab-start]')) {
      e.removeAttribute('data-tab-reached');
      e.removeAttribute('data-tab-start');
    }
    // A field the page focused for the user (autofocus) counts as reached.
    const start = document.activeElement;
    if (start !== null && start !== document.body) {
      start.setAttribute('data-tab-start', '');
    }
    win.scrollTo(0, 0);
    // Start from the top of the document, as a keyboard user arriving on the page does: focus a
    // throwaway first element and remove it, which leaves the next Tab at the first control.
    const marker = document.createElement('span');
    marker.tabIndex = -1;
    document.body.prepend(marker);
    marker.focus();
    marker.remove();
  });
  const reached: string[] = [];
  const invisibleFocus: string[] = [];
  for (let i = 0; i < maxStops; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const win = globalThis as unknown as PageWindow;
      const document = win.document;
      const element = document.activeElement;
      if (element === null || element === document.body) {
        return null;
      }
      if (element.hasAttribute('data-tab-reached')) {
        return { name: '', again: true, visible: true };
      }
      element.setAttribute('data-tab-reached', '');
      const style = win.getComputedStyle(element);
      const visible =
        (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) ||
        style.boxShadow !== 'none';
      const text = (element.textContent ?? '').trim().slice(0, 40);
      const name =
        element.tagName.toLowerCase() + (element.id === '' ? ` ${text}` : `#${element.id}`);
      return { name, again: false, visible };
    });
    if (stop === null || stop.again) {
      break;
    }
    reached.push(stop.name);
    if (!stop.visible) {
      invisibleFocus.push(stop.name);
    }
  }
  const missed = await page.evaluate(() => {
    const win = globalThis as unknown as PageWindow;
    const document = win.document;
    const controls = document.querySelectorAll(
      'a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]:not([tabindex="-1"])',
    );
    return [...controls]
      .filter((e) => {
        // Inside a closed <details> a control is not shown, so not expected to be reached.
        const shown = e.checkVisibility({ visibilityProperty: true });
        return (
          shown &&
          !e.hasAttribute('data-tab-reached') &&
          !e.hasAttribute('data-tab-start') &&
          e.disabled !== true
        );
      })
      .map(
        (e) =>
          e.tagName.toLowerCase() +
          (e.id === '' ? ` ${(e.textContent ?? '').trim().slice(0, 40)}` : `#${e.id}`),
      );
  });
  return { reached, missed, invisibleFocus };
}

/** Everything the quality bar found wrong on the page as it is now (empty when it passes). */
export interface QualityReport {
  axe: AxeViolation[];
  keyboard: { missed: string[]; invisibleFocus: string[] };
  /** At 320 CSS px wide. */
  narrow: { overflowX: number; wide: string[] };
  /** At 200 % zoom of a 1280 px window: 640 CSS px, twice the device pixels. */
  zoomed: { overflowX: number; wide: string[] };
}

/**
 * Resizes the viewport and waits two frames, so what is measured is what the browser paints:
 * resize observers (the trend charts redraw at their new width) report after layout and before
 * the paint, so the second frame comes after they have run.
 */
async function resizeTo(page: Page, width: number, height: number): Promise<void> {
  await page.setViewportSize({ width, height });
  await page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        const win = globalThis as unknown as PageWindow;
        win.requestAnimationFrame(() => {
          win.requestAnimationFrame(() => {
            resolve();
          });
        });
      }),
  );
}

/**
 * Checks the page at `url` against the whole bar: axe and the keyboard at 1280 px, then reflow at
 * 320 px and at 200 % zoom. `ready` waits until the page's script has drawn its data.
 */
export async function checkPageQuality(
  page: Page,
  url: string,
  ready: (page: Page) => Promise<void>,
): Promise<QualityReport> {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(url);
  await ready(page);
  const axe = await axeViolations(page);
  const walk = await walkWithKeyboard(page);

  await resizeTo(page, 320, 640);
  const narrow = { overflowX: await pageOverflowX(page), wide: await unscrolledWideElements(page) };
  const narrowAxe = await axeViolations(page);

  // Browser zoom to 200 % halves the CSS viewport; Chromium lays the page out exactly so.
  await resizeTo(page, 640, 450);
  const zoomed = { overflowX: await pageOverflowX(page), wide: await unscrolledWideElements(page) };
  await page.setViewportSize({ width: 1280, height: 900 });
  const seen = new Set(axe.map((v) => v.id));
  return {
    axe: [...axe, ...narrowAxe.filter((v) => !seen.has(v.id))],
    keyboard: { missed: walk.missed, invisibleFocus: walk.invisibleFocus },
    narrow,
    zoomed,
  };
}

/** The report a page that meets the bar gives. */
export const PASSING: QualityReport = {
  axe: [],
  keyboard: { missed: [], invisibleFocus: [] },
  narrow: { overflowX: 0, wide: [] },
  zoomed: { overflowX: 0, wide: [] },
};
