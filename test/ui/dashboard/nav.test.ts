// Each dashboard page carries its own copy of the main navigation (the pages are static HTML with
// no build step). This keeps the copies from drifting: a page added to the menu must be added to
// every page, and each menu marks only its own page as current.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_DIR } from '../../../server/routes/dashboard/assets.ts';

const NAV = /<nav aria-label="Main">([\s\S]*?)<\/nav>/;
const LINK = /<a href="([^"]+)"( aria-current="page")?>([^<]+)<\/a>/g;

interface Link {
  href: string;
  label: string;
  current: boolean;
}

async function navOf(file: string): Promise<Link[] | null> {
  const html = await readFile(path.join(DASHBOARD_DIR, file), 'utf8');
  const nav = NAV.exec(html)?.[1];
  if (nav === undefined) {
    return null;
  }
  return [...nav.matchAll(LINK)].map(([, href = '', current, label = '']) => ({
    href,
    label,
    current: current !== undefined,
  }));
}

describe('dashboard main navigation', () => {
  it('is the same menu on every signed-in page, marking at most its own page', async () => {
    const files = (await readdir(DASHBOARD_DIR)).filter(
      (file) => file.endsWith('.html') && file !== 'sign-in.html',
    );
    const reference = await navOf('overview.html');
    expect(reference?.length).toBeGreaterThan(5);
    const menu = reference?.map(({ href, label }) => ({ href, label }));
    for (const file of files) {
      const links = await navOf(file);
      expect(links, `${file} has no main navigation`).not.toBeNull();
      expect(
        links?.map(({ href, label }) => ({ href, label })),
        `${file}'s menu differs from the overview's`,
      ).toEqual(menu);
      const current = links?.filter((link) => link.current) ?? [];
      expect(current.length, `${file} marks more than one page current`).toBeLessThanOrEqual(1);
      for (const link of current) {
        // The page a menu entry names is the page served at that entry's address.
        const served = link.href === '/' ? 'overview.html' : `${link.href.slice(1)}.html`;
        expect(served, `${file} marks ${link.href} as current`).toBe(file);
      }
    }
  });

  it('lists every page a menu entry opens, and every such page exists', async () => {
    const menu = (await navOf('overview.html')) ?? [];
    const files = new Set(await readdir(DASHBOARD_DIR));
    for (const { href } of menu) {
      expect(files.has(href === '/' ? 'overview.html' : `${href.slice(1)}.html`), href).toBe(true);
    }
  });
});
