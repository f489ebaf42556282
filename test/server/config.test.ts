import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseLocation, defaultServerConfig, loadServerConfig } from '../../server/config.ts';

describe('loadServerConfig', () => {
  it('defaults to loopback and embedded PGlite', async () => {
    const config = await loadServerConfig({}, {});
    expect(config).toEqual(defaultServerConfig);
    expect(databaseLocation(config)).toEqual({ kind: 'pglite', dataDir: '.hallpass-server/data' });
  });

  it('flags beat the environment, which beats the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-config-'));
    const file = join(dir, 'server.json');
    await writeFile(
      file,
      JSON.stringify({ port: 1111, reportRetentionDays: 90, logLevel: 'warn' }),
    );
    const config = await loadServerConfig(
      {
        HALLPASS_PORT: '2222',
        HALLPASS_LOG_LEVEL: 'error',
        DATABASE_URL: 'postgres://h@db/hallpass',
      },
      { config: file, port: '3333' },
    );
    expect(config).toMatchObject({ port: 3333, logLevel: 'error', reportRetentionDays: 90 });
    expect(databaseLocation(config)).toEqual({
      kind: 'postgresql',
      url: 'postgres://h@db/hallpass',
    });
  });

  it.each<[string, NodeJS.ProcessEnv, RegExp]>([
    ['a port that is not a number', { HALLPASS_PORT: 'eighty' }, /\/port/],
    ['an unknown log level', { HALLPASS_LOG_LEVEL: 'loud' }, /\/logLevel/],
    ['a database URL of another kind', { DATABASE_URL: 'mysql://x' }, /\/databaseUrl/],
    [
      'a public address without TLS',
      { HALLPASS_HOST: '0.0.0.0' },
      /\/host: 0\.0\.0\.0 is not loopback, so TLS is required/,
    ],
    [
      'a certificate without a key',
      { HALLPASS_TLS_CERT: '/etc/cert.pem' },
      /tlsCertFile and tlsKeyFile go together/,
    ],
  ])('fails fast on %s, naming the key', async (_name, env, message) => {
    await expect(loadServerConfig(env, {})).rejects.toThrow(message);
  });

  it('rejects an unknown key in the file, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-config-'));
    const file = join(dir, 'server.json');
    await writeFile(file, JSON.stringify({ prot: 8080 }));
    await expect(loadServerConfig({}, { config: file })).rejects.toThrow('/prot: unknown key');
  });

  it('allows plain HTTP on a public address only when told a TLS proxy is in front', async () => {
    const config = await loadServerConfig(
      { HALLPASS_HOST: '0.0.0.0', HALLPASS_ALLOW_PLAIN_HTTP: 'true' },
      {},
    );
    expect(config.host).toBe('0.0.0.0');
  });
});
