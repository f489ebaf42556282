import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPglite } from '../../../server/db/pglite.ts';
import { DatabaseInUseError, lockDataDir } from '../../../server/db/pglite-lock.ts';

const folder = async () => join(await mkdtemp(join(tmpdir(), 'hallpass-lock-')), 'data');

/** The pid of a process that has exited: a lock left by a killed server. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
}

const lockText = (pid: number, host = hostname()) =>
  JSON.stringify({ pid, host, since: '2026-01-01T00:00:00.000Z', nonce: 'x' }) + '\n';

describe('PGlite folder lock', () => {
  it('a second opener of an open folder is refused at once, naming the holder; after close it opens', async () => {
    const dir = await folder();
    const db = await openPglite(dir);
    await expect(openPglite(dir)).rejects.toThrow(DatabaseInUseError);
    await expect(openPglite(dir)).rejects.toThrow(`in use by process ${String(process.pid)}`);
    await db.close();
    await expect(stat(`${dir}.lock`)).rejects.toThrow(/ENOENT/);
    const again = await openPglite(dir);
    await again.close();
  });

  it("takes over a lock whose process is gone, and leaves another machine's alone", async () => {
    const dir = await folder();
    await writeFile(`${dir}.lock`, lockText(deadPid()));
    const lock = await lockDataDir(dir);
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    await writeFile(`${dir}.lock`, lockText(deadPid(), 'another-host.example'));
    await expect(lockDataDir(dir)).rejects.toThrow('on another-host.example');
  });

  it('of many openers racing for one stale lock, exactly one wins, round after round', async () => {
    const stale = lockText(deadPid());
    for (let round = 0; round < 20; round++) {
      const dir = await folder();
      await writeFile(`${dir}.lock`, stale);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => lockDataDir(dir)));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won, `round ${String(round)}`).toHaveLength(1);
      for (const lost of results.filter((r) => r.status === 'rejected')) {
        expect(lost.reason).toBeInstanceOf(DatabaseInUseError);
      }
    }
  });

  it('an unreadable lock file is treated as held, never silently removed', async () => {
    const dir = await folder();
    await writeFile(`${dir}.lock`, 'not json');
    await expect(lockDataDir(dir)).rejects.toThrow('in use by another process');
    expect(await readFile(`${dir}.lock`, 'utf8')).toBe('not json');
  });
});
