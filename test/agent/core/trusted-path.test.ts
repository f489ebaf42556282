import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  assertTrustedStateFolders,
  readTrustedFile,
  UntrustedStateError,
} from '../../../agent/core/trusted-path.ts';

const uid = process.getuid?.() ?? 0;
const SUBFOLDERS = ['outbox', 'outbox/rejected', 'policy'];

describe.skipIf(process.platform === 'win32')('trusted state paths', () => {
  let dir: string;
  let state: string;
  beforeEach(async () => {
    // mkdtemp gives 0700 under the sticky, world-writable /tmp: a sound place to start from.
    dir = await mkdtemp(join(tmpdir(), 'hallpass-trust-'));
    state = join(dir, 'state');
    await mkdir(join(state, 'outbox', 'rejected'), { recursive: true, mode: 0o700 });
    await mkdir(join(state, 'policy'), { mode: 0o700 });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const refusal = async (): Promise<string> => {
    try {
      await assertTrustedStateFolders(state, SUBFOLDERS, uid);
    } catch (error) {
      expect(error).toBeInstanceOf(UntrustedStateError);
      return (error as Error).message;
    }
    return 'accepted';
  };

  it('accepts the service’s own 0700 folders below the sticky /tmp', async () => {
    expect(await refusal()).toBe('accepted');
  });

  it('accepts a folder others may read but not write (0755)', async () => {
    await chmod(state, 0o755);
    expect(await refusal()).toBe('accepted');
  });

  it.each([
    ['the state folder', '', 0o777],
    ['the outbox', 'outbox', 0o777],
    ['the rejected outbox', 'outbox/rejected', 0o770],
    ['the policy cache folder', 'policy', 0o733],
  ])('refuses %s when others can write to it, naming the path', async (_label, sub, mode) => {
    const path = sub === '' ? state : join(state, sub);
    await chmod(path, mode);
    expect(await refusal()).toContain(`${path} has mode 0${mode.toString(8)}`);
  });

  it('refuses a state folder that is a symbolic link', async () => {
    await rm(state, { recursive: true });
    await mkdir(join(dir, 'real'), { mode: 0o700 });
    await symlink(join(dir, 'real'), state);
    expect(await refusal()).toContain(`${state} is a symbolic link`);
  });

  it('refuses a subfolder that is a symbolic link', async () => {
    await rm(join(state, 'policy'), { recursive: true });
    await mkdir(join(dir, 'elsewhere'), { mode: 0o700 });
    await symlink(join(dir, 'elsewhere'), join(state, 'policy'));
    expect(await refusal()).toContain(`${join(state, 'policy')} is a symbolic link`);
  });

  it('refuses a state folder owned by someone else', async () => {
    await expect(assertTrustedStateFolders(state, SUBFOLDERS, uid + 4242)).rejects.toThrow(
      `${state} is owned by uid ${uid}, not by the service's user (uid ${uid + 4242})`,
    );
  });

  it('refuses a folder above it that every user can write to (no sticky bit)', async () => {
    await chmod(dir, 0o777);
    expect(await refusal()).toContain(`${dir} has mode 0777: every user can replace`);
  });

  it('accepts a world-writable folder above it when it is sticky, as /tmp is', async () => {
    await chmod(dir, 0o1777);
    expect(await refusal()).toBe('accepted');
  });

  it('refuses, never crashes, when a folder above cannot be examined', async () => {
    await expect(
      assertTrustedStateFolders('/proc/self/fd/0/state', SUBFOLDERS, uid),
    ).rejects.toThrow(UntrustedStateError);
  });

  it('skips the owner checks where the OS has no uid (Windows)', async () => {
    await chmod(state, 0o777);
    await expect(assertTrustedStateFolders(state, SUBFOLDERS, null)).resolves.toBeUndefined();
  });
});

describe.skipIf(process.platform === 'win32')('readTrustedFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-trust-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const read = (name: string, owner = uid) =>
    readTrustedFile(join(dir, name), { uid: owner, maxBytes: 100 });

  it('reads the service’s own file', async () => {
    await writeFile(join(dir, 'a.json'), '[]', { mode: 0o600 });
    const got = await read('a.json');
    expect(got).toMatchObject({ kind: 'ok', text: '[]' });
    // …with what it found, for a caller with a stricter rule (a file holding a secret).
    expect(got.kind === 'ok' && (got.stats.mode & 0o777).toString(8)).toBe('600');
  });

  it('a missing file is missing, not a problem', async () => {
    expect(await read('none.json')).toEqual({ kind: 'missing' });
  });

  it('a group-writable file is untrusted', async () => {
    await writeFile(join(dir, 'a.json'), '[]');
    await chmod(join(dir, 'a.json'), 0o620);
    expect(await read('a.json')).toMatchObject({ kind: 'untrusted', reason: /mode 0620/ });
  });

  it('a file of another owner is untrusted', async () => {
    await writeFile(join(dir, 'a.json'), '[]', { mode: 0o600 });
    expect(await read('a.json', uid + 1)).toMatchObject({ kind: 'untrusted', reason: /owned by/ });
  });

  it('a link is never followed', async () => {
    await writeFile(join(dir, 'a.json'), '[]', { mode: 0o600 });
    await symlink(join(dir, 'a.json'), join(dir, 'b.json'));
    expect(await read('b.json')).toMatchObject({ kind: 'untrusted', reason: /symbolic link/ });
  });

  it('a file larger than allowed is unreadable', async () => {
    await writeFile(join(dir, 'a.json'), 'x'.repeat(101), { mode: 0o600 });
    expect(await read('a.json')).toMatchObject({ kind: 'unreadable', reason: /larger than 100/ });
  });
});
