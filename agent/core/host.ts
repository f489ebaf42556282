import { open, readdir, stat } from 'node:fs/promises';
import { execRunner, ProbeError, type Runner } from './runner.ts';

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
}

/** Everything a probe may touch on the device. */
export interface Host {
  run: Runner;
  files: FileReader;
  now: () => Date;
}

const MAX_TEXT_BYTES = 4 * 1024 * 1024;

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
        const buffer = new Uint8Array(maxBytes);
        const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
        return buffer.subarray(0, bytesRead);
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
};

/** This machine, for real. */
export const realHost: Host = { run: execRunner, files: nodeFileReader, now: () => new Date() };
