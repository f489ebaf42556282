// Packages the agent CLI (`hallpass`, incl. `hallpass service`) as one executable: esbuild bundles
// agent/cli.ts and its dependencies into one CommonJS file, then Node's single-executable-application
// support (Node 24: `--experimental-sea-config`, blob injected with postject) puts it into a copy of
// the pinned `node` devDependency's binary (ARCHITECTURE.md: same Node major as the tray's Electron).
// `npm run build:agent` → dist/agent/hallpass.cjs (+ assets/) and dist/agent/hallpass.
//
// Files the code reads beside itself (`new URL('./windows.ps1', import.meta.url)`) become SEA
// assets: the bundle gives each module an import.meta.url of `hallpass-asset:///<path>` and
// agent/core/assets.ts reads those with `sea.getAsset` (or from assets/ beside a bare bundle).
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';

const root = resolve(import.meta.dirname, '..');

/** Where `npm run build:agent` writes the executable. */
export const DEFAULT_EXECUTABLE = join(
  root,
  'dist/agent',
  process.platform === 'win32' ? 'hallpass.exe' : 'hallpass',
);

/**
 * V8 flags baked into the executable (SEA `execArgv`), measured on the idle service
 * (bench/RESULTS.md, "Service"): without the optimising tiers (TurboFan, Maglev, Sparkplug) and
 * with V8's size-over-speed heuristics, RSS stays flat across check passes instead of growing
 * with compiled code and feedback, for about a millisecond more CPU a pass; a 1 MB young
 * generation suits a daemon that allocates in bursts. Not --lite-mode or --jitless: they turn
 * off WebAssembly, and Node's fetch (undici's llhttp) needs it.
 */
export const SEA_EXEC_ARGV: readonly string[] = [
  '--no-opt',
  '--no-maglev',
  '--no-sparkplug',
  '--optimize-for-size',
  '--max-semi-space-size=1',
];

/** Where the build put its outputs. */
export interface AgentBuild {
  /** The bundled CLI, runnable with `node` (assets beside it in assets/). */
  bundle: string;
  /** The single executable, or null when only the bundle was asked for. */
  executable: string | null;
}

/** Bundles the agent and, unless `sea` is false, packages it as a single executable. */
export async function buildAgent(
  options: {
    outDir?: string;
    sea?: boolean;
    /** The Node binary to package; default: the pinned `node` devDependency's. */
    nodeBinary?: string;
    /** The version the agent reports; default: package.json's (tests build "newer" builds). */
    agentVersion?: string;
  } = {},
): Promise<AgentBuild> {
  const outDir = resolve(options.outDir ?? join(root, 'dist/agent'));
  await mkdir(outDir, { recursive: true });
  const bundle = join(outDir, 'hallpass.cjs');
  const assets = new Set<string>();
  const result = await build({
    ...bundleOptions(assets, options.agentVersion),
    entryPoints: [join(root, 'agent/cli.ts')],
    outfile: bundle,
  });
  const problems = [...result.errors, ...result.warnings];
  if (problems.length > 0) {
    throw new Error(
      `esbuild: ${problems.map((p) => `${p.location?.file ?? ''}: ${p.text}`).join('\n')}`,
    );
  }
  for (const key of assets) {
    await mkdir(dirname(join(outDir, 'assets', key)), { recursive: true });
    await copyFile(join(root, key), join(outDir, 'assets', key));
  }
  if (options.sea === false) {
    return { bundle, executable: null };
  }
  const node = options.nodeBinary ?? pinnedNode();
  const executable = join(outDir, process.platform === 'win32' ? 'hallpass.exe' : 'hallpass');
  const blob = join(outDir, 'hallpass.blob');
  const seaConfig = join(outDir, 'sea-config.json');
  await writeFile(
    seaConfig,
    JSON.stringify(
      {
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        execArgv: SEA_EXEC_ARGV,
        assets: Object.fromEntries([...assets].map((key) => [key, join(root, key)])),
      },
      null,
      2,
    ),
  );
  execFileSync(node, ['--experimental-sea-config', seaConfig], { stdio: 'pipe' });
  await rm(executable, { force: true });
  await copyFile(node, executable);
  await chmod(executable, 0o755);
  if (process.platform === 'darwin') {
    execFileSync('codesign', ['--remove-signature', executable]);
  }
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/postject/dist/cli.js'),
      executable,
      'NODE_SEA_BLOB',
      blob,
      // The fuse Node's binary checks for an injected blob (Node's SEA documentation).
      '--sentinel-fuse',
      'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
      ...(process.platform === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : []),
    ],
    { stdio: 'pipe' },
  );
  if (process.platform === 'darwin') {
    execFileSync('codesign', ['--sign', '-', executable]);
  }
  await rm(blob);
  return { bundle, executable };
}

/**
 * How the agent is bundled (also used by bench/service.bench.ts to price modules as shipped):
 * one CommonJS file for Node 24; `assets` collects the files the code reads beside itself.
 */
export function bundleOptions(assets: Set<string>, agentVersion?: string): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    plugins: [
      assetUrls(assets),
      ...(agentVersion === undefined ? [] : [versionOverride(agentVersion)]),
    ],
    // Whitespace and syntax only (names stay, for stack traces). V8 keeps the script's source in
    // the heap; without comments it is smaller and Latin-1, so one byte a character, not two.
    minifyWhitespace: true,
    minifySyntax: true,
    charset: 'ascii',
    legalComments: 'none',
    logLevel: 'silent',
  };
}

/** The binary of the `node` devDependency (the version package.json pins). */
function pinnedNode(): string {
  return join(root, 'node_modules/node/bin', process.platform === 'win32' ? 'node.exe' : 'node');
}

/** Bundles the repository's package.json with `version` in place of its own. */
function versionOverride(version: string): Plugin {
  const packageJson = join(root, 'package.json');
  return {
    name: 'hallpass-agent-version',
    setup(plugin) {
      plugin.onLoad({ filter: /package\.json$/ }, async (args) => {
        if (resolve(args.path) !== packageJson) {
          return undefined;
        }
        const manifest = JSON.parse(await readFile(args.path, 'utf8')) as Record<string, unknown>;
        return { contents: JSON.stringify({ ...manifest, version }), loader: 'json' };
      });
    },
  };
}

// `new URL('<relative path>', import.meta.url)`: the only use of import.meta the bundle allows.
const ASSET_URL = /new URL\(\s*'(\.{1,2}\/[^']+)',\s*import\.meta\.url\s*\)/g;

/**
 * Rewrites import.meta.url in the agent's own modules to `hallpass-asset:///<path from the
 * repository root>` (agent/core/assets.ts) and collects the files they address. Any other use of
 * import.meta fails the build: in a CommonJS bundle it would silently be undefined.
 */
function assetUrls(assets: Set<string>): Plugin {
  return {
    name: 'hallpass-asset-urls',
    setup(plugin) {
      plugin.onLoad({ filter: /\.ts$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!source.includes('import.meta')) {
          return undefined;
        }
        const path = relative(root, args.path).split('\\').join('/');
        for (const match of source.matchAll(ASSET_URL)) {
          assets.add(
            relative(root, resolve(dirname(args.path), match[1] ?? ''))
              .split('\\')
              .join('/'),
          );
        }
        const rest = source.replace(ASSET_URL, '');
        if (rest.includes('import.meta')) {
          throw new Error(
            `${path}: import.meta is only supported as new URL('./file', import.meta.url)`,
          );
        }
        return {
          contents: source.replaceAll(
            'import.meta.url',
            JSON.stringify(`hallpass-asset:///${path}`),
          ),
          loader: 'ts',
        };
      });
    },
  };
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const onlyBundle = process.argv.includes('--bundle-only');
  const built = await buildAgent({ sea: !onlyBundle });
  for (const file of [built.bundle, built.executable]) {
    if (file !== null) {
      process.stdout.write(`wrote ${relative(process.cwd(), file)}\n`);
    }
  }
}
