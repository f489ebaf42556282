import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultAgentConfig, loadAgentConfig } from '../../../../agent/core/config/agent-config.ts';
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
