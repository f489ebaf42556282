// The tray's windows in real Chromium: their files served the way the tray serves them
// (agent/tray/ui-files.ts, with the tray's CSP) on a loopback port, and a test bridge standing
// where the preload would, wired to the real TrayModel and ServiceClient against a real service.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { TrayModel, type TrayModelOptions } from '../../agent/tray/tray-model.ts';
import { loadUiFile, TRAY_CSP } from '../../agent/tray/ui-files.ts';
import type { TrayPushChannel, TrayPushChannels } from '../../shared/tray-bridge.ts';

/** A loopback server for ui/'s tray folders. */
export interface TrayUiServer {
  baseUrl: string;
  close(): Promise<void>;
}

/** Serves the tray's files exactly as loadUiFile gives them, with the tray's CSP. */
export async function serveTrayUi(): Promise<TrayUiServer> {
  const server: Server = createServer((request, response) => {
    const relative = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname).slice(1);
    loadUiFile(relative).then(
      (file) => {
        if (file === null) {
          response.writeHead(404, { 'content-security-policy': TRAY_CSP }).end();
          return;
        }
        response
          .writeHead(200, {
            'content-type': file.contentType,
            'content-security-policy': TRAY_CSP,
            'x-content-type-options': 'nosniff',
          })
          .end(file.body);
      },
      (error: unknown) => {
        response.writeHead(500).end(String(error));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${String(port)}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** The model behind the test bridge, and what it asked of the OS. */
export interface TestBridge {
  model: TrayModel;
  opened: Parameters<TrayModelOptions['openSettings']>[0][];
  notified: Parameters<TrayModelOptions['notify']>[0][];
  /** Pages that receive pushes. */
  pages: Set<Page>;
}

/** A model whose pushes go to the pages the bridge is installed in. */
export function testBridge(options: Partial<TrayModelOptions> = {}): TestBridge {
  const pages = new Set<Page>();
  const opened: TestBridge['opened'] = [];
  const notified: TestBridge['notified'] = [];
  const model = new TrayModel({
    os: 'linux',
    now: () => Date.now(),
    openSettings: (target) => {
      opened.push(target);
      return Promise.resolve({ ok: true });
    },
    notify: (notification) => notified.push(notification),
    publish: <C extends TrayPushChannel>(channel: C, value: TrayPushChannels[C]) => {
      for (const page of pages) {
        page
          .evaluate(`window.__hallpassPush?.(${JSON.stringify(channel)}, ${JSON.stringify(value)})`)
          .catch(() => undefined);
      }
    },
    ...options,
  });
  return { model, opened, notified, pages };
}

/**
 * Puts `window.hallpass` into the page before its scripts run, as the preload does: `invoke`
 * goes to the model's handle() (the same validation the main process applies), `on` hears the
 * model's pushes. Values cross as JSON, as they do over Electron's IPC.
 */
export async function installBridge(page: Page, bridge: TestBridge): Promise<void> {
  await page.exposeFunction('__hallpassInvoke', (request: unknown) => bridge.model.handle(request));
  await page.addInitScript(`(() => {
    const listeners = new Map();
    const invoke = window.__hallpassInvoke;
    window.__hallpassPush = (channel, value) => {
      for (const listener of listeners.get(channel) ?? []) listener(value);
    };
    window.hallpass = Object.freeze({
      invoke: (channel, ...args) => invoke({ channel, args }),
      on: (channel, listener) => {
        const set = listeners.get(channel) ?? new Set();
        set.add(listener);
        listeners.set(channel, set);
        return () => set.delete(listener);
      },
    });
  })()`);
  bridge.pages.add(page);
}

const AXE = new URL('../../node_modules/axe-core/axe.min.js', import.meta.url).pathname;

/** axe-core's violations on the page (WCAG 2.x A and AA rules), as `id: targets` lines. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Injected through the DevTools protocol, not a <script> tag: the page's CSP allows none.
  await page.evaluate(await readFile(AXE, 'utf8'));
  const violations: string[] = await page.evaluate(`(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations.map((v) => v.id + ': ' + JSON.stringify(v.nodes.map((n) => n.target)));
  })()`);
  return violations;
}

/**
 * Content that does not fit a window at 200 % zoom: a 1280-pixel-wide window zoomed to 200 %
 * lays out as 640 CSS pixels (WCAG 1.4.10 reflow). Returns the page's horizontal overflow in
 * CSS pixels and the visible text elements that stick out of the viewport.
 */
export async function overflowAt200(page: Page): Promise<{ overflow: number; outside: string[] }> {
  await page.setViewportSize({ width: 640, height: 400 });
  return page.evaluate(`(() => {
    const width = document.documentElement.clientWidth;
    const outside = [];
    for (const element of document.querySelectorAll('body *')) {
      const box = element.getBoundingClientRect();
      const visible = box.width > 0 && box.height > 0 && !element.classList.contains('visually-hidden');
      if (visible && (box.right > width + 1 || box.left < -1)) {
        outside.push(element.tagName.toLowerCase() + '#' + element.id);
      }
    }
    return { overflow: document.documentElement.scrollWidth - width, outside };
  })()`);
}
