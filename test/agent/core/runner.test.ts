import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UNIX_PROBE_PATH } from '../../../agent/core/probe-environment.ts';
import { execRunner, ProbeError } from '../../../agent/core/runner.ts';

// The real runner, real commands: a PATH and variables planted in the service's own environment
// must not reach a probe (issue 12).
describe.skipIf(process.platform === 'win32')('execRunner environment', () => {
  let planted: string;
  let saved: NodeJS.ProcessEnv;
  beforeEach(async () => {
    saved = { ...process.env };
    planted = await mkdtemp(join(tmpdir(), 'hallpass-fake-bin-'));
    for (const name of ['lsblk', 'nft', 'loginctl', 'env', 'hallpass-only-fake']) {
      await writeFile(join(planted, name), '#!/bin/sh\necho FAKE\n');
      await chmod(join(planted, name), 0o755);
    }
    process.env.PATH = `${planted}:${saved.PATH ?? ''}`;
    process.env.APT_CONFIG = join(planted, 'apt.conf');
    process.env.HALLPASS_PLANTED = 'yes';
  });
  afterEach(async () => {
    for (const key of Object.keys(process.env)) {
      if (!(key in saved)) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- restoring the env
        delete process.env[key];
      }
    }
    Object.assign(process.env, saved);
    await rm(planted, { recursive: true, force: true });
  });

  it.each(['lsblk', 'nft', 'loginctl'])(
    'never runs a fake %s planted early on the inherited PATH',
    async (command) => {
      const output = await execRunner(command, ['--version'], { timeoutMs: 30_000 }).catch(
        (error: unknown) => error,
      );
      // Either the real program answered or it is not installed here; never the fake.
      if (output instanceof ProbeError) {
        expect(output.code).toBe('command-missing');
      } else {
        expect(output).toMatchObject({ stdout: expect.not.stringContaining('FAKE') as unknown });
      }
    },
  );

  it('does not find a command that exists only in the planted folder', async () => {
    await expect(execRunner('hallpass-only-fake', [], { timeoutMs: 30_000 })).rejects.toMatchObject(
      { code: 'command-missing' },
    );
  });

  it('passes only the fixed variables and the probe’s own, never inherited ones', async () => {
    const output = await execRunner('env', [], {
      timeoutMs: 30_000,
      env: { XDG_RUNTIME_DIR: '/run/user/1000', PATH: '/tmp', LC_ALL: 'de_DE.UTF-8' },
    });
    const lines = output.stdout.trim().split('\n').sort();
    expect(lines).toEqual([
      'LANG=C',
      'LC_ALL=C',
      `PATH=${UNIX_PROBE_PATH}`,
      'XDG_RUNTIME_DIR=/run/user/1000',
    ]);
  });

  it('runs in /, not in whatever folder the service was started from', async () => {
    const output = await execRunner('pwd', [], { timeoutMs: 30_000 });
    expect(output.stdout.trim()).toBe('/');
  });
});
