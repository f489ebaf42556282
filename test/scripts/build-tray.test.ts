// The tray's bundles as electron-builder ships them: the preload is one CommonJS file that
// requires nothing but `electron` (a sandboxed preload can load nothing else), and the main
// bundle loads only Electron and Node's built-ins (plus the JSON-schema runtime electron-store's
// validator asks for by name).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTray } from '../../scripts/build-tray.ts';

describe('build-tray', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bundles a preload that requires only electron, and a main that needs no source files', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-tray-build-'));
    const out = await buildTray(dir);
    const preload = await readFile(out.preload, 'utf8');
    const requires = [...preload.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect(requires).toEqual(['electron']);
    expect(preload).not.toMatch(/\bimport\b/);
    expect(preload).toContain('exposeInMainWorld("hallpass"');

    const main = await readFile(out.main, 'utf8');
    const loaded = new Set(
      [...main.matchAll(/(?:from\s*|require\()["']([^"']+)["']/g)].map((m) => m[1] ?? ''),
    );
    const outside = [...loaded].filter(
      (name) =>
        name !== 'electron' &&
        !name.startsWith('node:') &&
        !['buffer', 'process'].includes(name) &&
        !name.startsWith('ajv/dist/runtime/') &&
        name !== 'ajv-formats/dist/formats',
    );
    expect(outside).toEqual([]);
    expect(loaded).toContain('electron');
    expect(await readFile(join(dir, 'default-policy.yaml'), 'utf8')).toContain('idleLock:');
    // The bundle resolves the Windows idle helper beside itself (idle/os-desktop.ts).
    expect(main).toContain('new URL("./windows-idle.ps1", import.meta.url)');
    expect(await readFile(join(dir, 'windows-idle.ps1'), 'utf8')).toContain('LockWorkStation');
  }, 120_000);
});
