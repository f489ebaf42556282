// Builds the real MSI (wixl, with the real Windows agent executable and the service wrapper from
// npm) and reads it back with msiinfo, as Windows Installer will read it: the files it lays down,
// the service it registers, the properties msiexec takes, how it upgrades, and when the
// configuration runs. Nothing here can run msiexec; the table rows are what it would act on.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Language, Parser } from 'web-tree-sitter';
import { AgentConfigSchema, PLATFORM_PATHS } from '../../../agent/core/config/agent-config.ts';
import { buildAgent } from '../../../scripts/build-agent.ts';
import { buildMsi, msiVersion, PUBLIC_PROPERTIES } from '../../../scripts/build-msi.ts';
import { inspectExecutable } from '../../../scripts/sea-executable.ts';

const execFileAsync = promisify(execFile);
const repo = new URL('../../../', import.meta.url);
const UPGRADE_CODE = '{39A6B517-FF02-4715-9EC5-583CBAA547A7}';

/** One table of the MSI as rows keyed by column name (msiinfo's export: names, types, key). */
async function table(msi: string, name: string): Promise<Record<string, string>[]> {
  const { stdout } = await execFileAsync('msiinfo', ['export', msi, name], {
    timeout: 120_000,
    maxBuffer: 8 << 20,
  });
  const [header, , , ...rows] = stdout.split(/\r?\n/);
  const columns = (header ?? '').split('\t');
  return rows
    .filter((row) => row !== '')
    .map((row) => Object.fromEntries(row.split('\t').map((value, i) => [columns[i] ?? '', value])));
}

/** The Property table as name → value. */
async function propertiesOf(msi: string): Promise<Record<string, string>> {
  const rows = await table(msi, 'Property');
  return Object.fromEntries(
    rows.map((row): [string, string] => [row.Property ?? '', row.Value ?? '']),
  );
}

let out = '';
let msi = '';
let agentExe = '';
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'hallpass-msi-'));
  const agent = await buildAgent({
    outDir: join(out, 'agent'),
    target: { os: 'windows', arch: 'x64' },
  });
  agentExe = agent.executable ?? '';
  msi = await buildMsi({ agentExe, outDir: join(out, 'msi') });
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('hallpass.msi (wixl)', () => {
  it('is a per-machine x64 package whose embedded files include the agent as built', async () => {
    const { stdout } = await execFileAsync('msiinfo', ['suminfo', msi], { timeout: 60_000 });
    expect(stdout).toMatch(/^Template: x64;1033$/m);
    const properties = await propertiesOf(msi);
    expect(properties.ALLUSERS).toBe('1');
    const files = await table(msi, 'File');
    expect(files.map((f) => f.FileName).sort()).toEqual([
      'configure-install.ps1',
      'hallpass-service.exe',
      'hallpass-service.exe.config',
      'hallpass-service.xml',
      'hallpass.exe',
    ]);
    const directories = await table(msi, 'Directory');
    expect(directories).toContainEqual(
      expect.objectContaining({
        Directory: 'INSTALLDIR',
        Directory_Parent: 'ProgramFiles64Folder',
        DefaultDir: 'Hallpass',
      }),
    );
    // The cabinet holds the very executable built: extract it and read its blob back.
    const extracted = join(out, 'extracted');
    await execFileAsync('msiextract', ['-C', extracted, msi], { timeout: 600_000 });
    const shipped = await readFile(join(extracted, 'Hallpass/hallpass.exe'));
    expect(shipped.equals(await readFile(agentExe))).toBe(true);
    expect(inspectExecutable(shipped)).toMatchObject({ format: 'pe', fuse: 'flipped' });
  });

  it('registers an automatic LocalSystem service run by the wrapper, started on install', async () => {
    const [service] = await table(msi, 'ServiceInstall');
    expect(service).toMatchObject({
      Name: 'Hallpass',
      ServiceType: '16', // SERVICE_WIN32_OWN_PROCESS
      StartType: '2', // SERVICE_AUTO_START
      ErrorControl: '1',
      StartName: '', // LocalSystem
      Component_: 'AgentService',
    });
    // The service's image is its component's key file: the wrapper, not the Node program.
    const components = await table(msi, 'Component');
    expect(components.find((c) => c.Component === 'AgentService')?.KeyPath).toBe('ServiceWrapper');
    const [control] = await table(msi, 'ServiceControl');
    // msidbServiceControlEvent: Start on install (1), Stop on install (2) and on uninstall
    // (0x20), Delete on uninstall (0x80).
    expect(Number(control?.Event)).toBe(0x1 | 0x2 | 0x20 | 0x80);
    expect(control?.Wait).toBe('1');
    const wrapperXml = await readFile(
      new URL('installers/windows/hallpass-service.xml', repo),
      'utf8',
    );
    expect(wrapperXml).toMatch(/<id>Hallpass<\/id>/);
    expect(wrapperXml).toMatch(/<executable>%BASE%\\hallpass\.exe<\/executable>/);
    expect(wrapperXml).toMatch(/<arguments>service<\/arguments>/);
  });

  it('starts the tray for every user from HKLM Run', async () => {
    const [run] = await table(msi, 'Registry');
    expect(run).toMatchObject({
      Root: '2', // HKLM
      Key: 'SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run',
      Name: 'Hallpass Tray',
      Value: '"[TRAYDIR]Hallpass Tray.exe"',
    });
    const components = await table(msi, 'Component');
    // msidbComponentAttributes64bit: the 64-bit view, not WOW6432Node.
    const tray = components.find((c) => c.Component === 'TrayAutostart');
    expect(Number(tray?.Attributes) & 0x100).toBe(0x100);
  });

  it('takes SERVER_URL and ENROLL_TOKEN, keeps the token out of logs, configures before start', async () => {
    const properties = await propertiesOf(msi);
    const secure = (properties.SecureCustomProperties ?? '').split(';');
    for (const name of PUBLIC_PROPERTIES) {
      expect(secure).toContain(name);
    }
    expect(properties.MsiHiddenProperties).toBe('ENROLL_TOKEN');
    const actions = await table(msi, 'CustomAction');
    const configure = actions.find((a) => a.Action === 'ConfigureHallpass');
    const type = Number(configure?.Type);
    expect(type & 0x3f).toBe(50); // an exe named by a property
    expect(type & 0x400).toBe(0x400); // deferred (in-script)
    expect(type & 0x800).toBe(0x800); // no impersonation: runs as SYSTEM
    expect(type & 0x2000).toBe(0x2000); // HideTarget: the command line is never logged
    expect(type & 0x40).toBe(0); // its failure fails the install
    expect(configure?.Target).toContain('"value:[SERVER_URL]"');
    expect(configure?.Target).toContain('"value:[ENROLL_TOKEN]"');
    const powershell = actions.find((a) => a.Action === 'SetPowerShellPath');
    expect(powershell?.Target).toBe('[System64Folder]WindowsPowerShell\\v1.0\\powershell.exe');
    const sequence = Object.fromEntries(
      (await table(msi, 'InstallExecuteSequence')).map(
        (row): [string, { at: number; condition: string }] => [
          row.Action ?? '',
          { at: Number(row.Sequence), condition: row.Condition ?? '' },
        ],
      ),
    );
    const at = (action: string): number => sequence[action]?.at ?? Number.NaN;
    expect(at('ConfigureHallpass')).toBeGreaterThan(at('InstallServices'));
    expect(at('ConfigureHallpass')).toBeLessThan(at('StartServices'));
    expect(sequence.ConfigureHallpass?.condition).toBe('NOT REMOVE~="ALL"');
    expect(at('SetPowerShellPath')).toBeGreaterThan(at('CostFinalize'));
    expect(at('SetPowerShellPath')).toBeLessThan(at('InstallInitialize'));
  });

  it('upgrades by one stable UpgradeCode, removing the old version first, refusing downgrades', async () => {
    const properties = await propertiesOf(msi);
    expect(properties.UpgradeCode).toBe(UPGRADE_CODE);
    expect(properties.ProductCode).toMatch(/^\{[0-9A-F-]{36}\}$/);
    const upgrades = await table(msi, 'Upgrade');
    expect(upgrades.every((u) => u.UpgradeCode === UPGRADE_CODE)).toBe(true);
    const older = upgrades.find((u) => u.ActionProperty === 'WIX_UPGRADE_DETECTED');
    expect(older).toMatchObject({ VersionMin: '', VersionMax: properties.ProductVersion });
    const newer = upgrades.find((u) => u.ActionProperty === 'WIX_DOWNGRADE_DETECTED');
    expect(Number(newer?.Attributes) & 0x2).toBe(0x2); // OnlyDetect
    const launch = await table(msi, 'LaunchCondition');
    expect(launch.map((l) => l.Condition)).toContain('NOT WIX_DOWNGRADE_DETECTED');
    const sequence = await table(msi, 'InstallExecuteSequence');
    const at = (action: string): number =>
      Number(sequence.find((row) => row.Action === action)?.Sequence);
    expect(at('RemoveExistingProducts')).toBeGreaterThan(at('InstallValidate'));
    expect(at('RemoveExistingProducts')).toBeLessThan(at('InstallInitialize'));
  });

  it('a second build is a new product of the same upgrade family', async () => {
    const again = await buildMsi({ agentExe, outDir: join(out, 'msi-again'), version: '0.1.1' });
    const first = await propertiesOf(msi);
    const second = await propertiesOf(again);
    expect(second.UpgradeCode).toBe(first.UpgradeCode);
    expect(second.ProductCode).not.toBe(first.ProductCode);
    expect(second.ProductVersion).toBe('0.1.1');
  });
});

describe('msiVersion', () => {
  it.each([
    ['0.1.0', '0.1.0'],
    ['1.2.3-beta.1', '1.2.3'],
  ])('%s → %s', (given, expected) => {
    expect(msiVersion(given)).toBe(expected);
  });
  it.each(['1.2', '256.0.0', '1.0.65536', 'x'])('refuses %s', (given) => {
    expect(() => msiVersion(given)).toThrow();
  });
});

describe('configure-install.ps1 (run by the MSI as SYSTEM)', async () => {
  await Parser.init();
  const parser = new Parser();
  parser.setLanguage(
    await Language.load(
      new URL('node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm', repo).pathname,
    ),
  );
  const source = await readFile(new URL('installers/windows/configure-install.ps1', repo), 'utf8');
  const code = source
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, ''))
    .join('\n');

  it('parses and uses no PowerShell 7-only syntax', () => {
    expect(parser.parse(source)?.rootNode.hasError).toBe(false);
    for (const pattern of [/\?\?/, /\?\./, /&&|\|\|/, /-AsHashtable/i]) {
      expect(pattern.test(code), String(pattern)).toBe(false);
    }
  });

  it('locks the data folder to SYSTEM and Administrators by SID and sets the recovery', () => {
    expect(code).toContain(
      "/inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F'",
    );
    expect(code).toContain("/setowner '*S-1-5-32-544'");
    expect(code).toMatch(/sc\.exe failure Hallpass reset= 86400 actions= restart\/\d+/);
    // Every native command's exit code is checked: a failure fails the install.
    const natives = code.match(/^& (icacls|sc)\.exe/gm) ?? [];
    const checks = code.match(/if \(\$LASTEXITCODE -ne 0\) \{ throw/g) ?? [];
    expect(natives.length).toBe(4);
    expect(checks.length).toBe(natives.length);
  });

  it('uses the folder and file names the agent reads on Windows', () => {
    // %ProgramData% is C:\ProgramData on every supported Windows; the agent's paths are fixed.
    const data = 'C:\\ProgramData\\Hallpass';
    expect(PLATFORM_PATHS.windows.configFile).toBe(`${data}\\agent.json`);
    expect(PLATFORM_PATHS.windows.stateDir).toBe(`${data}\\state`);
    expect(code).toContain("$dataDir = Join-Path $env:ProgramData 'Hallpass'");
    expect(code).toContain("$configFile = Join-Path $dataDir 'agent.json'");
    for (const key of ['serverUrl', 'enrolmentToken']) {
      expect(Object.keys(AgentConfigSchema.properties)).toContain(key);
    }
  });

  it('writes the keys the agent reads from agent.json, and no token to an enrolled device', () => {
    expect(code).toContain("$settings['serverUrl'] = $ServerUrl");
    expect(code).toContain("$settings['enrolmentToken'] = $EnrollToken");
    expect(code).toMatch(/-not \(Test-Path -LiteralPath \$credential\)/);
    expect(code).toContain("'state\\device-credential.dpapi'");
  });
});
