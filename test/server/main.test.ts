// The server as `hallpass-server` starts it (startServer), seen from the OS: its listening
// socket's accept queue is sized for a storm of devices, not Node's default of 511.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServerConfig } from '../../server/config.ts';
import { LISTEN_BACKLOG, startServer, type RunningServer } from '../../server/main.ts';

describe('startServer', () => {
  let dir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-main-'));
    server = await startServer({
      ...defaultServerConfig,
      host: '127.0.0.1',
      port: 0,
      dataDir: dir,
      logLevel: 'silent',
    });
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens with an accept queue of LISTEN_BACKLOG, as far as the kernel allows', () => {
    const port = new URL(server.url).port;
    // For a listening socket, ss's Send-Q column is the backlog the kernel applied.
    const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
    const sendQ = Number(line.split(/\s+/)[2]);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(sendQ).toBe(Math.min(LISTEN_BACKLOG, somaxconn));
    expect(sendQ).toBeGreaterThan(511);
  });
});
