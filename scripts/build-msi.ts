// Builds the Windows installer, dist/installers/hallpass-<version>-x64.msi, on Linux with wixl
// (msitools): the Windows agent executable (build-agent.ts, target windows-x64), the service
// wrapper, and installers/windows/hallpass.wxs. `npm run build:msi` (or `-- --agent PATH` to
// package an hallpass.exe built before).
//
// The service wrapper is WinSW 1.17, as the node-windows package on npm ships it (the registry is
// the only network the build may use): a Node program cannot answer the service control manager,
// WinSW does and runs `hallpass.exe service`. It is an unsigned .NET 4 executable; it is signed
// with the rest on the Windows build machine (installers/windows/README.md, "Code signing").
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { buildAgent } from './build-agent.ts';
import { npmPackageFolder } from './node-binaries.ts';

const execFileAsync = promisify(execFile);
const root = resolve(import.meta.dirname, '..');

/** The wxs and the files it names by relative path (configure-install.ps1, the WinSW XML). */
export const WINDOWS_INSTALLER_DIR = join(root, 'installers/windows');

/** Where WinSW comes from: node-windows on npm, at a pinned version. */
export const SERVICE_WRAPPER = {
  package: 'node-windows',
  version: '0.1.14',
  exe: 'bin/winsw/winsw.exe',
  config: 'bin/winsw/winsw.exe.config',
} as const;

/** The properties msiexec takes on its command line (installers/windows/README.md). */
export const PUBLIC_PROPERTIES = ['SERVER_URL', 'ENROLL_TOKEN', 'TRAYDIR'] as const;

// msidbCustomActionTypeHideTarget: Windows Installer then never logs the action's command line,
// which holds ENROLL_TOKEN. wixl has no attribute for it, so it is set on the built table.
const HIDE_TARGET = 0x2000;

/** An MSI ProductVersion: major.minor.build, each within the limits Windows Installer allows. */
export function msiVersion(version: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (match === null) {
    throw new Error(`${version}: not a major.minor.patch version`);
  }
  const [major, minor, build] = match.slice(1).map(Number) as [number, number, number];
  if (major > 255 || minor > 255 || build > 65535) {
    throw new Error(`${version}: an MSI version allows at most 255.255.65535`);
  }
  return `${String(major)}.${String(minor)}.${String(build)}`;
}

/**
 * Builds the MSI; `agentExe` is a built hallpass.exe, else one is built now; `serviceWrapper` a
 * WinSW executable (a signed copy), else node-windows' own.
 */
export async function buildMsi(
  options: { agentExe?: string; serviceWrapper?: string; outDir?: string; version?: string } = {},
): Promise<string> {
  const outDir = resolve(options.outDir ?? join(root, 'dist/installers'));
  await mkdir(outDir, { recursive: true });
  const packageJson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  const version = msiVersion(options.version ?? packageJson.version);
  const agentExe =
    options.agentExe ??
    (
      await buildAgent({
        outDir: join(root, 'dist/agent/windows-x64'),
        target: { os: 'windows', arch: 'x64' },
      })
    ).executable;
  if (agentExe === null) {
    throw new Error('the Windows agent executable was not built');
  }
  const wrapper = await npmPackageFolder(
    SERVICE_WRAPPER.package,
    SERVICE_WRAPPER.version,
    SERVICE_WRAPPER.exe,
  );
  const msi = join(outDir, `hallpass-${version}-x64.msi`);
  await rm(msi, { force: true });
  // wixl takes sources by relative path only: everything the wxs names goes into one folder.
  const stage = join(outDir, 'msi-stage');
  await rm(stage, { recursive: true, force: true });
  await mkdir(stage);
  for (const name of await readdir(WINDOWS_INSTALLER_DIR)) {
    if (/\.(wxs|ps1|xml)$/.test(name)) {
      await copyFile(join(WINDOWS_INSTALLER_DIR, name), join(stage, name));
    }
  }
  await copyFile(agentExe, join(stage, 'hallpass.exe'));
  await copyFile(
    options.serviceWrapper ?? join(wrapper, SERVICE_WRAPPER.exe),
    join(stage, 'hallpass-service.exe'),
  );
  await copyFile(join(wrapper, SERVICE_WRAPPER.config), join(stage, 'hallpass-service.exe.config'));
  await execFileAsync(
    'wixl',
    ['--arch', 'x64', '-D', `Version=${version}`, '-o', msi, 'hallpass.wxs'],
    { cwd: stage, timeout: 600_000, maxBuffer: 8 << 20 },
  );
  await rm(stage, { recursive: true, force: true });
  const { stdout } = await execFileAsync('msiinfo', ['export', msi, 'CustomAction'], {
    timeout: 60_000,
  });
  const row = stdout.split(/\r?\n/).find((line) => line.startsWith('ConfigureHallpass\t'));
  const type = Number(row?.split('\t')[1]);
  if (!Number.isInteger(type)) {
    throw new Error(`${msi}: no ConfigureHallpass custom action to hide`);
  }
  const properties = await execFileAsync('msiinfo', ['export', msi, 'Property'], {
    timeout: 60_000,
  });
  const secure = properties.stdout
    .split(/\r?\n/)
    .find((line) => line.startsWith('SecureCustomProperties\t'))
    ?.split('\t')[1];
  const secured = [...new Set([...(secure ?? '').split(';'), ...PUBLIC_PROPERTIES])]
    .filter((name) => name !== '')
    .join(';');
  for (const query of [
    `UPDATE CustomAction SET Type = ${String(type | HIDE_TARGET)} WHERE Action = 'ConfigureHallpass'`,
    secure === undefined
      ? `INSERT INTO Property (Property, Value) VALUES ('SecureCustomProperties', '${secured}')`
      : `UPDATE Property SET Value = '${secured}' WHERE Property = 'SecureCustomProperties'`,
  ]) {
    await execFileAsync('msibuild', [msi, '-q', query], { timeout: 60_000 });
  }
  return msi;
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  // `--agent PATH` / `--wrapper PATH`: package executables signed on the Windows build machine.
  const option = (name: string): string | undefined => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const msi = await buildMsi({ agentExe: option('--agent'), serviceWrapper: option('--wrapper') });
  process.stdout.write(`wrote ${relative(process.cwd(), msi)}\n`);
}
