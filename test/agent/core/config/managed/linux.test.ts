import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentConfigError } from '../../../../../agent/core/config/agent-config.ts';
import { readManagedSettingsFile } from '../../../../../agent/core/config/managed/linux.ts';

// The owner the file must have: root in production; here whoever runs the tests, so the mode
// and link cases run as any user (the other-owner case needs root to chown).
const owner = process.getuid?.() ?? 0;
const root = owner === 0;
const settings = JSON.stringify({ serverUrl: 'https://hallpass.school.example', stateDir: '/x' });

describe.skipIf(process.platform === 'win32')('Linux managed settings file (issue 12)', () => {
  let dir = '';
  let file = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-managed-'));
    file = join(dir, 'managed.json');
    await writeFile(file, settings, { mode: 0o644 });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the owner's file, keeping only the keys managed settings may set", async () => {
    expect(await readManagedSettingsFile(file, owner)).toEqual({
      settings: { serverUrl: 'https://hallpass.school.example' },
      untrusted: [],
    });
  });

  it('is no settings when the file is absent', async () => {
    expect(await readManagedSettingsFile(join(dir, 'none.json'), owner)).toEqual({
      settings: {},
      untrusted: [],
    });
  });

  it.each([0o666, 0o664, 0o646])('ignores and reports a file with mode %o', async (mode) => {
    await chmod(file, mode);
    const read = await readManagedSettingsFile(file, owner);
    expect(read.settings).toEqual({});
    expect(read.untrusted).toEqual([expect.stringMatching(/other users can write to it/)]);
  });

  it.skipIf(!root)('ignores and reports a file another user owns', async () => {
    await chown(file, 65534, 65534);
    const read = await readManagedSettingsFile(file, owner);
    expect(read).toEqual({
      settings: {},
      untrusted: [expect.stringMatching(/owned by uid 65534/)],
    });
  });

  it('ignores and reports a link, even to a sound file', async () => {
    const link = join(dir, 'link.json');
    await symlink(file, link);
    const read = await readManagedSettingsFile(link, owner);
    expect(read).toEqual({ settings: {}, untrusted: [expect.stringMatching(/symbolic link/)] });
  });

  it('ignores a sound file in a folder others can write (they could swap it)', async () => {
    const open = join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    await writeFile(join(open, 'managed.json'), settings, { mode: 0o644 });
    const read = await readManagedSettingsFile(join(open, 'managed.json'), owner);
    expect(read.settings).toEqual({});
    expect(read.untrusted).toEqual([expect.stringMatching(/every user can replace/)]);
  });

  // Issue 12: root wrote it, but a token others can read lets a pupil enrol devices of their own.
  describe('holding the enrolment token', () => {
    const withToken = JSON.stringify({
      serverUrl: 'https://hallpass.school.example',
      enrolmentToken: 'tok-0123456789abcdef',
    });

    it.each(['644', '640', '604'])('refuses to start at mode %s, naming the fix', async (mode) => {
      await writeFile(file, withToken);
      await chmod(file, parseInt(mode, 8));
      const read = readManagedSettingsFile(file, owner);
      await expect(read).rejects.toThrow(AgentConfigError);
      await expect(readManagedSettingsFile(file, owner)).rejects.toThrow(
        /holds the enrolment token .* lets other users read it: refusing to start\. Fix: chmod 600/,
      );
    });

    it('reads it at 0600', async () => {
      await writeFile(file, withToken);
      await chmod(file, 0o600);
      expect((await readManagedSettingsFile(file, owner)).settings).toEqual({
        serverUrl: 'https://hallpass.school.example',
        enrolmentToken: 'tok-0123456789abcdef',
      });
    });

    it('a null token is no token: 0644 is fine', async () => {
      await writeFile(file, JSON.stringify({ enrolmentToken: null }));
      await chmod(file, 0o644);
      expect((await readManagedSettingsFile(file, owner)).untrusted).toEqual([]);
    });
  });

  it('still refuses to start on a sound file that is not JSON, naming it', async () => {
    await writeFile(file, '{"serverUrl": ');
    await expect(readManagedSettingsFile(file, owner)).rejects.toThrow(AgentConfigError);
    await expect(readManagedSettingsFile(file, owner)).rejects.toThrow(
      /managed\.json: not valid JSON/,
    );
  });
});
