// The tray's windows' files as the main process serves them (a privileged `hallpass:` scheme in
// Electron; a loopback server in the page tests): only the tray's folders of ui/, page scripts
// with their types stripped (Node's own stripper, as the dashboard does), and one strict CSP.
import { readFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';

/** Where ui/ is; the packaged app passes its own (inside the asar). */
export const UI_DIR = path.resolve(import.meta.dirname, '../../ui');

/** The folders of ui/ the tray's windows come from. */
export const TRAY_UI_FOLDERS = [
  'status',
  'collects',
  'idle-warning',
  'aup',
  'tray-common',
] as const;

/**
 * No inline script or style, nothing from anywhere but the tray's own files, no network at
 * all (the windows talk to the tray only through the preload), never framed.
 */
export const TRAY_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'none'",
  "font-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** A file ready to send. */
export interface UiFile {
  body: string;
  contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** `<folder>/<plain name>.<ext>`: no dots but the extension's, so no `..` and no hidden files. */
const FILE_PATH = new RegExp(
  `^(${TRAY_UI_FOLDERS.join('|')})/[a-z0-9][a-z0-9-]*\\.(html|css|ts|svg)$`,
);

const SPECIFIER =
  /\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g;
/** A page script may import its siblings and the shared tray-common folder, nothing else. */
const ALLOWED_IMPORT = /^(\.\/|\.\.\/tray-common\/)[a-z0-9][a-z0-9-]*\.ts$/;

/** The file at `relative` (e.g. `status/index.html`), or null when it is not a tray file. */
export async function loadUiFile(relative: string, dir: string = UI_DIR): Promise<UiFile | null> {
  if (!FILE_PATH.test(relative)) {
    return null;
  }
  const file = path.resolve(dir, relative);
  // Belt and braces behind FILE_PATH: never leave ui/.
  if (!file.startsWith(dir + path.sep)) {
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
  const extension = path.extname(relative);
  let body = source;
  if (extension === '.ts') {
    body = stripTypeScriptTypes(source, { mode: 'strip' });
    for (const match of body.matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2] ?? '';
      if (!ALLOWED_IMPORT.test(specifier)) {
        // A bug in ui/ (a value import from shared/), not something a window can cause.
        throw new Error(`ui/${relative} imports ${specifier}: only ./ and ../tray-common/ files`);
      }
    }
  }
  const contentType = CONTENT_TYPES[extension];
  return contentType === undefined ? null : { body, contentType };
}
