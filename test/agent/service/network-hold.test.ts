// The hold-network decline end to end on a real kernel: runService (example policy, pupils'
// decline set to hold-network, the Hallpass server standing at an address of a network
// namespace) with its network hold inside that namespace; the tray's requests over the real
// socket, proven. Declining holds the network to the server; signing opens it at once; a hold
// in force opens when the service stops.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinuxNetworkHold } from '../../../agent/core/network-hold/linux.ts';
import { HOLD_TABLE } from '../../../agent/core/network-hold/nft-script.ts';
import { parsePolicyText } from '../../../agent/core/policy/policy-file.ts';
import { runService, type RunningService } from '../../../agent/service/run-service.ts';
import type { AgentEvent, AupPendingDocument } from '../../../shared/index.ts';
import { completeSignature, writeCachedPolicy } from '../../helpers/aup.ts';
import { consoleSessionHost } from '../../helpers/console-session.ts';
import { askProven } from '../../helpers/ipc-peer.ts';
import {
  makeNamespace,
  namespacesUsable,
  OTHER,
  REFUSED,
  SERVER,
  type Namespace,
} from '../../helpers/netns.ts';
import { readOutboxFolder } from '../../helpers/outbox-folder.ts';
import { hostAgentConfig } from '../../helpers/agent-process.ts';

const example = parsePolicyText(
  await readFile(
    new URL('../../../agent/core/policy/example-policy.yaml', import.meta.url),
    'utf8',
  ),
  'example-policy.yaml',
);
const policy = {
  ...example,
  aup: {
    ...example.aup,
    onDecline: 'hold-network' as const,
    onDeclineByRole: { pupil: 'hold-network' as const },
    networkHold: { allow: ['no-such-host.invalid'] },
  },
};

describe.skipIf(!namespacesUsable)('hold-network through the service', () => {
  let ns: Namespace;
  let home: string;
  let running: RunningService | null = null;
  let ipcPath: string;

  async function start(): Promise<RunningService> {
    return runService({
      os: 'linux',
      host: await consoleSessionHost([]),
      config: hostAgentConfig({
        stateDir: join(home, 'state'),
        ipcPath,
        serverUrl: `http://${SERVER.address}:${String(SERVER.port)}`,
      }),
      agentVersion: '0.0.0-test',
      checks: [],
      networkHold: new LinuxNetworkHold({ nft: [...ns.inside, 'nft'] }),
    });
  }

  beforeAll(async () => {
    ns = await makeNamespace();
    home = await mkdtemp(join(tmpdir(), 'hallpass-hold-'));
    ipcPath = join(home, 'agent.sock');
    await writeCachedPolicy(join(home, 'state'), policy);
    running = await start();
  }, 120_000);

  afterAll(async () => {
    await running?.stop();
    await ns.close();
    await rm(home, { recursive: true, force: true });
  });

  const pendingDocument = async (): Promise<AupPendingDocument> => {
    const answer = await askProven(ipcPath, { channel: 'aup:pending' });
    const document = answer.ok ? answer.aup?.documents[0] : undefined;
    if (document === undefined) {
      throw new Error(`nothing pending: ${JSON.stringify(answer)}`);
    }
    return document;
  };
  const decline = async (document: AupPendingDocument) =>
    askProven(ipcPath, {
      channel: 'aup:decline',
      documentId: document.id,
      textSha256: document.textSha256,
    });

  it('declining holds the network to the server; signing opens it at once', async () => {
    const document = await pendingDocument();
    const answer = await decline(document);
    expect(answer).toMatchObject({ ok: true, aup: { declined: { action: 'hold-network' } } });
    // Held, and ICT hears that an allowlisted name did not resolve.
    const actionError = answer.ok ? answer.aup?.declined?.actionError : undefined;
    expect(actionError).toMatch(/^held; not resolved: no-such-host\.invalid/);
    expect(await ns.tables()).toContain(HOLD_TABLE);
    expect(await ns.probe(SERVER)).toBe('ok');
    expect(REFUSED).toContain(await ns.probe(OTHER));

    const signed = await askProven(ipcPath, {
      channel: 'aup:sign',
      ...completeSignature(document),
    });
    expect(signed).toMatchObject({ ok: true });
    expect(await ns.tables()).not.toContain(HOLD_TABLE);
    expect(await ns.probe(OTHER)).toBe('ok');

    const events = (await readOutboxFolder(join(home, 'state', 'outbox'))).items
      .map((item) => item.payload as unknown as AgentEvent)
      .filter((event) => event.type === 'aup.declined' || event.type === 'aup.accepted');
    expect(events.map((e) => e.type)).toEqual(['aup.declined', 'aup.accepted']);
  }, 120_000);

  it('a hold in force opens when the service stops', async () => {
    // A fresh state folder: the pupil has a document to sign again.
    await running?.stop();
    await rm(join(home, 'state', 'outbox'), { recursive: true, force: true });
    await rm(join(home, 'state', 'aup-signatures.json'), { force: true });
    running = await start();
    const document = await pendingDocument();
    await decline(document);
    expect(await ns.tables()).toContain(HOLD_TABLE);
    await running.stop();
    running = null;
    expect(await ns.tables()).not.toContain(HOLD_TABLE);
    expect(await ns.probe(OTHER)).toBe('ok');
  }, 120_000);
});
