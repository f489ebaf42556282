// Builds the small initramfs a QEMU test guest boots: busybox, the kernel modules the guest
// needs (with their dependencies, in load order), any host programs with their shared
// libraries, and an /init script. Written as a "newc" cpio archive (the format the kernel
// unpacks, Documentation/driver-api/early-userspace/buffer-format.rst) by a few lines of
// code here rather than by `cpio`, so the harness needs one package fewer and can add device
// nodes (/dev/console) without root tricks.
import { execFile } from 'node:child_process';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** One entry of the archive: a file (from the host or given inline), a folder, a link or a node. */
export type InitramfsEntry =
  | { kind: 'file'; path: string; mode: number; source: string }
  | { kind: 'data'; path: string; mode: number; data: string | Buffer }
  | { kind: 'dir'; path: string }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (value: number) => value.toString(16).padStart(8, '0');
const pad4 = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);

/** The newc header and name of one entry, padded to four bytes. */
function header(
  ino: number,
  path: string,
  mode: number,
  size: number,
  rdev: { major: number; minor: number } = { major: 0, minor: 0 },
): Buffer {
  const name = Buffer.from(`${path.replace(/^\/+/, '')}\0`, 'utf8');
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, rdev.major, rdev.minor, name.length, 0];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  const withName = Buffer.concat([head, name]);
  return Buffer.concat([withName, pad4(withName.length)]);
}

/** Folders every listed path needs, parents first (the kernel does not create them). */
function parentDirs(entries: readonly InitramfsEntry[]): string[] {
  const dirs = new Set<string>();
  for (const entry of entries) {
    for (let dir = dirname(entry.path); dir !== '/' && dir !== '.'; dir = dirname(dir)) {
      dirs.add(dir);
    }
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length);
}

async function writeAll(out: FileHandle, chunk: Buffer): Promise<void> {
  await out.write(chunk);
}

/** Writes `entries` (plus the folders they need) as an uncompressed newc archive to `file`. */
export async function writeInitramfs(
  file: string,
  entries: readonly InitramfsEntry[],
): Promise<void> {
  const out = await open(file, 'w', 0o600);
  try {
    let ino = 1;
    const declared = new Set(entries.filter((e) => e.kind === 'dir').map((e) => e.path));
    for (const dir of parentDirs(entries).filter((d) => !declared.has(d))) {
      await writeAll(out, header(ino++, dir, S_IFDIR | 0o755, 0));
    }
    for (const entry of entries) {
      switch (entry.kind) {
        case 'dir':
          await writeAll(out, header(ino++, entry.path, S_IFDIR | 0o755, 0));
          break;
        case 'chardev':
          await writeAll(
            out,
            header(ino++, entry.path, S_IFCHR | 0o600, 0, {
              major: entry.major,
              minor: entry.minor,
            }),
          );
          break;
        case 'symlink': {
          const target = Buffer.from(entry.target, 'utf8');
          await writeAll(out, header(ino++, entry.path, S_IFLNK | 0o777, target.length));
          await writeAll(out, Buffer.concat([target, pad4(target.length)]));
          break;
        }
        case 'data':
        case 'file': {
          const data =
            entry.kind === 'data' ? Buffer.from(entry.data) : await readFile(entry.source);
          await writeAll(out, header(ino++, entry.path, S_IFREG | entry.mode, data.length));
          await writeAll(out, Buffer.concat([data, pad4(data.length)]));
          break;
        }
        default:
          assertNever(entry);
      }
    }
    await writeAll(out, header(ino, 'TRAILER!!!', 0, 0));
  } finally {
    await out.close();
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected initramfs entry ${JSON.stringify(value)}`);
}

/** The shared libraries `ldd` says a host executable loads (the dynamic loader included). */
export async function sharedLibraries(program: string): Promise<string[]> {
  const { stdout } = await exec('ldd', [program]);
  const libraries: string[] = [];
  for (const line of stdout.split('\n')) {
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`
    const library = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)?.[1];
    if (library !== undefined) {
      libraries.push(library);
    }
  }
  return libraries;
}

/**
 * Archive entries for the libraries a program loads, at the same paths in the guest (where the
 * binary's dynamic loader looks for them). The program itself can then live on a disk.
 */
export async function libraryEntries(program: string): Promise<InitramfsEntry[]> {
  return (await sharedLibraries(program)).map((source) => ({
    kind: 'file',
    path: source,
    mode: 0o755,
    source,
  }));
}

/**
 * The given modules and everything they depend on (`modinfo -F depends`), dependencies first,
 * for a flat `insmod` loop in the guest. Built-in modules (no file) are left out.
 */
export async function moduleLoadOrder(
  kernelRelease: string,
  names: readonly string[],
): Promise<string[]> {
  const ordered: string[] = [];
  const seen = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    if (seen.has(name)) {
      return;
    }
    seen.add(name);
    const file = (await exec('modinfo', ['-k', kernelRelease, '-n', name])).stdout.trim();
    if (!file.startsWith('/')) {
      return; // built in
    }
    const depends = (
      await exec('modinfo', ['-k', kernelRelease, '-F', 'depends', name])
    ).stdout.trim();
    for (const dependency of depends.split(',').filter((d) => d !== '')) {
      await visit(dependency);
    }
    if (file.endsWith('.ko')) {
      ordered.push(file);
    } else {
      // busybox insmod reads plain .ko files; Debian 12 ships them uncompressed.
      throw new Error(`kernel module ${file} is compressed; the guest cannot load it`);
    }
  };
  for (const name of names) {
    await visit(name);
  }
  return ordered;
}

/** Archive entries for modules, under /lib/modules/, plus /lib/modules/order listing them. */
export function moduleEntries(files: readonly string[]): InitramfsEntry[] {
  const entries: InitramfsEntry[] = files.map((source) => ({
    kind: 'file',
    path: `/lib/modules/${basename(source)}`,
    mode: 0o644,
    source,
  }));
  entries.push({
    kind: 'data',
    path: '/lib/modules/order',
    mode: 0o644,
    data: files.map((file) => basename(file)).join('\n') + '\n',
  });
  return entries;
}
