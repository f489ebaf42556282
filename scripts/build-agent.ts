// Packages the agent CLI (`hallpass`, incl. `hallpass service`) as one executable: esbuild bundles
// agent/cli.ts and its dependencies into one CommonJS file, then Node's single-executable-application
// support (Node 24: `--experimental-sea-config`, blob injected with postject) puts it into a copy of
// the pinned `node` devDependency's binary (ARCHITECTURE.md: same Node major as the tray's Electron).
// `npm run build:agent` → dist/agent/hallpass.cjs (+ assets/) and dist/agent/hallpass.
//
// Files the code reads beside itself (`new URL('./windows.ps1', import.meta.url)`) become SEA
// assets: the bundle gives each module an import.meta.url of `hallpass-asset:///<path>` and
// agent/core/assets.ts reads those with `sea.getAsset` (or from assets/ beside a bare bundle).
//
// `--target windows-x64` (or `darwin-arm64`, `darwin-x64`, `all`) packages the same bundle into
// the official Node binary of that OS, fetched from the npm registry (scripts/node-binaries.ts):
// the blob holds only the script and assets (no snapshot, no code cache), so the pinned Node makes
// it here for any OS, and postject injects into PE and Mach-O files as it does into ELF. Every
// foreign executable is read back (scripts/sea-executable.ts) before the build says it wrote it.
// `--node-version 24.18.1` packages that release instead of the pinned one, for a target the
// registry lacks the pinned release for (macOS): this machine's binary of the same release makes
// the blob: Node promises no blob compatibility between releases (one made by 24.21.0 did run in
// 24.18.1 here, once; nothing says the next pair will).
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import {
  FOREIGN_TARGETS,
  NodeBinaryUnavailable,
  officialNodeBinary,
  parseTarget,
  pinnedNodeVersion,
  targetName,
  type SeaTarget,
} from './node-binaries.ts';
import { inspectExecutable, SEA_FUSE } from './sea-executable.ts';

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
    /**
     * Another OS to package for: its official Node binary of the pinned version is fetched
     * (unless `nodeBinary` is given) and the result is checked to carry the blob.
     */
    target?: SeaTarget;
    /** The version the agent reports; default: package.json's (tests build "newer" builds). */
    agentVersion?: string;
    /**
     * The Node release to package instead of the pinned one, same major only: for a target whose
     * pinned release the registry lacks (macOS, December 2026). That release's binary for the
     * target and for this machine are both fetched, and this machine's makes the blob, so the
     * blob is always read by the release that wrote it (Node promises nothing across releases).
     */
    nodeVersion?: string;
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
  const target = options.target ?? hostTarget();
  const foreign = targetName(target) !== targetName(hostTarget());
  const pinned = await pinnedNodeVersion(root);
  const version = options.nodeVersion ?? pinned;
  checkNodeVersion(version, pinned);
  const official = (of: SeaTarget): Promise<string> => officialNodeBinary(of, version);
  const base =
    options.nodeBinary ?? (foreign || version !== pinned ? await official(target) : pinnedNode());
  // A foreign binary cannot run here: this machine's Node of the same release makes the blob.
  const node = !foreign ? base : version === pinned ? pinnedNode() : await official(hostTarget());
  const executable = join(outDir, target.os === 'windows' ? 'hallpass.exe' : 'hallpass');
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
  await copyFile(base, executable);
  await chmod(executable, 0o755);
  // Only a Mac can sign: elsewhere a Mach-O leaves with Node's signature broken by the injection
  // and is signed on a Mac (installers/macos/README.md, "Code signing").
  const signHere = process.platform === 'darwin' && target.os === 'darwin';
  if (signHere) {
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
      SEA_FUSE,
      ...(target.os === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : []),
    ],
    { stdio: 'pipe' },
  );
  if (signHere) {
    execFileSync('codesign', ['--sign', '-', executable]);
  }
  if (target.os !== 'linux') {
    const carried = inspectExecutable(await readFile(executable));
    const expected = await readFile(blob);
    if (carried.blob === null || !carried.blob.equals(expected) || carried.fuse !== 'flipped') {
      throw new Error(`${executable}: the injected SEA blob is missing or differs after postject`);
    }
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

/** The OS and CPU this build runs on. */
function hostTarget(): SeaTarget {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const arch = process.arch;
  if (
    (os !== 'linux' && os !== 'windows' && os !== 'darwin') ||
    (arch !== 'x64' && arch !== 'arm64')
  ) {
    throw new Error(`cannot package the agent on ${process.platform}-${process.arch}`);
  }
  return { os, arch };
}

/**
 * Refuses a release the bundle was not built for: it targets the pinned major (esbuild's
 * `target`, Node's APIs), and a version that is not plain `major.minor.patch` names no package.
 */
export function checkNodeVersion(version: string, pinned: string): void {
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(version)) {
    throw new Error(`--node-version ${version}: expected a release such as 24.18.1`);
  }
  if (version.split('.')[0] !== pinned.split('.')[0]) {
    throw new Error(
      `--node-version ${version}: the agent is built for Node ${pinned.split('.')[0] ?? ''}.x ` +
        `(pinned ${pinned}); another major is not supported`,
    );
  }
}

/** `--node-version 24.18.1` (or `--node-version=24.18.1`); null when not given. */
export function requestedNodeVersion(argv: readonly string[]): string | null {
  let found: string | null = null;
  for (const [index, arg] of argv.entries()) {
    if (arg === '--node-version') {
      found = argv[index + 1] ?? '';
    } else if (arg.startsWith('--node-version=')) {
      found = arg.slice('--node-version='.length);
    }
  }
  return found;
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

/**
 * The targets `--target` names (repeatable or comma-separated; `all` = this machine's OS and
 * every foreign one); none given = this machine only.
 */
export function requestedTargets(argv: readonly string[]): SeaTarget[] | null {
  const names: string[] = [];
  argv.forEach((arg, index) => {
    if (arg === '--target') {
      names.push(...(argv[index + 1] ?? '').split(','));
    } else if (arg.startsWith('--target=')) {
      names.push(...arg.slice('--target='.length).split(','));
    }
  });
  if (names.length === 0) {
    return null;
  }
  const targets = names.flatMap((name) => {
    if (name === 'all') {
      return [hostTarget(), ...FOREIGN_TARGETS];
    }
    const target = parseTarget(name);
    if (target === null) {
      throw new Error(
        `--target ${name}: expected linux-x64, windows-x64, darwin-arm64, darwin-x64 or all`,
      );
    }
    return [target];
  });
  return targets.filter(
    (target, index) => targets.findIndex((t) => targetName(t) === targetName(target)) === index,
  );
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const argv = process.argv.slice(2);
  const onlyBundle = argv.includes('--bundle-only');
  const targets = requestedTargets(argv);
  const nodeVersion = requestedNodeVersion(argv);
  if (nodeVersion !== null) {
    const pinned = await pinnedNodeVersion(root);
    checkNodeVersion(nodeVersion, pinned);
    if (nodeVersion !== pinned) {
      // Said every time: the executables then miss whatever the releases between fixed.
      process.stderr.write(`packaging Node ${nodeVersion}, not the pinned ${pinned}\n`);
    }
  }
  const versionOption = nodeVersion === null ? {} : { nodeVersion };
  if (targets === null) {
    const built = await buildAgent({ sea: !onlyBundle, ...versionOption });
    for (const file of [built.bundle, built.executable]) {
      if (file !== null) {
        process.stdout.write(`wrote ${relative(process.cwd(), file)}\n`);
      }
    }
  } else {
    // Each target in its own folder (dist/agent/windows-x64/hallpass.exe, …); one that cannot be
    // built is named with the reason and the exit status says the set is incomplete.
    let missing = 0;
    for (const target of targets) {
      try {
        const built = await buildAgent({
          outDir: join(root, 'dist/agent', targetName(target)),
          target,
          ...versionOption,
        });
        process.stdout.write(
          `wrote ${relative(process.cwd(), built.executable ?? built.bundle)}\n`,
        );
      } catch (error) {
        if (!(error instanceof NodeBinaryUnavailable)) {
          throw error;
        }
        missing += 1;
        process.stderr.write(`not built: ${targetName(target)}: ${error.message}\n`);
      }
    }
    process.exitCode = missing === 0 ? 0 : 3;
  }
}
