// A throwaway network namespace for tests of the network hold: loopback up, two extra addresses
// on it (not 127/8, so a hold sees them as other hosts) with a TCP listener on each, and a probe
// that connects from inside the namespace as a real process would. Needs root, `ip` and `nft`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { waitFor } from './agent-process.ts';

export interface Target {
  address: string;
  port: number;
}

/** The namespace's stand-ins: the Hallpass server, any other host, and loopback. */
export const SERVER: Target = { address: '10.99.0.1', port: 7001 };
export const OTHER: Target = { address: '10.99.0.2', port: 7002 };
export const LOOPBACK: Target = { address: '127.0.0.1', port: 7003 };
/** DNS (over TCP) on the other host: a hold leaves port 53 open to any resolver. */
export const OTHER_DNS: Target = { address: OTHER.address, port: 53 };

/** What a refused connection looks like to the application (reset, refused, or not permitted). */
export const REFUSED = ['ECONNRESET', 'ECONNREFUSED', 'EPERM'];

function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command = '', ...args] = argv;
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
    });
  });
}

/** Whether this machine can make namespaces and nftables tables (root, ip, nft). */
export const namespacesUsable =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  (await run(['nft', '--version'])).code === 0 &&
  (await run(['ip', '-V'])).code === 0;

export interface Namespace {
  /** The command prefix that runs a command inside it. */
  inside: string[];
  /** `ok`, `timeout`, or the error code a connection from inside met. */
  probe(target: Target): Promise<string>;
  /** `nft list tables` inside. */
  tables(): Promise<string>;
  close(): Promise<void>;
}

/** Makes the namespace, with its listeners answering. */
export async function makeNamespace(): Promise<Namespace> {
  const name = `hp-hold-${randomBytes(3).toString('hex')}`;
  const inside = ['ip', 'netns', 'exec', name];
  for (const argv of [
    ['ip', 'netns', 'add', name],
    ['ip', '-n', name, 'link', 'set', 'lo', 'up'],
    ['ip', '-n', name, 'addr', 'add', `${SERVER.address}/32`, 'dev', 'lo'],
    ['ip', '-n', name, 'addr', 'add', `${OTHER.address}/32`, 'dev', 'lo'],
  ]) {
    const result = await run(argv);
    if (result.code !== 0) {
      await run(['ip', 'netns', 'del', name]);
      throw new Error(`${argv.join(' ')}: ${result.stderr}`);
    }
  }
  const serve = [SERVER, OTHER, LOOPBACK, OTHER_DNS]
    .map((t) => `net.createServer((c) => c.end()).listen(${String(t.port)}, '${t.address}');`)
    .join('');
  const [command = 'ip', ...args] = inside;
  const listener: ChildProcess = spawn(
    command,
    [...args, process.execPath, '-e', `const net = require('node:net');${serve}`],
    { stdio: 'ignore' },
  );
  const probe = async (target: Target): Promise<string> => {
    const script = `const s = require('node:net').connect(${String(target.port)}, '${target.address}');
      s.setTimeout(5000, () => { console.log('timeout'); process.exit(0); });
      s.on('connect', () => { console.log('ok'); process.exit(0); });
      s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
    return (await run([...inside, process.execPath, '-e', script])).stdout.trim();
  };
  await waitFor(
    'the listeners in the namespace',
    async () => ((await probe(LOOPBACK)) === 'ok' ? true : null),
    60_000,
  );
  return {
    inside,
    probe,
    tables: async () => (await run([...inside, 'nft', 'list', 'tables'])).stdout,
    close: async () => {
      listener.kill('SIGKILL');
      await run(['ip', 'netns', 'del', name]);
    },
  };
}
