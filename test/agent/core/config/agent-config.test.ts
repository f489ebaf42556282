import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AgentConfigError,
  checkTokenFilePermissions,
  defaultAgentConfig,
  loadAgentConfig,
} from '../../../../agent/core/config/agent-config.ts';
import {
  retireEnrolmentToken,
  USED_TOKENS_FILE,
  wasTokenUsed,
} from '../../../../agent/core/config/enrolment-token.ts';
import { parseDarwinManagedSettings } from '../../../../agent/core/config/managed/darwin.ts';
import { pickManaged } from '../../../../agent/core/config/managed/managed-settings.ts';
import { parseWindowsManagedSettings } from '../../../../agent/core/config/managed/windows.ts';

async function configFile(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hallpass-agent-config-'));
  const file = join(dir, 'agent.json');
  await writeFile(file, content);
  return file;
}

describe('loadAgentConfig', () => {
  it('uses the OS defaults when there is no config file', async () => {
    const config = await loadAgentConfig({
      os: 'linux',
      configFile: '/nonexistent/agent.json',
      managed: {},
      overrides: {},
    });
    expect(config).toEqual(defaultAgentConfig('linux'));
    expect(config.stateDir).toBe('/var/lib/hallpass');
  });

  it('managed settings beat the file, which beats the defaults; flags set the state folder', async () => {
    const file = await configFile(
      JSON.stringify({ serverUrl: 'https://file.example', heartbeatMinutes: 9 }),
    );
    const config = await loadAgentConfig({
      os: 'windows',
      configFile: file,
      managed: { serverUrl: 'https://managed.example' },
      overrides: { stateDir: '/tmp/demo-state' },
    });
    expect(config).toMatchObject({
      serverUrl: 'https://managed.example',
      heartbeatMinutes: 9,
      stateDir: '/tmp/demo-state',
      ipcPath: '\\\\.\\pipe\\hallpass-agent',
    });
  });

  it.each([
    ['a bad URL', { serverUrl: 'ftp://x' }, /agent\.json.*\/serverUrl/],
    ['an unknown key', { severUrl: 'https://x' }, /\/severUrl: unknown key/],
    ['a wrong type', { heartbeatMinutes: 'often' }, /\/heartbeatMinutes/],
  ])('fails fast on %s, naming the key and the file', async (_name, content, message) => {
    const file = await configFile(JSON.stringify(content));
    await expect(
      loadAgentConfig({ os: 'linux', configFile: file, managed: {}, overrides: {} }),
    ).rejects.toThrow(message);
  });

  it('names managed settings as the source of a bad managed value', async () => {
    await expect(
      loadAgentConfig({
        os: 'linux',
        configFile: '/nonexistent',
        managed: { heartbeatMinutes: 0 },
        overrides: {},
      }),
    ).rejects.toThrow(/managed settings/);
  });

  it('a config file that is not JSON is a clear error', async () => {
    const file = await configFile('serverUrl = "https://x"');
    await expect(
      loadAgentConfig({ os: 'linux', configFile: file, managed: {}, overrides: {} }),
    ).rejects.toThrow(/not valid JSON/);
  });
});

describe('managed settings', () => {
  it('keep only the keys policy may set, never local paths', () => {
    expect(
      pickManaged({ serverUrl: 'https://x', stateDir: '/tmp/evil', ipcPath: '/tmp/s' }),
    ).toEqual({ serverUrl: 'https://x' });
  });

  it('read the registry script output (Get-ItemProperty as JSON) on Windows', () => {
    expect(
      parseWindowsManagedSettings(
        '\uFEFF{"serverUrl":"https://hallpass.trust.sch.uk","PSPath":"x"}',
      ),
    ).toEqual({
      serverUrl: 'https://hallpass.trust.sch.uk',
    });
    expect(() => parseWindowsManagedSettings('Zugriff verweigert')).toThrow(/unreadable/);
  });

  it('read plutil JSON on macOS', () => {
    expect(
      parseDarwinManagedSettings('{"serverUrl":"https://h.example","PayloadUUID":"x"}'),
    ).toEqual({ serverUrl: 'https://h.example' });
    expect(() => parseDarwinManagedSettings('<plist>')).toThrow(/unreadable/);
  });
});

describe('a config file holding the enrolment token', () => {
  const token = { serverUrl: 'https://hallpass.example', enrolmentToken: 'hpe_' + 'a'.repeat(40) };

  it.each([0o644, 0o640, 0o604, 0o666])(
    'is refused at mode %o, naming the file and the fix',
    async (mode) => {
      const file = await configFile(JSON.stringify(token));
      await chmod(file, mode);
      const loading = loadAgentConfig({
        os: 'linux',
        configFile: file,
        managed: {},
        overrides: {},
      });
      await expect(loading).rejects.toThrow(AgentConfigError);
      await expect(loading).rejects.toThrow(`chmod 600 ${file}`);
    },
  );

  it('is refused when another user owns it', () => {
    expect(() => {
      checkTokenFilePermissions('/etc/hallpass/agent.json', { uid: 1000, mode: 0o100600 }, 0);
    }).toThrow(/owned by uid 1000.*chown root \/etc\/hallpass\/agent\.json && chmod 600/);
    expect(() => {
      checkTokenFilePermissions('/etc/hallpass/agent.json', { uid: 0, mode: 0o100600 }, 0);
    }).not.toThrow();
  });

  it('is accepted at 0600; a file without a token may stay readable', async () => {
    const secret = await configFile(JSON.stringify(token));
    await chmod(secret, 0o600);
    const config = await loadAgentConfig({
      os: 'linux',
      configFile: secret,
      managed: {},
      overrides: {},
    });
    expect(config.enrolmentToken).toBe(token.enrolmentToken);
    const open = await configFile(JSON.stringify({ serverUrl: token.serverUrl }));
    await chmod(open, 0o644);
    await expect(
      loadAgentConfig({ os: 'linux', configFile: open, managed: {}, overrides: {} }),
    ).resolves.toMatchObject({ enrolmentToken: null });
  });
});

describe('spending the enrolment token', () => {
  const token = 'hpe_' + 'b'.repeat(40);

  it('removes it from the config file (kept 0600, other keys kept) and remembers it as used', async () => {
    const file = await configFile(
      JSON.stringify({
        serverUrl: 'https://hallpass.example',
        enrolmentToken: token,
        logLevel: 'warn',
      }),
    );
    const stateDir = await mkdtemp(join(tmpdir(), 'hallpass-state-'));
    expect(await wasTokenUsed(stateDir, token)).toBe(false);
    expect(await retireEnrolmentToken({ stateDir, configFile: file, token })).toEqual({
      removedFrom: file,
    });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      serverUrl: 'https://hallpass.example',
      logLevel: 'warn',
    });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain(token);
    expect(await wasTokenUsed(stateDir, token)).toBe(true);
    expect(await readFile(join(stateDir, USED_TOKENS_FILE), 'utf8')).not.toContain(token);
    expect((await stat(join(stateDir, USED_TOKENS_FILE))).mode & 0o777).toBe(0o600);
  });

  it('a token from managed settings (not in the file) is only remembered', async () => {
    const file = await configFile(JSON.stringify({ serverUrl: 'https://hallpass.example' }));
    const stateDir = await mkdtemp(join(tmpdir(), 'hallpass-state-'));
    expect(await retireEnrolmentToken({ stateDir, configFile: file, token })).toEqual({
      removedFrom: null,
    });
    expect(await wasTokenUsed(stateDir, token)).toBe(true);
    expect(await wasTokenUsed(stateDir, 'hpe_' + 'c'.repeat(40))).toBe(false);
  });
});
