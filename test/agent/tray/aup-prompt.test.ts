// The tray's AUP prompt against the real service (composed by runService, the example policy in
// force, logind's answers recorded so a user sits at seat0), through the tray's real client and
// handshake: the window opens when something is due, a window closed unsigned declines what it
// showed (and the service runs the pupil action), a signed or already declined one declines
// nothing more. The window itself is tested in Chromium (test/ui/aup/window.test.ts).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../../agent/core/policy/policy-file.ts';
import { runService, type RunningService } from '../../../agent/service/run-service.ts';
import { AupPrompt } from '../../../agent/tray/aup-prompt.ts';
import { ServiceClient } from '../../../agent/tray/service-client.ts';
import { trayHandshake } from '../../../agent/tray/service-handshake.ts';
import type { AgentEvent, AupPending } from '../../../shared/index.ts';
import { waitFor, hostAgentConfig } from '../../helpers/agent-process.ts';
import { completeSignature, writeCachedPolicy } from '../../helpers/aup.ts';
import { CONSOLE_SESSION, consoleSessionHost } from '../../helpers/console-session.ts';
import { readOutboxFolder } from '../../helpers/outbox-folder.ts';

const policy = parsePolicyText(
  await readFile(
    new URL('../../../agent/core/policy/example-policy.yaml', import.meta.url),
    'utf8',
  ),
  'example-policy.yaml',
);

describe.skipIf(process.platform !== 'linux')('AupPrompt against the real service', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
  });

  async function setUp() {
    const home = await mkdtemp(join(tmpdir(), 'hallpass-aup-prompt-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    const stateDir = join(home, 'state');
    const ipcPath = join(home, 'agent.sock');
    await writeCachedPolicy(stateDir, policy);
    const commands: string[] = [];
    const running: RunningService = await runService({
      os: 'linux',
      host: await consoleSessionHost(commands),
      config: hostAgentConfig({
        stateDir,
        ipcPath,
      }),
      agentVersion: '0.0.0-test',
      checks: [],
    });
    cleanups.push(() => running.stop());

    const opened: number[] = [];
    const problems: string[] = [];
    const pushed: AupPending[] = [];
    const roles: string[] = [];
    // eslint-disable-next-line prefer-const -- the prompt takes the client built after it
    let prompt: AupPrompt;
    const client = new ServiceClient({
      path: ipcPath,
      backoff: { baseMs: 50, capMs: 200, jitter: 0 },
      onConnect: trayHandshake('linux', ipcPath),
      listener: {
        state: (state) => {
          if (state === 'connected') {
            void prompt.connected();
          }
        },
        status: () => undefined,
        push: (push) => {
          if (push.push === 'aup:required') {
            pushed.push(push.aup);
            prompt.required(push.aup);
          }
        },
      },
    });
    prompt = new AupPrompt({
      service: client,
      open: () => opened.push(Date.now()),
      problem: (what) => problems.push(what),
      role: (role) => roles.push(role),
    });
    client.start();
    cleanups.push(() => {
      client.stop();
      return Promise.resolve();
    });
    const aupEvents = async (): Promise<AgentEvent[]> =>
      (await readOutboxFolder(join(stateDir, 'outbox'))).items
        .map((item) => item.payload as unknown as AgentEvent)
        .filter((event) => event.type === 'aup.accepted' || event.type === 'aup.declined');
    return { prompt, opened, problems, pushed, roles, commands, aupEvents };
  }

  it('opens the window once when the pupil AUP is due, however often the service says so, and takes the role', async () => {
    const { prompt, opened, problems, roles } = await setUp();
    await waitFor('the window to open', () => Promise.resolve(opened.length > 0 || null));
    // The AUP rules make this user a pupil: the tray takes its wording from that.
    expect(roles).toContain('pupil');
    expect(roles.every((role) => role === 'pupil')).toBe(true);
    const pending = await prompt.pending();
    expect(pending).toMatchObject({
      ok: true,
      aup: { user: CONSOLE_SESSION.user, role: 'pupil' },
    });
    if (!pending.ok) {
      throw new Error(pending.error);
    }
    expect(pending.aup.documents.map((d) => d.id)).toEqual(['pupil-aup']);
    prompt.required(pending.aup);
    await prompt.connected();
    expect(opened).toHaveLength(1);
    expect(problems).toEqual([]);
  });

  it('a window closed unsigned declines the document it showed, and the service signs the pupil out', async () => {
    const { prompt, opened, commands, aupEvents } = await setUp();
    await waitFor('the window to open', () => Promise.resolve(opened.length > 0 || null));
    await prompt.closed();
    expect(commands).toContain(`loginctl terminate-session ${CONSOLE_SESSION.id}`);
    const declined = (await aupEvents()).map((e) => e.data);
    expect(declined).toEqual([
      expect.objectContaining({ user: 'pupil.0042', documentId: 'pupil-aup', action: 'sign-out' }),
    ]);
  });

  it('a window closed after signing, or after declining in it, declines nothing more', async () => {
    const signed = await setUp();
    await waitFor('the window to open', () => Promise.resolve(signed.opened.length > 0 || null));
    const pending = await signed.prompt.pending();
    const document = pending.ok ? pending.aup.documents[0] : undefined;
    if (document === undefined) {
      throw new Error('nothing pending');
    }
    const answer = await signed.prompt.sign(completeSignature(document));
    expect(answer).toMatchObject({ ok: true, aup: { documents: [] } });
    await signed.prompt.closed();
    expect((await signed.aupEvents()).map((e) => e.type)).toEqual(['aup.accepted']);
    expect(signed.commands.filter((c) => c.includes('terminate-session'))).toEqual([]);

    const declined = await setUp();
    await waitFor('the window to open', () => Promise.resolve(declined.opened.length > 0 || null));
    const refused = await declined.prompt.decline({
      documentId: document.id,
      textSha256: document.textSha256,
    });
    expect(refused.ok).toBe(true);
    await declined.prompt.closed();
    expect((await declined.aupEvents()).map((e) => e.type)).toEqual(['aup.declined']);
  });

  it('passes the service’s refusal to the window in words, and declines nothing for it', async () => {
    const { prompt, opened, aupEvents } = await setUp();
    await waitFor('the window to open', () => Promise.resolve(opened.length > 0 || null));
    const answer = await prompt.sign({
      documentId: 'pupil-aup',
      textSha256: 'f'.repeat(64),
      acknowledged: [0],
      fullName: 'Jo',
      tutorGroup: null,
      parentCarer: null,
    });
    expect(answer.ok).toBe(false);
    expect(answer.ok ? '' : answer.error).toMatch(/text|statement|tutor/i);
    expect(await aupEvents()).toEqual([]);
  });
});
