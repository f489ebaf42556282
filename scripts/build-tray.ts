// Bundles the tray's Electron main process and preload for electron-builder (electron-builder.yml):
// `npm run build:tray` → dist/tray/main.mjs, dist/tray/preload.cjs, the default policy the idle
// lock starts from and the idle lock's Windows session helper (windows-idle.ps1). The preload must be one CommonJS file that requires nothing but `electron`:
// a sandboxed preload cannot load modules of its own (Electron's "Process Sandboxing" docs).
// The windows' files stay in ui/ (served with their types stripped by agent/tray/ui-files.ts).
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');

/** Where the bundles go unless told otherwise. */
export const DEFAULT_TRAY_OUT = join(root, 'dist/tray');

/** Builds both bundles into `outDir`; returns their paths. */
export async function buildTray(
  outDir: string = DEFAULT_TRAY_OUT,
): Promise<{ main: string; preload: string }> {
  await mkdir(outDir, { recursive: true });
  const main = join(outDir, 'main.mjs');
  const preload = join(outDir, 'preload.cjs');
  await Promise.all([
    build({
      entryPoints: [join(root, 'agent/tray/main.ts')],
      outfile: main,
      bundle: true,
      platform: 'node',
      format: 'esm',
      // Electron 45's Node is 22.
      target: 'node22',
      external: ['electron'],
      // CommonJS dependencies bundled into an ES module still call require().
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'warning',
    }),
    build({
      entryPoints: [join(root, 'agent/tray/preload.ts')],
      outfile: preload,
      bundle: true,
      platform: 'browser',
      format: 'cjs',
      target: 'chrome140',
      external: ['electron'],
      logLevel: 'warning',
    }),
  ]);
  // readDefaultPolicy() reads the policy beside the module that asks, which is now main.mjs.
  await copyFile(
    join(root, 'agent/core/policy/default-policy.yaml'),
    join(outDir, 'default-policy.yaml'),
  );
  // idle/os-desktop.ts reads the Windows helper beside its module, which is now main.mjs too.
  await copyFile(join(root, 'agent/tray/idle/windows-idle.ps1'), join(outDir, 'windows-idle.ps1'));
  return { main, preload };
}

if (import.meta.main) {
  const out = await buildTray(process.argv[2] ?? DEFAULT_TRAY_OUT);
  console.log(`built ${out.main} and ${out.preload}`);
}
