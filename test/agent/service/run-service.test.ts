// What runService reports at start-up about state it would not trust (issue 12): managed
// settings ignored as not root's, and a drop-counts file that was not sound, each become a
// `tamper.state-corrupt` event in the outbox for ICT.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultAgentConfig } from '../../../agent/core/config/agent-config.ts';
import { realHost } from '../../../agent/core/host.ts';
import { runService } from '../../../agent/service/run-service.ts';
import { readOutboxFolder } from '../../helpers/outbox-folder.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) {
    await rm(dir, { recursive: true, force: true });
  }
});

describe.skipIf(process.platform === 'win32')('runService start-up reports', () => {
  it('turns ignored managed settings and a bad drop-counts file into tamper.state-corrupt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-run-service-'));
    dirs.push(dir);
    const stateDir = join(dir, 'state');
    await mkdir(stateDir, { mode: 0o700 });
    await writeFile(join(stateDir, 'drop-counts.json'), 'not json', { mode: 0o600 });
    const running = await runService({
      os: 'linux',
      host: realHost,
      config: {
        ...defaultAgentConfig('linux'),
        stateDir,
        ipcPath: join(dir, 'agent.sock'),
        logLevel: 'silent',
      },
      agentVersion: '0.1.0',
      checks: [],
      untrustedSettings: ['/etc/hallpass/managed.json has mode 0666; its settings were ignored'],
    });
    await running.stop();
    const events = (await readOutboxFolder(join(stateDir, 'outbox'))).items
      .map((item) => item.payload)
      .filter((payload) => payload.type === 'tamper.state-corrupt')
      .map((payload) => payload.data);
    expect(events).toEqual(
      expect.arrayContaining([
        {
          store: 'managed-settings',
          detail: expect.stringMatching(/managed\.json has mode 0666/) as unknown,
        },
        { store: 'outbox', detail: 'drop-counts.json: not JSON' },
      ]),
    );
  }, 60_000);
});
