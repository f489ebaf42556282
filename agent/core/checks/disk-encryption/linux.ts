import type { Host } from '../../host.ts';
import type { CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import type { DiskEncryptionFacts, SwapFact } from './facts.ts';

const TIMEOUT = { timeoutMs: 10_000 };
const LSBLK_COLUMNS = ['-J', '-s', '-o', 'NAME,TYPE,FSTYPE,MOUNTPOINT'];

/** Everything the Linux probe read; each text is a command's or file's output as it was. */
export interface LinuxRaw {
  /** `findmnt -n -v -o SOURCE /` and `lsblk -J -s … <source>`. */
  root: { findmnt: CommandOutput; lsblk: CommandOutput };
  /** Device-mapper name → `/sys/block/dm-N/dm/uuid`. */
  dmUuids: Record<string, string>;
  /** `/proc/swaps`, or null when absent. */
  swaps: string | null;
  /** Swap filename → `lsblk -J -s` of the device holding it. */
  swapStacks: Record<string, string>;
  /** A separate `/home` mount: its findmnt source and lsblk stack; null when none. */
  home: { source: string; lsblk: string } | null;
  /** `/proc/mounts`, for file-level home encryption (ecryptfs). */
  mounts: string | null;
}

interface SwapEntry {
  device: string;
  type: string;
}

/** Entries of /proc/swaps (header line first; spaces in names are escaped as \040). */
export function parseSwaps(text: string): SwapEntry[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 2 && fields[0] !== '')
    .map(([device = '', type = '']) => ({ device: device.replace(/\\040/g, ' '), type }));
}

const isZram = (device: string): boolean => /^\/dev\/zram\d+$/.test(device);

async function lsblk(host: Host, device: string): Promise<CommandOutput> {
  return host.run('lsblk', [...LSBLK_COLUMNS, device], TIMEOUT);
}

async function readDmUuids(host: Host): Promise<Record<string, string>> {
  const uuids: Record<string, string> = {};
  for (const entry of (await host.files.list('/sys/block')) ?? []) {
    if (entry.startsWith('dm-')) {
      const name = await host.files.readText(`/sys/block/${entry}/dm/name`);
      const uuid = await host.files.readText(`/sys/block/${entry}/dm/uuid`);
      if (name !== null && uuid !== null) {
        uuids[name.trim()] = uuid.trim();
      }
    }
  }
  return uuids;
}

/** Reads the root file system's device stack, dm uuids, swap and /home (PLATFORMS.md §1). */
export async function probe(host: Host): Promise<LinuxRaw> {
  const findmnt = await host.run('findmnt', ['-n', '-v', '-o', 'SOURCE', '/'], TIMEOUT);
  const source = findmnt.stdout.trim();
  const rootStack = source.startsWith('/dev/')
    ? await lsblk(host, source)
    : { stdout: '', stderr: 'no block device to ask lsblk about', exitCode: 1 };
  const swaps = await host.files.readText('/proc/swaps');
  const swapStacks: Record<string, string> = {};
  for (const { device, type } of parseSwaps(swaps ?? '')) {
    if (isZram(device)) {
      continue;
    }
    // A swap file lives on a file system: judge the device under it (findmnt -T, util-linux).
    const holder =
      type === 'file'
        ? (
            await host.run('findmnt', ['-n', '-v', '-o', 'SOURCE', '-T', device], TIMEOUT)
          ).stdout.trim()
        : device;
    if (holder.startsWith('/dev/')) {
      swapStacks[device] = (await lsblk(host, holder)).stdout;
    }
  }
  const homeMount = await host.run('findmnt', ['-n', '-v', '-o', 'SOURCE', '/home'], TIMEOUT);
  const homeSource = homeMount.exitCode === 0 ? homeMount.stdout.trim() : '';
  const home =
    homeSource.startsWith('/dev/') && homeSource !== source
      ? { source: homeSource, lsblk: (await lsblk(host, homeSource)).stdout }
      : null;
  const mounts = await host.files.readText('/proc/mounts');
  return {
    root: { findmnt, lsblk: rootStack },
    dmUuids: await readDmUuids(host),
    swaps,
    swapStacks,
    home,
    mounts,
  };
}

interface Node {
  name: string;
  type: string;
  fstype: string | null;
  mountpoints: string[];
  children: Node[];
}

/** One lsblk JSON node; util-linux < 2.33 prints every value as a string, later ones typed. */
function toNode(value: unknown): Node | null {
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const record = value as Record<string, unknown>;
  if (typeof record.name !== 'string' || typeof record.type !== 'string') {
    return null;
  }
  const points = [
    record.mountpoint,
    ...(Array.isArray(record.mountpoints) ? (record.mountpoints as unknown[]) : []),
  ];
  const children = Array.isArray(record.children) ? (record.children as unknown[]).map(toNode) : [];
  if (children.some((child) => child === null)) {
    return null;
  }
  return {
    name: record.name,
    type: record.type,
    fstype: typeof record.fstype === 'string' && record.fstype !== '' ? record.fstype : null,
    mountpoints: points.filter((point): point is string => typeof point === 'string'),
    children: children as Node[],
  };
}

function readTree(text: string): Node[] | null {
  try {
    const data = JSON.parse(text) as unknown;
    const devices = (data as { blockdevices?: unknown }).blockdevices;
    if (!Array.isArray(devices) || devices.length === 0) {
      return null;
    }
    const nodes = devices.map(toNode);
    return nodes.some((node) => node === null) ? null : (nodes as Node[]);
  } catch {
    return null;
  }
}

/** Every path from `node` down to a leaf: with `lsblk -s` the children are what it sits on. */
function chainsBelow(node: Node): Node[][] {
  if (node.children.length === 0) {
    return [[node]];
  }
  return node.children.flatMap((child) => chainsBelow(child).map((chain) => [node, ...chain]));
}

/**
 * The device stacks under the target, each listed from the target down to a disk. The probe asks
 * `lsblk -s` about one device, so the target is the node on top (mounted at `mountpoint`, or the
 * only top-level node); in an ordinary tree it is a leaf, and its stack is the path to it reversed.
 */
function stacksOf(roots: Node[], mountpoint: string | null): Node[][] | null {
  const found: Node[][] = [];
  // A mounted node that both sits under something and holds something is not a shape we know.
  const ambiguous: Node[] = [];
  const visit = (node: Node, path: Node[]): void => {
    if (mountpoint !== null && node.mountpoints.includes(mountpoint)) {
      if (path.length === 0) {
        found.push(...chainsBelow(node));
      } else if (node.children.length === 0) {
        found.push([node, ...[...path].reverse()]);
      } else {
        ambiguous.push(node);
      }
      return;
    }
    node.children.forEach((child) => {
      visit(child, [...path, node]);
    });
  };
  roots.forEach((root) => {
    visit(root, []);
  });
  if (ambiguous.length > 0) {
    return null;
  }
  const [only] = roots;
  if (found.length === 0 && roots.length === 1 && only !== undefined) {
    return chainsBelow(only);
  }
  return found.length > 0 ? found : null;
}

type Layer =
  | { kind: 'encrypts'; method: string }
  | { kind: 'plain' }
  | { kind: 'not-encrypting'; why: string }
  | { kind: 'unknown'; why: string };

// libcryptsetup names every device it makes CRYPT-<TYPE>-…; only these types encrypt.
// VERITY and INTEGRITY also show as TYPE "crypt" in lsblk but protect integrity, not secrecy.
const ENCRYPTING = ['LUKS1', 'LUKS2', 'PLAIN', 'BITLK', 'TCRYPT'];

function layerOf(node: Node, below: Node | undefined, dmUuids: Record<string, string>): Layer {
  if (node.type !== 'crypt') {
    return { kind: 'plain' };
  }
  const uuid = dmUuids[node.name];
  const type = uuid === undefined ? undefined : /^CRYPT-([A-Z0-9]+)-/.exec(uuid)?.[1];
  if (type !== undefined) {
    return ENCRYPTING.includes(type)
      ? { kind: 'encrypts', method: type }
      : {
          kind: 'not-encrypting',
          why: `${node.name} is a dm-${type.toLowerCase()} device, which does not encrypt`,
        };
  }
  // Without the dm uuid, a LUKS header under the crypt device still proves encryption (blkid).
  if (below?.fstype === 'crypto_LUKS') {
    return { kind: 'encrypts', method: 'LUKS' };
  }
  return { kind: 'unknown', why: `cannot tell what kind of crypt device ${node.name} is` };
}

interface StackVerdict {
  state: 'encrypted' | 'not-encrypted' | 'undetermined';
  method: string | null;
  why: string | null;
}

function judgeStack(stack: Node[], dmUuids: Record<string, string>): StackVerdict {
  const layers = stack.map((node, index) => layerOf(node, stack[index + 1], dmUuids));
  for (const layer of layers) {
    if (layer.kind === 'encrypts') {
      return { state: 'encrypted', method: layer.method, why: null };
    }
  }
  const unknown = layers.find((layer) => layer.kind === 'unknown');
  if (unknown?.kind === 'unknown') {
    return { state: 'undetermined', method: null, why: unknown.why };
  }
  const other = layers.find((layer) => layer.kind === 'not-encrypting');
  return {
    state: 'not-encrypted',
    method: null,
    why: other?.kind === 'not-encrypting' ? other.why : null,
  };
}

/** Encrypted only when every path down to a disk passes through an encrypting layer. */
function judge(stacks: Node[][], dmUuids: Record<string, string>): StackVerdict {
  const verdicts = stacks.map((stack) => judgeStack(stack, dmUuids));
  return (
    verdicts.find((verdict) => verdict.state === 'not-encrypted') ??
    verdicts.find((verdict) => verdict.state === 'undetermined') ??
    verdicts[0] ?? { state: 'undetermined', method: null, why: 'no device stack' }
  );
}

const describe = (node: Node): string =>
  [node.name, node.type, node.fstype].filter((part) => part !== null).join(' ');

/** Parses the Linux probe's outputs into facts; an unreadable root stack is unrecognised. */
export function parse(raw: LinuxRaw): Parsed<DiskEncryptionFacts> {
  const source = raw.root.findmnt.stdout.trim();
  const roots = readTree(raw.root.lsblk.stdout);
  const stacks = roots === null ? null : stacksOf(roots, '/');
  if (source === '' || stacks === null) {
    const said =
      `${raw.root.findmnt.stderr} ${raw.root.lsblk.stderr} ${raw.root.lsblk.stdout}`.trim();
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: `no device stack for /: ${said.slice(0, 300)}`,
    };
  }
  const rootVerdict = judge(stacks, raw.dmUuids);
  const swap = parseSwaps(raw.swaps ?? '').map(({ device, type }): SwapFact => {
    const kind = isZram(device) ? 'zram' : type === 'file' ? 'file' : 'partition';
    if (kind === 'zram') {
      return { device, kind, state: 'not-disk' };
    }
    const text = raw.swapStacks[device];
    const tree = text === undefined ? null : readTree(text);
    const swapStacks = tree === null ? null : stacksOf(tree, null);
    return {
      device,
      kind,
      state: swapStacks === null ? 'undetermined' : judge(swapStacks, raw.dmUuids).state,
    };
  });
  const partial: string[] = [];
  if (rootVerdict.state !== 'encrypted') {
    const homeTree = raw.home === null ? null : readTree(raw.home.lsblk);
    const homeStacks = homeTree === null ? null : stacksOf(homeTree, '/home');
    if (homeStacks !== null && judge(homeStacks, raw.dmUuids).state === 'encrypted') {
      partial.push('/home');
    }
    // eCryptfs home directories (Ubuntu's old "encrypt my home folder") are file-level only.
    for (const line of (raw.mounts ?? '').split('\n')) {
      const [, mountpoint, fstype] = line.split(' ');
      if (fstype === 'ecryptfs' && mountpoint !== undefined) {
        partial.push(mountpoint.replace(/\\040/g, ' '));
      }
    }
  }
  return {
    ok: true,
    facts: {
      technology: 'dm-crypt',
      volume: source,
      state: rootVerdict.state,
      percentEncrypted: null,
      method: rootVerdict.method,
      protectors: [],
      stack: (stacks[0] ?? []).map(describe),
      swap,
      partial,
      detail: rootVerdict.why,
    },
  };
}

/** Linux half of the disk-encryption check. */
export const linux = platformCheck({ probe, parse });
