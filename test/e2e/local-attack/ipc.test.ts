// Local attack on the service's IPC socket: the real service runs as root (as on a device), its
// socket in a root-owned 0755 folder as under /run/hallpass, and a real unprivileged account (the
// pupil) attacks it with a small Node client run under its own uid: lines that crashed the
// service, garbage, a flood it never reads, hundreds of idle connections, checks:run over and
// over. After each, a tray-like client (root here) still gets status:get answered and the
// service is the same process.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipcRequest } from '../../../agent/service/ipc-server.ts';
import {
  agentHome,
  startAgent,
  stopAgent,
  waitFor,
  type AgentHome,
} from '../../helpers/agent-process.ts';
import { canAttackAsPupil, createPupil, type Pupil } from '../../helpers/unprivileged-user.ts';

/** The pupil's client (CommonJS for the system's node, which the pupil can run). */
const CLIENT = `// The pupil's client for the IPC local-attack suite, run as the unprivileged user with the
// system's node: plain CommonJS, no dependencies. Modes:
//   line  <socket> <json text>      send one line, print the first answer line
//   flood <socket> <lines> <holdMs> send <lines> status:get lines, never read; print how many
//                                   bytes the service had not taken when the hold ended
//   idle  <socket> <count> <holdMs> open <count> connections and hold them; print 'open' once
//                                   all tried, then at the end how many the service closed
'use strict';
const net = require('node:net');
const [mode, path, arg, hold] = process.argv.slice(2);

if (mode === 'line') {
  const socket = net.connect(path, () => socket.write(arg + '\\n'));
  let buffer = '';
  socket.on('data', (chunk) => {
    buffer += chunk.toString();
    if (buffer.includes('\\n')) {
      process.stdout.write(buffer.slice(0, buffer.indexOf('\\n')) + '\\n');
      socket.destroy();
    }
  });
  socket.on('error', (error) => process.stdout.write(\`error \${error.code}\\n\`));
} else if (mode === 'flood') {
  const socket = net.connect(path, () => {
    socket.pause();
    socket.write('{"id":1,"channel":"status:get"}\\n'.repeat(Number(arg)));
    process.stdout.write('sent\\n');
    setTimeout(() => {
      process.stdout.write(\`unsent \${socket.writableLength}\\n\`);
      socket.destroy();
    }, Number(hold));
  });
  socket.on('error', (error) => process.stdout.write(\`error \${error.code}\\n\`));
} else if (mode === 'idle') {
  let closed = 0;
  let settled = 0;
  const count = Number(arg);
  const sockets = [];
  const opened = () => {
    settled++;
    if (settled === count) {
      process.stdout.write('open\\n');
      setTimeout(() => {
        process.stdout.write(\`closed \${closed}\\n\`);
        for (const s of sockets) s.destroy();
      }, Number(hold));
    }
  };
  for (let i = 0; i < count; i++) {
    let counted = false;
    const once = () => {
      if (!counted) {
        counted = true;
        opened();
      }
    };
    const socket = net.connect(path, once);
    socket.on('close', () => closed++);
    socket.on('error', once);
    sockets.push(socket);
  }
}
`;

/** Runs the client as the pupil; resolves with each printed line as it comes. */
function asPupil(
  pupil: Pupil,
  clientFile: string,
  args: string[],
): { lines: string[]; line(prefix: string): Promise<string>; exited: Promise<number | null> } {
  const child = spawn('node', [clientFile, ...args], {
    uid: pupil.uid,
    gid: pupil.gid,
    cwd: pupil.home,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: pupil.home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      lines.push(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
    for (const wake of waiters.splice(0)) {
      wake();
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    lines,
    exited,
    async line(prefix) {
      for (;;) {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found !== undefined) {
          return found;
        }
        if (child.exitCode !== null) {
          throw new Error(
            `the pupil's client exited without printing ${prefix}: ${lines.join('|')}`,
          );
        }
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 500);
        });
      }
    },
  };
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

describe.skipIf(!canAttackAsPupil('ipc local attack'))('IPC under local attack by a pupil', () => {
  let pupil: Pupil;
  let home: AgentHome;
  let runDir: string;
  let ipcPath: string;
  let clientFile: string;
  let agent: ReturnType<typeof startAgent>;

  const trayStatus = async () => {
    const answer = await ipcRequest(ipcPath, 'status:get', 30_000);
    expect(answer.ok).toBe(true);
    expect(agent.exitCode).toBeNull();
    return answer;
  };

  beforeAll(async () => {
    pupil = await createPupil();
    // As /run/hallpass: a root-owned 0755 folder; the service creates the socket inside it.
    runDir = await mkdtemp(join(tmpdir(), 'hallpass-run-'));
    await chmod(runDir, 0o755);
    ipcPath = join(runDir, 'hallpass', 'agent.sock');
    home = await agentHome({ ipcPath, logLevel: 'warn' });
    clientFile = join(runDir, 'client.js');
    await writeFile(clientFile, CLIENT, { mode: 0o644 });
    agent = startAgent(home);
    await waitFor('the service to answer', async () => {
      try {
        // Up, and its start-up pass done (so the pass test counts only what the pupil asked).
        const answer = await ipcRequest(ipcPath, 'status:get', 5000);
        return answer.ok && answer.status.lastCheckAt !== null;
      } catch {
        return false;
      }
    });
  }, 120_000);

  afterAll(async () => {
    await stopAgent(agent);
    await pupil.remove();
    await rm(runDir, { recursive: true, force: true });
    await rm(home.dir, { recursive: true, force: true });
  });

  it.each([
    ['null', 'null'],
    ['a number', '42'],
    ['an array', '[null]'],
    ['garbage', '\u00ff\u0001{{{"id":'],
    ['an id that is not a number', '{"id":{"toString":1},"channel":"status:get"}'],
    ['a request as root', '{"id":1,"channel":"status:get","uid":0}'],
    // Channels that act for the console session, asked without proving who is asking.
    ['a subscription to pushes, unproven', '{"id":1,"channel":"events:subscribe"}'],
    ['an idle lock, unproven', '{"id":1,"channel":"idle:locked","idleSeconds":60}'],
    ['a tray hello, unproven', '{"id":1,"channel":"tray:hello"}'],
    ['a proof with no challenge', '{"id":1,"channel":"peer:prove"}'],
  ])('answers %s with an error and stays up', async (_name, text) => {
    const client = asPupil(pupil, clientFile, ['line', ipcPath, text]);
    await client.exited;
    expect(client.lines[0]).toMatch(/"ok":false/);
    await trayStatus();
  });

  it('does not take in a flood the pupil never reads, and still answers the tray', async () => {
    const before = await rssKb(agent.pid ?? 0);
    const lines = 50_000;
    const client = asPupil(pupil, clientFile, ['flood', ipcPath, String(lines), '5000']);
    await client.line('sent');
    await trayStatus();
    // What the service did not take stayed with the pupil (without back-pressure it took all).
    const unsent = Number((await client.line('unsent')).split(' ')[1]);
    const after = await rssKb(agent.pid ?? 0);
    console.info(
      `ipc flood: ${lines} lines, ${unsent} bytes left unsent; service RSS ${before} -> ${after} KB`,
    );
    expect(unsent).toBeGreaterThan(0);
    await client.exited;
    await trayStatus();
  });

  it('lets the tray in past hundreds of idle pupil connections', async () => {
    const client = asPupil(pupil, clientFile, ['idle', ipcPath, '400', '3000']);
    await client.line('open');
    await trayStatus();
    const closed = Number((await client.line('closed')).split(' ')[1]);
    console.info(`ipc idle: 400 pupil connections, ${closed} closed by the service`);
    // All but the 32 newest (the cap) were dropped to make room.
    expect(closed).toBeGreaterThanOrEqual(400 - 32);
    await client.exited;
    await trayStatus();
  });

  it('queues no more than one report however often the pupil asks for a pass', async () => {
    const reports = async () =>
      (await readdir(join(home.stateDir, 'outbox'))).filter((n) => n.includes('-report-')).length;
    const before = await reports();
    for (let i = 0; i < 10; i++) {
      const client = asPupil(pupil, clientFile, [
        'line',
        ipcPath,
        `{"id":${i},"channel":"checks:run"}`,
      ]);
      await client.exited;
      expect(client.lines[0]).toMatch(/"ok":true/);
    }
    expect((await reports()) - before).toBeLessThanOrEqual(1);
    await trayStatus();
  });

  it('made its socket 0666 in its own root-owned folder', async () => {
    const { lstat } = await import('node:fs/promises');
    const socket = await lstat(ipcPath);
    expect(socket.isSocket() && (socket.mode & 0o777) === 0o666 && socket.uid === 0).toBe(true);
    const folder = await lstat(join(runDir, 'hallpass'));
    expect([folder.uid, folder.mode & 0o777]).toEqual([0, 0o755]);
    // Proof files: anyone may create one, nobody but root may list them.
    const peers = await lstat(join(runDir, 'hallpass', 'agent.peers'));
    expect([peers.uid, peers.mode & 0o7777]).toEqual([0, 0o1733]);
    const listing = await pupil.run('ls', [join(runDir, 'hallpass', 'agent.peers')]);
    expect(listing.code).not.toBe(0);
  });
});
