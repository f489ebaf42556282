// The macOS installer's parts, checked here since only the final pkgbuild needs a Mac: the
// launchd plists and the configuration profile must be plists plistutil accepts, the profile's
// settings payload must carry exactly the managed settings the agent reads (through the agent's
// own parser), and every path and label must agree across plists, profile, scripts and agent.
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentConfigSchema,
  defaultAgentConfig,
  PLATFORM_PATHS,
} from '../../../agent/core/config/agent-config.ts';
import { parseDarwinManagedSettings } from '../../../agent/core/config/managed/darwin.ts';
import { MANAGED_KEYS } from '../../../agent/core/config/managed/managed-settings.ts';
import { validate } from '../../../shared/index.ts';
import { parsePlistXml, readPlist, type PlistDict, type PlistValue } from '../../helpers/plist.ts';

const execFileAsync = promisify(execFile);
const dir = new URL('../../../installers/macos/', import.meta.url).pathname;
const AGENT_EXECUTABLE = '/Library/Hallpass/hallpass';

const asDict = (value: PlistValue | undefined): PlistDict => {
  if (
    typeof value !== 'object' ||
    Array.isArray(value) ||
    value instanceof Date ||
    Buffer.isBuffer(value)
  ) {
    throw new Error('expected a dict');
  }
  return value;
};
const asArray = (value: PlistValue | undefined): PlistValue[] => {
  if (!Array.isArray(value)) {
    throw new Error('expected an array');
  }
  return value;
};

let scratch = '';
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hallpass-plist-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('plist checking (the check can fail)', () => {
  it.each([
    ['not a plist', 'garbage\n'],
    ['an unclosed dict', '<?xml version="1.0"?><plist version="1.0"><dict><key>a</key></plist>'],
    [
      'a key given twice',
      '<?xml version="1.0"?><plist version="1.0"><dict><key>a</key><true/><key>a</key><false/></dict></plist>',
    ],
  ])('refuses %s', async (_name, text) => {
    const path = join(scratch, 'bad.plist');
    await writeFile(path, text);
    await expect(readPlist(path)).rejects.toThrow();
  });

  it('reads every plist type', () => {
    expect(
      parsePlistXml(
        '<plist version="1.0"><dict><key>s</key><string>a &amp; b</string><key>i</key><integer>-3</integer>' +
          '<key>t</key><true/><key>a</key><array><false/><real>1.5</real></array><key>e</key><dict/></dict></plist>',
      ),
    ).toEqual({ s: 'a & b', i: -3, t: true, a: [false, 1.5], e: {} });
  });
});

describe('launchd plists', () => {
  it('the LaunchDaemon runs `hallpass service` as root at boot and keeps it running', async () => {
    const daemon = asDict(await readPlist(join(dir, 'org.hallpass.agent.plist')));
    expect(daemon).toMatchObject({
      Label: 'org.hallpass.agent',
      ProgramArguments: [AGENT_EXECUTABLE, 'service'],
      RunAtLoad: true,
      KeepAlive: true,
    });
    // No UserName: launchd runs daemons as root, which the service needs.
    expect(daemon.UserName).toBeUndefined();
    expect(Number(daemon.ThrottleInterval)).toBeGreaterThanOrEqual(10);
  });

  it('the LaunchAgent starts the tray in every graphical session, again after a crash', async () => {
    const agent = asDict(await readPlist(join(dir, 'org.hallpass.tray.plist')));
    expect(agent).toMatchObject({
      Label: 'org.hallpass.tray',
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      LimitLoadToSessionType: 'Aqua',
    });
    expect(asArray(agent.ProgramArguments)[0]).toMatch(
      /^\/Applications\/.+\.app\/Contents\/MacOS\//,
    );
  });
});

describe('hallpass.mobileconfig', async () => {
  const profile = asDict(await readPlist(join(dir, 'hallpass.mobileconfig')));
  const payloads = asArray(profile.PayloadContent).map(asDict);
  const byType = (type: string): PlistDict => {
    const found = payloads.find((p) => p.PayloadType === type);
    if (found === undefined) {
      throw new Error(`no ${type} payload`);
    }
    return found;
  };

  it('is a device-level configuration profile with unique identifiers', () => {
    expect(profile).toMatchObject({
      PayloadType: 'Configuration',
      PayloadScope: 'System',
      PayloadVersion: 1,
    });
    const all = [profile, ...payloads];
    const uuids = all.map((p) => p.PayloadUUID);
    for (const uuid of uuids) {
      expect(uuid).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    }
    expect(new Set(uuids).size).toBe(all.length);
    const identifiers = all.map((p) => p.PayloadIdentifier);
    expect(new Set(identifiers).size).toBe(all.length);
  });

  it('sets exactly the managed settings the agent reads, with values its schema accepts', () => {
    const settingsPayload = byType('org.hallpass.agent');
    const settings = Object.fromEntries(
      Object.entries(settingsPayload).filter(([key]) => !key.startsWith('Payload')),
    );
    expect(Object.keys(settings).sort()).toEqual([...MANAGED_KEYS].sort());
    // macOS writes these keys to /Library/Managed Preferences/org.hallpass.agent.plist; the agent
    // reads that through `plutil -convert json` and its own parser.
    const read = parseDarwinManagedSettings(JSON.stringify(settingsPayload));
    expect(read).toEqual(settings);
    const checked = validate(AgentConfigSchema, { ...defaultAgentConfig('darwin'), ...read });
    expect(checked.ok, JSON.stringify(checked)).toBe(true);
  });

  it('grants the signed agent executable Full Disk Access (PPPC)', () => {
    const pppc = byType('com.apple.TCC.configuration-profile-policy');
    const services = asDict(pppc.Services);
    const [entry] = asArray(services.SystemPolicyAllFiles).map(asDict);
    expect(entry).toMatchObject({
      Identifier: AGENT_EXECUTABLE,
      IdentifierType: 'path',
      Authorization: 'Allow',
    });
    expect(entry?.CodeRequirement).toContain('identifier "org.hallpass.agent"');
    expect(entry?.CodeRequirement).toContain('certificate leaf[subject.OU] = "TEAMIDXXXX"');
  });

  it('makes the service and tray managed login items, by the labels the plists use', async () => {
    const rules = asArray(byType('com.apple.servicemanagement').Rules).map(asDict);
    const labels = rules.filter((r) => r.RuleType === 'Label').map((r) => r.RuleValue);
    const daemon = asDict(await readPlist(join(dir, 'org.hallpass.agent.plist')));
    const tray = asDict(await readPlist(join(dir, 'org.hallpass.tray.plist')));
    expect(labels.sort()).toEqual([daemon.Label, tray.Label].sort());
  });
});

describe('pkg scripts and build script', () => {
  const scripts = ['scripts/preinstall', 'scripts/postinstall', 'uninstall.sh'];

  it.each(scripts)('%s is POSIX sh that shellcheck passes', async (script) => {
    await expect(
      execFileAsync('shellcheck', ['-s', 'sh', join(dir, script)], { timeout: 120_000 }),
    ).resolves.toBeDefined();
  });

  it('build-pkg.sh is bash that shellcheck passes', async () => {
    await expect(
      execFileAsync('shellcheck', [join(dir, 'build-pkg.sh')], { timeout: 120_000 }),
    ).resolves.toBeDefined();
  });

  it('agree with the plists and the agent on every path', async () => {
    const postinstall = await readFile(join(dir, 'scripts/postinstall'), 'utf8');
    const build = await readFile(join(dir, 'build-pkg.sh'), 'utf8');
    const uninstall = await readFile(join(dir, 'uninstall.sh'), 'utf8');
    // The folder the agent reads agent.json from and keeps its state in.
    const data = PLATFORM_PATHS.darwin.configFile.replace(/\/agent\.json$/, '');
    expect(PLATFORM_PATHS.darwin.stateDir).toBe(`${data}/state`);
    expect(postinstall).toContain(`DATA="$TARGET${data}"`);
    expect(postinstall).toContain('/bin/chmod 0700 "$DATA" "$DATA/state"');
    expect(postinstall).toContain('/bin/chmod 0600 "$DATA/agent.json"');
    expect(uninstall).toContain(`"${data}"`);
    // The executable the LaunchDaemon and the PPPC payload name is the one the pkg installs.
    expect(build).toContain(`"$ROOT${AGENT_EXECUTABLE}"`);
    expect(build).toContain('--identifier org.hallpass.agent ');
    for (const plist of ['org.hallpass.agent.plist', 'org.hallpass.tray.plist']) {
      expect(build).toContain(plist);
      expect(postinstall).toContain(plist);
    }
  });
});
