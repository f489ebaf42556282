// electron-builder.yml is valid for the electron-builder installed here (its own JSON schema,
// app-builder-lib/scheme.json, with ajv), builds per-machine installers for all three OSes, and
// its afterPack hook flips every fuse the tray's security rests on.
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FuseV1Options } from '@electron/fuses';
import { TRAY_UI_FOLDERS } from '../../agent/tray/ui-files.ts';
import afterPack, { TRAY_FUSES, type AfterPackContext } from '../../scripts/tray-after-pack.ts';

const root = new URL('../../', import.meta.url);

async function config(): Promise<Record<string, unknown>> {
  return parse(await readFile(new URL('electron-builder.yml', root), 'utf8')) as Record<
    string,
    unknown
  >;
}

describe('electron-builder.yml', () => {
  it('is valid against electron-builder’s own schema', async () => {
    const schema = JSON.parse(
      await readFile(new URL('node_modules/app-builder-lib/scheme.json', root), 'utf8'),
    ) as Record<string, unknown>;
    // strict off: the schema uses electron-builder's own `typeof` keyword for function hooks.
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const valid = validate(await config());
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema check rejects a wrong config (so the test above can fail)', async () => {
    const schema = JSON.parse(
      await readFile(new URL('node_modules/app-builder-lib/scheme.json', root), 'utf8'),
    ) as Record<string, unknown>;
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate({ ...(await config()), nsis: { perMachine: 'yes' } })).toBe(false);
    expect(validate({ ...(await config()), notAnOption: true })).toBe(false);
  });

  it('builds per-machine NSIS and MSI, a pkg and a deb, from the bundles only', async () => {
    const c = (await config()) as {
      win: { target: string[] };
      nsis: { perMachine: boolean };
      msi: { perMachine: boolean };
      mac: { target: string[] };
      linux: { target: string[] };
      files: string[];
      extraMetadata: { main: string };
      afterPack: string;
      asar: boolean;
    };
    expect(c.win.target).toEqual(['nsis', 'msi']);
    expect([c.nsis.perMachine, c.msi.perMachine]).toEqual([true, true]);
    expect(c.mac.target).toEqual(['pkg']);
    expect(c.linux.target).toEqual(['deb']);
    expect(c.asar).toBe(true);
    expect(c.extraMetadata.main).toBe('dist/tray/main.mjs');
    expect(c.files.filter((f) => f.startsWith('agent') || f.startsWith('server'))).toEqual([]);
    expect(c.afterPack).toBe('./scripts/tray-after-pack.ts');
  });

  it('packs exactly the ui/ folders the tray serves its windows from', async () => {
    // A folder left out loads nothing in a real install (the AUP window once was).
    const { files } = (await config()) as { files: string[] };
    const uiFolders = files
      .filter((f) => f.startsWith('ui/'))
      .map((f) => /^ui\/([a-z-]+)\/\*\*$/.exec(f)?.[1] ?? `unexpected pattern ${f}`);
    expect(uiFolders.sort()).toEqual([...TRAY_UI_FOLDERS].sort());
  });
});

describe('the afterPack hook', () => {
  it('turns off RunAsNode, NODE_OPTIONS and inspect arguments, and turns on asar integrity and asar-only loading', () => {
    expect(TRAY_FUSES).toMatchObject({
      strictlyRequireAllFuses: true,
      [FuseV1Options.RunAsNode]: false,
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
      [FuseV1Options.EnableNodeCliInspectArguments]: false,
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
      [FuseV1Options.OnlyLoadAppFromAsar]: true,
    });
    // Every fuse this @electron/fuses knows is decided.
    const known = Object.values(FuseV1Options).filter((v) => typeof v === 'number');
    for (const fuse of known) {
      expect(typeof (TRAY_FUSES as Record<number, unknown>)[fuse]).toBe('boolean');
    }
  });

  it('hands exactly that config to electron-builder’s fuse flipping', async () => {
    const calls: unknown[] = [];
    const context: AfterPackContext = {
      packager: {
        addElectronFuses: (_context, fuses) => {
          calls.push(fuses);
          return Promise.resolve(0);
        },
      },
    };
    await afterPack(context);
    expect(calls).toEqual([TRAY_FUSES]);
  });
});
