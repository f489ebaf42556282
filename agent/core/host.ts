import type { Stats } from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import { execRunner, ProbeError, type Runner } from './runner.ts';

/** Who owns a path and who may write it: what a probe needs to tell a user's file from root's. */
export interface FileStatus {
  uid: number;
  gid: number;
  /** Permission bits, including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  kind: 'file' | 'directory' | 'symlink' | 'other';
}

/** Read-only file access for probes; injected so tests can point probes at recorded files. */
export interface FileReader {
  /** Up to `maxBytes` of a file as bytes, or null when it does not exist. */
  readBytes(path: string, maxBytes: number): Promise<Uint8Array | null>;
  /** A whole (small) text file, or null when it does not exist. */
  readText(path: string): Promise<string | null>;
  /** Modification time, or null when the path does not exist. */
  mtime(path: string): Promise<Date | null>;
  /** Entry names of a directory, or null when it does not exist. */
  list(path: string): Promise<string[] | null>;
  /**
   * Owner, mode and kind of a path (the link itself unless `follow`), or null when missing.
   * Optional: a host without it cannot tell who wrote a file, and probes that need to know
   * must then say so (unknown), never assume the file is root's.
   */
  status?(path: string, options: { follow: boolean }): Promise<FileStatus | null>;
  /** Where a symbolic link points (readlink(2)), or null when the path does not exist. */
  linkTarget?(path: string): Promise<string | null>;
}

function statusOf(stats: Stats): FileStatus {
  const kind = stats.isFile()
    ? 'file'
    : stats.isDirectory()
      ? 'directory'
      : stats.isSymbolicLink()
        ? 'symlink'
        : 'other';
  return { uid: stats.uid, gid: stats.gid, mode: stats.mode & 0o7777, kind };
}

/** Everything a probe may touch on the device. */
export interface Host {
  run: Runner;
  files: FileReader;
  now: () => Date;
}

const MAX_TEXT_BYTES = 4 * 1024 * 1024;
const FIRST_CHUNK_BYTES = 4 * 1024;
const CHUNK_BYTES = 64 * 1024;

function missingToNull(error: unknown, path: string): null {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return null;
  }
  if (code === 'EACCES' || code === 'EPERM') {
    throw new ProbeError('permission-denied', `not allowed to read ${path}`, { cause: error });
  }
  throw new ProbeError('probe-failed', `could not read ${path}`, { cause: error });
}

/** The real file system. Missing paths are null; denied ones are a ProbeError. */
export const nodeFileReader: FileReader = {
  async readBytes(path, maxBytes) {
    try {
      const handle = await open(path, 'r');
      try {
        // Read in small chunks rather than allocating `maxBytes` up front: a 4 MiB buffer per
        // read, every check pass, fragmented malloc's heap and grew the service's RSS without
        // bound (bench/RESULTS.md, service). /proc and /sys files report size 0, so no stat.
        const chunks: Uint8Array[] = [];
        let total = 0;
        while (total < maxBytes) {
          // Most files read here are tiny (/proc/<pid>/comm): start small.
          const size = total === 0 ? FIRST_CHUNK_BYTES : CHUNK_BYTES;
          const chunk = new Uint8Array(Math.min(size, maxBytes - total));
          const { bytesRead } = await handle.read(chunk, 0, chunk.length, total);
          if (bytesRead === 0) {
            break;
          }
          chunks.push(chunk.subarray(0, bytesRead));
          total += bytesRead;
        }
        return Buffer.concat(chunks, total);
      } finally {
        await handle.close();
      }
    } catch (error) {
      return missingToNull(error, path);
    }
  },
  async readText(path) {
    const bytes = await this.readBytes(path, MAX_TEXT_BYTES);
    return bytes === null ? null : new TextDecoder().decode(bytes);
  },
  async mtime(path) {
    try {
      return (await stat(path)).mtime;
    } catch (error) {
      return missingToNull(error, path);
    }
  },
  async list(path) {
    try {
      return await readdir(path);
    } catch (error) {
      return missingToNull(error, path);
    }
  },
  async status(path, options) {
    try {
      return statusOf(options.follow ? await stat(path) : await lstat(path));
    } catch (error) {
      return missingToNull(error, path);
    }
  },
  async linkTarget(path) {
    try {
      return await readlink(path);
    } catch (error) {
      return missingToNull(error, path);
    }
  },
};

/** This machine, for real. */
export const realHost: Host = { run: execRunner, files: nodeFileReader, now: () => new Date() };
