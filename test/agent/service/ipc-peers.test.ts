// Peer proofs and per-user places under attack, for real: the IPC server runs as root (this
// test process) in a root-owned 0755 folder as under /run/hallpass, and real unprivileged
// accounts created by the test connect with a plain client under their own uid: one honest,
// one cheating every way the proof allows (a link, a hard link, a guessed nonce, a file made
// before the challenge, never answering), and one holding as many connections as it can
// while the console user's tray is connected.
import { spawn } from 'node:child_process';
import { chmod, lstat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realHost } from '../../../agent/core/host.ts';
import { posixPeerProof } from '../../../agent/core/ipc-peer/posix.ts';
import type { IpcLimits } from '../../../agent/service/ipc-server.ts';
import type { IpcPeer } from '../../../shared/index.ts';
import {
  startServiceSocket,
  unenrolledStatus,
  type ServiceSocket,
} from '../../helpers/ipc-service.ts';
import { canAttackAsPupil, createPupil, type Pupil } from '../../helpers/unprivileged-user.ts';

const status = unenrolledStatus({
  trays: [{ user: 'someone', since: '2026-12-05T08:00:00.000Z' }],
});

/** Runs the client as `user`; each printed line as it comes, and a way to end it. */
function asUser(user: Pupil, clientFile: string, args: string[]) {
  const child = spawn('node', [clientFile, ...args], {
    uid: user.uid,
    gid: user.gid,
    cwd: user.home,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: user.home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      lines.push(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
  });
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => {
      resolve();
    });
  });
  return {
    lines,
    exited,
    stop: () => child.kill('SIGTERM'),
    async line(prefix: string): Promise<string> {
      for (;;) {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found !== undefined) {
          return found;
        }
        if (child.exitCode !== null) {
          throw new Error(`the client exited without printing ${prefix}: ${lines.join('|')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/** The JSON after `prefix ` on a printed line. */
const json = (line: string) =>
  JSON.parse(line.slice(line.indexOf(' ') + 1)) as Record<string, unknown>;

describe.skipIf(!canAttackAsPupil('ipc peer proofs'))('IPC peer proofs under attack', () => {
  let pupil: Pupil;
  let consoleUser: Pupil;
  let folder: string;
  let path: string;
  let peers: string;
  let clientFile: string;
  let served: ServiceSocket;
  const trayHellos: IpcPeer[] = [];
  const limits: Partial<IpcLimits> = {
    maxConnections: 6,
    maxPerPeer: 4,
    maxUnproven: 4,
    unprovenTimeoutMs: 1000,
  };

  beforeAll(async () => {
    pupil = await createPupil();
    consoleUser = await createPupil();
    served = await startServiceSocket(
      {
        status: () => status,
        pushes: () => () => undefined,
        idleLocked: () => Promise.resolve(true),
        idlePolicy: () =>
          Promise.resolve({
            user: consoleUser.name,
            off: null,
            minutes: 10,
            warningSeconds: 60,
            honourInhibitors: false,
            inhibitorCeilingMinutes: 60,
          }),
        displayRequests: () =>
          Promise.resolve({
            known: true,
            held: true,
            holders: ['chrome.exe (Video Wake Lock)'],
            readAt: '2026-12-06T09:00:00.000Z',
          }),
        consoleUser: { current: () => Promise.resolve({ name: consoleUser.name, groups: [] }) },
        trayHello: (peer) => {
          trayHellos.push(peer);
          return { release: () => undefined };
        },
      },
      { limits, folderMode: 0o755 },
    );
    folder = served.folder;
    path = served.path;
    peers = join(folder, 'agent.peers');
    clientFile = join(folder, 'client.js');
    await writeFile(
      clientFile,
      await readFile(new URL('./ipc-peers-client.cjs.txt', import.meta.url), 'utf8'),
      { mode: 0o644 },
    );
  }, 120_000);

  afterAll(async () => {
    await served.close();
    await pupil.remove();
    await consoleUser.remove();
  });

  const run = async (user: Pupil, how: string, lines: object[] = []) => {
    const client = asUser(user, clientFile, ['one', path, peers, how, JSON.stringify(lines)]);
    await client.exited;
    // Its own close after the last answer prints `closed` too: only the answers are asked about.
    return client.lines.filter((l) => l.startsWith('prove') || l.startsWith('answer'));
  };

  it('made the peers folder root-owned, mode 1733: anyone may create, nobody may list', async () => {
    const info = await lstat(peers);
    expect([info.uid, info.mode & 0o7777]).toEqual([0, 0o1733]);
    const listing = await pupil.run('ls', [peers]);
    expect(listing.code).not.toBe(0);
    expect(listing.stderr).toMatch(/Permission denied/);
  });

  it('proves an honest user as their own uid and name, and nothing more', async () => {
    const lines = await run(pupil, 'honest', [
      { channel: 'events:subscribe' },
      { channel: 'idle:locked', idleSeconds: 600 },
      { channel: 'tray:hello' },
      { channel: 'idle:policy' },
      { channel: 'idle:display-requests' },
      { channel: 'status:get' },
    ]);
    expect(json(lines[0] ?? '')).toMatchObject({
      ok: true,
      peer: { id: String(pupil.uid), user: pupil.name, privileged: false, console: false },
    });
    // Not the console user: nothing that acts for the console session (nor names its user and
    // exemption, nor the programs holding the display on), but the status.
    expect(lines.slice(1, 6).map((l) => json(l).ok)).toEqual([false, false, false, false, false]);
    // The status, without whose trays are connected.
    expect(json(lines[6] ?? '')).toMatchObject({ ok: true });
    expect(json(lines[6] ?? '').status).not.toHaveProperty('trays');
  });

  it('proves the console user as the console user, whose tray may say hello', async () => {
    const lines = await run(consoleUser, 'honest', [
      { channel: 'tray:hello' },
      { channel: 'idle:locked', idleSeconds: 600 },
      { channel: 'status:get' },
      { channel: 'idle:policy' },
      { channel: 'idle:display-requests' },
    ]);
    expect(json(lines[0] ?? '')).toMatchObject({
      ok: true,
      peer: { id: String(consoleUser.uid), user: consoleUser.name, console: true },
    });
    expect(lines.slice(1).map((l) => json(l).ok)).toEqual([true, true, true, true, true]);
    expect(trayHellos.at(-1)?.user).toBe(consoleUser.name);
    expect(json(lines[3] ?? '').status).toHaveProperty('trays', status.trays);
    expect(json(lines[4] ?? '')).toMatchObject({ idleLock: { user: consoleUser.name, off: null } });
    expect(json(lines[5] ?? '')).toMatchObject({ displayRequests: { known: true, held: true } });
  });

  it('refuses a symbolic link to a root-owned file, and removes it', async () => {
    const lines = await run(pupil, `symlink:${clientFile}`, [{ channel: 'events:subscribe' }]);
    expect(json(lines[0] ?? '')).toMatchObject({ ok: false });
    expect(lines[0]).toMatch(/symbolic link/);
    expect(json(lines[1] ?? '').ok).toBe(false);
  });

  it("refuses a hard link to another user's file (root's, writable by all)", async () => {
    const target = join(folder, 'shared-by-root');
    await writeFile(target, '', { mode: 0o666 });
    await chmod(target, 0o666);
    const lines = await run(pupil, `hardlink:${target}`, [{ channel: 'events:subscribe' }]);
    expect(json(lines[0] ?? '')).toMatchObject({ ok: false });
    expect(lines[0]).toMatch(/names/);
    expect((await lstat(target)).nlink).toBe(1);
  });

  it('refuses a file made under a guessed name', async () => {
    const lines = await run(pupil, 'guess');
    expect(json(lines[0] ?? '')).toMatchObject({ ok: false });
    expect(lines[0]).toMatch(/no proof file/);
  });

  it('refuses a file made before the challenge', async () => {
    const proof = posixPeerProof(peers, realHost.run, 0);
    const nonce = 'a'.repeat(32);
    expect((await pupil.run('touch', [join(peers, nonce)])).code).toBe(0);
    const verdict = await proof.inspect(nonce, Date.now() + 60_000);
    expect(verdict).toEqual({ ok: false, reason: 'the proof file is older than the challenge' });
    // The same file made after its challenge proves its maker.
    const fresh = 'b'.repeat(32);
    const issuedAt = Date.now();
    expect((await pupil.run('touch', [join(peers, fresh)])).code).toBe(0);
    expect(await proof.inspect(fresh, issuedAt)).toEqual({
      ok: true,
      id: String(pupil.uid),
      privileged: false,
    });
  });

  it('closes a connection that takes a challenge and never answers', async () => {
    const client = asUser(pupil, clientFile, ['one', path, peers, 'silent', '[]']);
    await client.line('closed');
    client.stop();
  });

  it("a second user holding every place it can does not keep the console user's tray out", async () => {
    const tray = asUser(consoleUser, clientFile, [
      'hold',
      path,
      peers,
      JSON.stringify([{ channel: 'tray:hello' }]),
    ]);
    await tray.line('ready');
    expect(tray.lines.filter((l) => l.startsWith('answer')).map((l) => json(l).ok)).toEqual([true]);
    const flood = asUser(pupil, clientFile, ['flood', path, peers, '60', '30']);
    await flood.line('open');
    // A newcomer of the console user still gets in and proves.
    const lines = await run(consoleUser, 'honest', [{ channel: 'idle:locked', idleSeconds: 60 }]);
    expect(lines.map((l) => json(l).ok)).toEqual([true, true]);
    flood.stop();
    const closed = Number((await flood.line('closed')).split(' ')[1]);
    console.info(`ipc peers: 60 pupil connections (30 proven), ${closed} closed by the service`);
    // The pupil kept at most its own places (4 proven) and the unproven pool's (4).
    expect(closed).toBeGreaterThanOrEqual(60 - 8);
    expect(tray.lines).not.toContain('closed');
    tray.stop();
  });
});
