// The Linux network hold for real: nftables in a network namespace this test makes, with two
// addresses on its loopback interface (not 127/8) standing for the Hallpass server and any other host, and
// loopback. Connections are made from inside the namespace by real processes. The hold lets
// through only what it allows, goes the moment it is released, and goes with the process that
// made it when that process is killed (the kernel drops an owned table with its socket).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinuxNetworkHold } from '../../../../agent/core/network-hold/linux.ts';
import { HOLD_TABLE } from '../../../../agent/core/network-hold/nft-script.ts';
import { waitFor } from '../../../helpers/agent-process.ts';

const ns = `hp-hold-${randomBytes(3).toString('hex')}`;
const SERVER = { address: '10.99.0.1', port: 7001 };
const OTHER = { address: '10.99.0.2', port: 7002 };
const LOOPBACK = { address: '127.0.0.1', port: 7003 };
const inNs = ['ip', 'netns', 'exec', ns];

function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command = '', ...args] = argv;
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
    });
  });
}

/** Connects from inside the namespace; `ok` or the error code the application saw. */
async function probe(target: { address: string; port: number }): Promise<string> {
  const script = `const s = require('node:net').connect(${String(target.port)}, '${target.address}');
    s.setTimeout(5000, () => { console.log('timeout'); process.exit(0); });
    s.on('connect', () => { console.log('ok'); process.exit(0); });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
  const { stdout } = await run([...inNs, process.execPath, '-e', script]);
  return stdout.trim();
}

const tables = async () => (await run([...inNs, 'nft', 'list', 'tables'])).stdout;

const usable =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  (await run(['nft', '--version'])).code === 0 &&
  (await run(['ip', '-V'])).code === 0;

describe.skipIf(!usable)('LinuxNetworkHold in a network namespace', () => {
  let listener: ReturnType<typeof spawn> | null = null;

  beforeAll(async () => {
    for (const argv of [
      ['ip', 'netns', 'add', ns],
      ['ip', '-n', ns, 'link', 'set', 'lo', 'up'],
      ['ip', '-n', ns, 'addr', 'add', `${SERVER.address}/32`, 'dev', 'lo'],
      ['ip', '-n', ns, 'addr', 'add', `${OTHER.address}/32`, 'dev', 'lo'],
    ]) {
      const result = await run(argv);
      if (result.code !== 0) {
        throw new Error(`${argv.join(' ')}: ${result.stderr}`);
      }
    }
    const serve = [SERVER, OTHER, LOOPBACK]
      .map((t) => `net.createServer((c) => c.end()).listen(${String(t.port)}, '${t.address}');`)
      .join('');
    listener = spawn(
      ...([
        inNs[0],
        [...inNs.slice(1), process.execPath, '-e', `const net = require('node:net');${serve}`],
      ] as [string, string[]]),
      {
        stdio: 'ignore',
      },
    );
    await waitFor(
      'the listeners in the namespace',
      async () => ((await probe(LOOPBACK)) === 'ok' ? true : null),
      60_000,
    );
  }, 120_000);

  afterAll(async () => {
    listener?.kill('SIGKILL');
    await run(['ip', 'netns', 'del', ns]);
  });

  it('lets through the server, loopback and nothing else, and opens at once on release', async () => {
    expect(await probe(OTHER)).toBe('ok');
    const hold = new LinuxNetworkHold({ nft: [...inNs, 'nft'] });
    await hold.hold([SERVER]);
    expect(hold.held()).toBe(true);
    expect(await tables()).toContain(HOLD_TABLE);
    expect(await probe(SERVER)).toBe('ok');
    expect(await probe(LOOPBACK)).toBe('ok');
    // Refused at once, not left to time out.
    expect(['ECONNRESET', 'ECONNREFUSED', 'EPERM']).toContain(await probe(OTHER));
    // The same address on another port is not the server.
    expect(['ECONNRESET', 'ECONNREFUSED', 'EPERM']).toContain(
      await probe({ address: SERVER.address, port: OTHER.port }),
    );

    await hold.release();
    expect(hold.held()).toBe(false);
    expect(await tables()).not.toContain(HOLD_TABLE);
    expect(await probe(OTHER)).toBe('ok');
  }, 120_000);

  it('a second hold replaces the first; an address any port is allowed whole', async () => {
    const hold = new LinuxNetworkHold({ nft: [...inNs, 'nft'] });
    await hold.hold([SERVER]);
    await hold.hold([{ address: OTHER.address, port: null }]);
    expect((await tables()).match(new RegExp(HOLD_TABLE, 'g'))).toHaveLength(1);
    expect(await probe(OTHER)).toBe('ok');
    expect(['ECONNRESET', 'ECONNREFUSED', 'EPERM']).toContain(await probe(SERVER));
    await hold.release();
  }, 120_000);

  it('goes with the process that made it when that process is killed', async () => {
    const module = new URL('../../../../agent/core/network-hold/linux.ts', import.meta.url).href;
    const script = `import { LinuxNetworkHold } from '${module}';
      const hold = new LinuxNetworkHold({ nft: ${JSON.stringify([...inNs, 'nft'])} });
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
    expect(['ECONNRESET', 'ECONNREFUSED', 'EPERM']).toContain(await probe(OTHER));

    holder.kill('SIGKILL');
    await waitFor(
      'the hold to go',
      async () => ((await tables()).includes(HOLD_TABLE) ? null : true),
      60_000,
    );
    expect(await probe(OTHER)).toBe('ok');
  }, 120_000);

  it('a hold it cannot make is an error that leaves nothing held', async () => {
    const hold = new LinuxNetworkHold({ nft: [...inNs, '/nonexistent/nft'] });
    await expect(hold.hold([SERVER])).rejects.toThrow(/could not hold the network/);
    expect(hold.held()).toBe(false);
    expect(await tables()).not.toContain(HOLD_TABLE);
  }, 120_000);
});
