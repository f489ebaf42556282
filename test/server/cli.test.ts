import { execFile, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = new URL('../../server/cli.ts', import.meta.url).pathname;
const example = new URL('../../agent/core/policy/example-policy.yaml', import.meta.url).pathname;

function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

// No timeouts of their own: each command runs to its end however loaded the machine is, and the
// test's generous limit (vitest.config.ts) only catches a hang.
describe('hallpass-server command', { timeout: 600_000 }, () => {
  it('sets up a school, a group, a token, a policy and an admin on PGlite, then serves and stops on SIGTERM', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'hallpass-cli-')), 'data');
    const at = ['--data-dir', dir];
    expect((await run([...at, 'school', 'create', 'Northgate', 'Primary'])).stdout).toMatch(
      /Northgate Primary/,
    );
    expect((await run([...at, 'group', 'create', 'Pupil laptops'])).code).toBe(0);
    const token = await run([
      ...at,
      'token',
      'create',
      '--school',
      'Northgate Primary',
      '--group',
      'Pupil laptops',
      '--uses',
      '5',
    ]);
    expect(token.stdout).toMatch(/\(shown once\): hpe_[A-Za-z0-9_-]{43}/);
    expect(
      (await run([...at, 'policy', 'upload', '--group', 'Pupil laptops', example])).stdout,
    ).toBe('uploaded Pupil laptops as version 1\n');
    const admin = await run([...at, 'admin', 'create', 'ict.lead']);
    expect(admin.stdout).toMatch(/password \(shown once\): \S{20,}/);
    expect((await run([...at, 'token', 'list'])).stdout).toMatch(/0\/5 uses/);

    const server = spawn(process.execPath, [cli, ...at, '--port', '0', 'serve'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        const match = /"url":"(http:\/\/[^"]+)"/.exec(log);
        if (match?.[1] !== undefined) {
          resolve(match[1]);
        }
      });
      server.on('exit', () => {
        reject(new Error(`server exited: ${log}`));
      });
    });
    const health = (await (await fetch(`${url}/healthz`)).json()) as { database: string };
    expect(health.database).toBe('pglite');
    const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log).toContain('shutting down');
  });

  it('refuses an invalid policy with exit 2, naming the key', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'hallpass-cli-')), 'data');
    const bad = join(dir, '..', 'bad.yaml');
    const { writeFile, readFile } = await import('node:fs/promises');
    await writeFile(
      bad,
      (await readFile(example, 'utf8')).replace('mode: block', 'mode: sometimes'),
    );
    await run(['--data-dir', dir, 'group', 'create', 'G']);
    const result = await run(['--data-dir', dir, 'policy', 'upload', '--group', 'G', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/usb/mode');
  });

  it('a bad setting fails fast naming the key', async () => {
    const result = await run(['serve'], { HALLPASS_PORT: 'eighty' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/port');
  });
});
