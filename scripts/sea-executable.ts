// Reads a Windows PE or macOS Mach-O executable far enough to find the SEA blob postject put in
// it, where Node looks for it at start-up: on Windows the RT_RCDATA resource NODE_SEA_BLOB
// (FindResource), on macOS section __NODE_SEA_BLOB of segment NODE_SEA (getsectdata). Built
// on Linux, these executables cannot be run here; reading them back is how the build knows the
// injection landed. Layouts: Microsoft "PE Format" (optional header, data directories, resource
// directory tables) and Apple's <mach-o/loader.h> (mach_header_64, segment_command_64,
// section_64). Anything outside what this reads is refused with the reason, never guessed.

/** The sentinel Node's binary checks; postject turns its trailing `:0` into `:1`. */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** First four bytes of a SEA blob (node_sea.cc `kMagic`, 0x0143da20, little-endian). */
export const SEA_BLOB_MAGIC = 0x0143da20;

/** What an executable carries of a single executable application. */
export interface SeaExecutable {
  format: 'pe' | 'macho';
  /** The CPU the executable is for; `other` names none Hallpass ships. */
  arch: 'x64' | 'arm64' | 'other';
  /** The injected blob, or null when the executable carries none. */
  blob: Buffer | null;
  /** `flipped` once a blob was injected; `absent` when this is no Node binary at all. */
  fuse: 'flipped' | 'unflipped' | 'absent';
  /** Mach-O: whether an LC_CODE_SIGNATURE is present (after injection it no longer matches). */
  codeSignature: boolean | null;
}

/** The file is not a PE or Mach-O this reader understands; the message says what was wrong. */
export class ExecutableFormatError extends Error {}

/** Inspects an executable's bytes; throws ExecutableFormatError on anything it cannot read. */
export function inspectExecutable(bytes: Buffer): SeaExecutable {
  if (bytes.length >= 2 && bytes.toString('latin1', 0, 2) === 'MZ') {
    return inspectPe(bytes);
  }
  if (bytes.length >= 4) {
    const magic = bytes.readUInt32LE(0);
    if (magic === 0xfeedfacf) {
      return inspectMachO(bytes);
    }
    if (magic === 0xfeedface || magic === 0xcefaedfe) {
      throw new ExecutableFormatError('a 32-bit Mach-O: Node ships 64-bit only');
    }
    if (bytes.readUInt32BE(0) === 0xcafebabe || bytes.readUInt32BE(0) === 0xcafebabf) {
      throw new ExecutableFormatError('a universal (fat) Mach-O: expected a single architecture');
    }
  }
  throw new ExecutableFormatError('neither a PE (MZ) nor a 64-bit Mach-O file');
}

/** Bounds-checked little-endian reads: a truncated or hostile file throws, never reads past. */
class Reader {
  readonly bytes: Buffer;
  readonly what: string;

  constructor(bytes: Buffer, what: string) {
    this.bytes = bytes;
    this.what = what;
  }

  #check(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.bytes.length) {
      throw new ExecutableFormatError(`${this.what}: offset ${String(offset)} is outside the file`);
    }
  }

  u16(offset: number): number {
    this.#check(offset, 2);
    return this.bytes.readUInt16LE(offset);
  }

  u32(offset: number): number {
    this.#check(offset, 4);
    return this.bytes.readUInt32LE(offset);
  }

  u64(offset: number): number {
    this.#check(offset, 8);
    const value = this.bytes.readBigUInt64LE(offset);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ExecutableFormatError(`${this.what}: a 64-bit field is out of range`);
    }
    return Number(value);
  }

  slice(offset: number, length: number): Buffer {
    this.#check(offset, length);
    return this.bytes.subarray(offset, offset + length);
  }

  /** A fixed-size, NUL-padded ASCII name (section and segment names). */
  name(offset: number, length: number): string {
    return this.slice(offset, length).toString('latin1').replace(/\0.*$/s, '');
  }
}

function fuseState(bytes: Buffer): SeaExecutable['fuse'] {
  const at = bytes.indexOf(`${SEA_FUSE}:`, 0, 'latin1');
  if (at < 0) {
    return 'absent';
  }
  const state = bytes[at + SEA_FUSE.length + 1];
  return state === 0x31 ? 'flipped' : 'unflipped';
}

const RT_RCDATA = 10;
const SEA_RESOURCE = 'NODE_SEA_BLOB';

function inspectPe(bytes: Buffer): SeaExecutable {
  const r = new Reader(bytes, 'PE');
  const pe = r.u32(0x3c);
  if (r.slice(pe, 4).toString('latin1') !== 'PE\0\0') {
    throw new ExecutableFormatError('PE: no PE signature where the DOS header points');
  }
  const machine = r.u16(pe + 4);
  const sectionCount = r.u16(pe + 6);
  const optionalSize = r.u16(pe + 20);
  const optional = pe + 24;
  if (r.u16(optional) !== 0x20b) {
    throw new ExecutableFormatError('PE: not PE32+ (a 64-bit image)');
  }
  const directoryCount = r.u32(optional + 108);
  const sections = Array.from({ length: sectionCount }, (_, index) => {
    const at = optional + optionalSize + index * 40;
    return {
      virtualSize: r.u32(at + 8),
      virtualAddress: r.u32(at + 12),
      rawSize: r.u32(at + 16),
      rawOffset: r.u32(at + 20),
    };
  });
  const fileOffset = (rva: number): number => {
    const section = sections.find(
      (s) => rva >= s.virtualAddress && rva < s.virtualAddress + Math.max(s.virtualSize, s.rawSize),
    );
    if (section === undefined) {
      throw new ExecutableFormatError(`PE: address ${rva.toString(16)} is in no section`);
    }
    return section.rawOffset + (rva - section.virtualAddress);
  };
  const arch: SeaExecutable['arch'] =
    machine === 0x8664 ? 'x64' : machine === 0xaa64 ? 'arm64' : 'other';
  const base = { format: 'pe' as const, arch, fuse: fuseState(bytes), codeSignature: null };
  // Data directory 2 is the resource table; a binary without one carries no blob.
  const resourceRva = directoryCount > 2 ? r.u32(optional + 112 + 2 * 8) : 0;
  if (resourceRva === 0) {
    return { ...base, blob: null };
  }
  const root = fileOffset(resourceRva);
  const entries = (
    directory: number,
  ): { name: number | string; target: number; dir: boolean }[] => {
    const count = r.u16(directory + 12) + r.u16(directory + 14);
    if (count > 4096) {
      throw new ExecutableFormatError('PE: implausibly many resource entries');
    }
    return Array.from({ length: count }, (_, index) => {
      const at = directory + 16 + index * 8;
      const name = r.u32(at);
      const target = r.u32(at + 4);
      const label =
        (name & 0x80000000) !== 0
          ? r
              .slice(root + (name & 0x7fffffff) + 2, r.u16(root + (name & 0x7fffffff)) * 2)
              .toString('utf16le')
          : name;
      return {
        name: label,
        target: root + (target & 0x7fffffff),
        dir: (target & 0x80000000) !== 0,
      };
    });
  };
  const rcdata = entries(root).find((e) => e.name === RT_RCDATA && e.dir);
  const named = rcdata && entries(rcdata.target).find((e) => e.name === SEA_RESOURCE && e.dir);
  const language = named && entries(named.target).find((e) => !e.dir);
  if (language === undefined) {
    return { ...base, blob: null };
  }
  const blob = r.slice(fileOffset(r.u32(language.target)), r.u32(language.target + 4));
  return { ...base, blob: checkedBlob(blob, 'PE') };
}

const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;

function inspectMachO(bytes: Buffer): SeaExecutable {
  const r = new Reader(bytes, 'Mach-O');
  const cpu = r.u32(4);
  const commandCount = r.u32(16);
  const commandBytes = r.u32(20);
  if (commandCount > 4096 || 32 + commandBytes > bytes.length) {
    throw new ExecutableFormatError('Mach-O: load commands run past the file');
  }
  let blob: Buffer | null = null;
  let codeSignature = false;
  let at = 32;
  for (let index = 0; index < commandCount; index += 1) {
    const command = r.u32(at);
    const size = r.u32(at + 4);
    if (size < 8 || at + size > 32 + commandBytes) {
      throw new ExecutableFormatError(`Mach-O: load command ${String(index)} has a bad size`);
    }
    if (command === LC_CODE_SIGNATURE) {
      codeSignature = true;
    }
    if (command === LC_SEGMENT_64 && r.name(at + 8, 16) === 'NODE_SEA') {
      const sectionCount = r.u32(at + 64);
      for (let s = 0; s < sectionCount; s += 1) {
        const section = at + 72 + s * 80;
        if (section + 80 > at + size) {
          throw new ExecutableFormatError('Mach-O: NODE_SEA sections run past their command');
        }
        if (r.name(section, 16) === '__NODE_SEA_BLOB') {
          blob = checkedBlob(r.slice(r.u32(section + 48), r.u64(section + 40)), 'Mach-O');
        }
      }
    }
    at += size;
  }
  const arch = cpu === 0x01000007 ? 'x64' : cpu === 0x0100000c ? 'arm64' : 'other';
  return { format: 'macho', arch, blob, fuse: fuseState(bytes), codeSignature };
}

function checkedBlob(blob: Buffer, what: string): Buffer {
  if (blob.length < 8 || blob.readUInt32LE(0) !== SEA_BLOB_MAGIC) {
    throw new ExecutableFormatError(
      `${what}: the SEA resource does not start with Node's blob magic`,
    );
  }
  return blob;
}
