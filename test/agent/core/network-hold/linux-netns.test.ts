// The Linux network hold for real: nftables in a network namespace this test makes
// (test/helpers/netns.ts), connections made from inside it by real processes. The hold lets
// through only what it allows, goes the moment it is released, and goes with the process that
// made it when that process is killed (the kernel drops an owned table with its socket).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinuxNetworkHold } from '../../../../agent/core/network-hold/linux.ts';
import { HOLD_TABLE } from '../../../../agent/core/network-hold/nft-script.ts';
import { waitFor } from '../../../helpers/agent-process.ts';
import {
  LOOPBACK,
  makeNamespace,
  namespacesUsable,
  OTHER,
  OTHER_DNS,
  REFUSED,
  SERVER,
  type Namespace,
} from '../../../helpers/netns.ts';

describe.skipIf(!namespacesUsable)('LinuxNetworkHold in a network namespace', () => {
  let ns: Namespace;
  beforeAll(async () => {
    ns = await makeNamespace();
  }, 120_000);
  afterAll(async () => {
    await ns.close();
  });

  it('lets through the server, loopback and nothing else, and opens at once on release', async () => {
    expect(await ns.probe(OTHER)).toBe('ok');
    const hold = new LinuxNetworkHold({ nft: [...ns.inside, 'nft'] });
    await hold.hold([SERVER]);
    expect(hold.held()).toBe(true);
    expect(await ns.tables()).toContain(HOLD_TABLE);
    expect(await ns.probe(SERVER)).toBe('ok');
    expect(await ns.probe(LOOPBACK)).toBe('ok');
    // DNS to any resolver stays open, so names resolve while held.
    expect(await ns.probe(OTHER_DNS)).toBe('ok');
    // Refused at once, not left to time out.
    expect(REFUSED).toContain(await ns.probe(OTHER));
    // The same address on another port is not the server.
    expect(REFUSED).toContain(await ns.probe({ address: SERVER.address, port: OTHER.port }));

    await hold.release();
    expect(hold.held()).toBe(false);
    expect(await ns.tables()).not.toContain(HOLD_TABLE);
    expect(await ns.probe(OTHER)).toBe('ok');
  }, 120_000);

  // Issue 12: the root service may have been started with any PATH; a fake `ip` or `nft` early
  // on it must never be what holds the network.
  it('runs nft from the fixed root-only PATH, never a planted one', async () => {
    const fakes = await mkdtemp(join(tmpdir(), 'hallpass-fake-nft-'));
    const marker = join(fakes, 'ran');
    for (const name of ['ip', 'nft']) {
      await writeFile(join(fakes, name), `#!/bin/sh\necho "$0" >> ${marker}\nexit 0\n`, {
        mode: 0o755,
      });
    }
    // Only the hold's own commands see the planted PATH; the test's checks use the real one.
    const inherited = process.env.PATH;
    const withPlantedPath = async (step: () => Promise<void>): Promise<void> => {
      process.env.PATH = `${fakes}:${inherited ?? ''}`;
      try {
        await step();
      } finally {
        process.env.PATH = inherited;
      }
    };
    const hold = new LinuxNetworkHold({ nft: [...ns.inside, 'nft'] });
    try {
      await withPlantedPath(() => hold.hold([SERVER]));
      expect(await ns.tables()).toContain(HOLD_TABLE);
      expect(REFUSED).toContain(await ns.probe(OTHER));
      await withPlantedPath(() => hold.release());
      expect(await ns.tables()).not.toContain(HOLD_TABLE);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await hold.release();
      await rm(fakes, { recursive: true, force: true });
    }
  }, 120_000);

  it('a second hold replaces the first; an address with any port is allowed whole', async () => {
    const hold = new LinuxNetworkHold({ nft: [...ns.inside, 'nft'] });
    await hold.hold([SERVER]);
    await hold.hold([{ address: OTHER.address, port: null }]);
    expect((await ns.tables()).match(new RegExp(HOLD_TABLE, 'g'))).toHaveLength(1);
    expect(await ns.probe(OTHER)).toBe('ok');
    expect(REFUSED).toContain(await ns.probe(SERVER));
    await hold.release();
  }, 120_000);

  it('goes with the process that made it when that process is killed', async () => {
    const module = new URL('../../../../agent/core/network-hold/linux.ts', import.meta.url).href;
    const script = `import { LinuxNetworkHold } from '${module}';
      const hold = new LinuxNetworkHold({ nft: ${JSON.stringify([...ns.inside, 'nft'])} });
      await hold.hold([${JSON.stringify(SERVER)}]);
      console.log('held');
      setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let said = '';
    holder.stdout.on('data', (chunk: Buffer) => (said += chunk.toString()));
    holder.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
    await waitFor('the hold', () => Promise.resolve(said.includes('held') || null), 60_000);
    expect(REFUSED).toContain(await ns.probe(OTHER));

    holder.kill('SIGKILL');
    await waitFor(
      'the hold to go',
      async () => ((await ns.tables()).includes(HOLD_TABLE) ? null : true),
      60_000,
    );
    expect(await ns.probe(OTHER)).toBe('ok');
  }, 120_000);

  it('a hold it cannot make is an error that leaves nothing held', async () => {
    const hold = new LinuxNetworkHold({ nft: [...ns.inside, '/nonexistent/nft'] });
    await expect(hold.hold([SERVER])).rejects.toThrow(/could not hold the network/);
    expect(hold.held()).toBe(false);
    expect(await ns.tables()).not.toContain(HOLD_TABLE);
  }, 120_000);
});
