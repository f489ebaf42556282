// The real `hallpass-server` command against a real server on the same PGlite folder.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = new URL('../../server/cli.ts', import.meta.url).pathname;

function run(args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Starts `hallpass-server serve` and resolves once it listens. */
function serve(args: string[]) {
  const server = spawn(process.execPath, [cli, ...args, '--port', '0', 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
  let log = '';
  const url = new Promise<string>((resolve, reject) => {
    server.stdout.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(log);
      if (match?.[1] !== undefined) {
        resolve(match[1]);
      }
    });
    void exited.then(() => {
      reject(new Error(`server exited: ${log}`));
    });
  });
  return { server, url, exited };
}

describe('hallpass-server commands while the server runs on the same PGlite folder', () => {
  it('are refused at once with a clear message, write nothing, and work again once the server is gone, even killed', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'hallpass-cli-lock-')), 'data');
    const at = ['--data-dir', dir];
    expect((await run([...at, 'school', 'create', 'Northgate'])).code).toBe(0);
    expect((await run([...at, 'group', 'create', 'Laptops'])).code).toBe(0);

    const first = serve(at);
    await first.url;
    const pid = String(first.server.pid);
    const token = await run([
      ...at,
      'token',
      'create',
      '--school',
      'Northgate',
      '--group',
      'Laptops',
    ]);
    expect(token.code).toBe(2);
    expect(token.stdout).not.toContain('shown once');
    expect(token.stderr).toContain(`is in use by process ${pid}`);
    expect(token.stderr).toContain('stop the server first');
    for (const args of [['token', 'list'], ['school', 'create', 'Other'], ['serve']]) {
      const refused = await run([...at, '--port', '0', ...args]);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr, args.join(' ')).toContain(`in use by process ${pid}`);
    }

    // Killed outright, the server leaves its lock behind; the next command takes it over.
    first.server.kill('SIGKILL');
    await first.exited;
    expect((await stat(`${dir}.lock`)).isFile()).toBe(true);
    const list = await run([...at, 'school', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('Northgate');
    expect(list.stdout).not.toContain('Other');

    // Stopped cleanly, the server removes its lock.
    const second = serve(at);
    await second.url;
    second.server.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await expect(stat(`${dir}.lock`)).rejects.toThrow(/ENOENT/);
    expect((await run([...at, 'token', 'list'])).code).toBe(0);
    // Seven commands and two servers, each a Node process opening PGlite: minutes on a busy machine.
  }, 600_000);
});
