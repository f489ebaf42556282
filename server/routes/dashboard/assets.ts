// Files of ui/dashboard as the browser gets them: HTML and CSS as they are, page scripts with
// their TypeScript types stripped (Node's own stripper: erasable syntax only, no build step).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The only folder whose files the dashboard serves. */
export const DASHBOARD_DIR = path.resolve(import.meta.dirname, '../../../ui/dashboard');

/**
 * Third-party files the pages load, served under a plain name from the installed package:
 * uPlot's minified classic script (51 KB, 22 KB gzipped) and its stylesheet, for the trend charts.
 */
const VENDOR: Record<string, string> = {
  'uplot.js': fileURLToPath(import.meta.resolve('uplot/dist/uPlot.iife.min.js')),
  'uplot.css': fileURLToPath(import.meta.resolve('uplot/dist/uPlot.min.css')),
};

/** A file ready to send. */
export interface Asset {
  body: string;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.js': 'text/javascript; charset=utf-8',
};

/**
 * A plain file name with a served extension: no folders, no dots but the extension's, so no
 * `..`, no encoded separators and no hidden files can get through.
 */
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(html|css|ts|svg)$/;

/** Page scripts may import only their siblings; `import type` from shared/ is stripped away. */
const SPECIFIER =
  /\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g;
const SIBLING = /^\.\/[a-z0-9][a-z0-9-]*\.ts$/;

/** Throws when a stripped script would make the browser fetch something the dashboard lacks. */
export function assertSiblingImports(name: string, code: string): void {
  for (const match of code.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2] ?? '';
    if (!SIBLING.test(specifier)) {
      // A bug in ui/dashboard (a value import from shared/, say), not a client error.
      throw new Error(
        `ui/dashboard/${name} imports ${specifier}: only ./<name>.ts may be imported`,
      );
    }
  }
}

/**
 * Where a page takes the header every signed-in page shares (`site-header.html`: skip link, brand,
 * main menu, who is signed in), and which menu link is the page's own: `""` when none is (a
 * device's page). One menu to edit when a page is added, not one copy a page.
 */
const SITE_HEADER = /^( *)<!-- site-header current="([^"]*)" -->$/m;

/** The shared header, indented as the marker is, with `current` marked as the page's own link. */
export function siteHeader(
  name: string,
  fragment: string,
  indent: string,
  current: string,
): string {
  let header = fragment.trimEnd();
  if (current !== '') {
    const link = `<a href="${current}">`;
    if (!header.includes(link)) {
      // A bug in ui/dashboard (a page naming a link the menu lacks), not a client error.
      throw new Error(`ui/dashboard/${name}: the site header has no link to ${current}`);
    }
    header = header.replace(link, `<a href="${current}" aria-current="page">`);
  }
  return header
    .split('\n')
    .map((line) => (line === '' ? line : indent + line))
    .join('\n');
}

/** Reads dashboard files on first use and keeps them in memory: they change only on deploy. */
export class AssetCache {
  readonly #dir: string;
  readonly #cache = new Map<string, Promise<Asset | null>>();

  constructor(dir: string = DASHBOARD_DIR) {
    this.#dir = dir;
  }

  /** The named file, or null when the name is not a servable file of the folder. */
  get(name: string): Promise<Asset | null> {
    if (!FILE_NAME.test(name) && VENDOR[name] === undefined) {
      return Promise.resolve(null);
    }
    let entry = this.#cache.get(name);
    if (entry === undefined) {
      entry = this.#load(name);
      this.#cache.set(name, entry);
      // Forget failures (a missing file): only existing files stay cached, so the map is bounded.
      void entry.then(
        (asset) => {
          if (asset === null) {
            this.#cache.delete(name);
          }
        },
        () => this.#cache.delete(name),
      );
    }
    return entry;
  }

  async #load(name: string): Promise<Asset | null> {
    const vendor = VENDOR[name];
    const file = vendor ?? path.resolve(this.#dir, name);
    // Belt and braces behind FILE_NAME: whatever the name, never leave the folder.
    if (vendor === undefined && path.dirname(file) !== this.#dir) {
      return null;
    }
    let source: string;
    try {
      source = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return null;
      }
      throw error;
    }
    const extension = path.extname(name);
    let body = source;
    if (extension === '.ts') {
      body = stripTypeScriptTypes(source, { mode: 'strip' });
      assertSiblingImports(name, body);
    }
    const marker = extension === '.html' ? SITE_HEADER.exec(source) : null;
    if (marker !== null) {
      const fragment = await this.get('site-header.html');
      if (fragment === null) {
        throw new Error('ui/dashboard/site-header.html is missing');
      }
      const [line, indent = '', current = ''] = marker;
      body = source.replace(line, () => siteHeader(name, fragment.body, indent, current));
    }
    const contentType = CONTENT_TYPES[extension];
    if (contentType === undefined) {
      return null;
    }
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    return { body, contentType, etag };
  }
}
