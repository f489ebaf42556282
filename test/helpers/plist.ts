// Apple XML property lists for tests: checked by libplist's plistutil (which Debian ships), then
// read into JS values. plistutil 2.2 prints "ERROR: …" and still exits 0 on a bad file, so
// success is judged by its stderr and output. The reader takes plistutil's own XML (after a
// round trip through the binary format) and the file's own text, and wants both to agree.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A property list value. */
export type PlistValue = string | number | boolean | Date | Buffer | PlistValue[] | PlistDict;
export interface PlistDict {
  [key: string]: PlistValue;
}

/**
 * Converts `path` to a binary plist and back with plistutil; throws with plistutil's message if
 * it refuses the file. Returns the canonical XML.
 */
export async function plistutilRoundTrip(path: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hallpass-plist-'));
  try {
    const binary = join(dir, 'plist.bin');
    const xml = join(dir, 'plist.xml');
    for (const [from, to, format] of [
      [path, binary, 'bin'],
      [binary, xml, 'xml'],
    ] as const) {
      const { stderr } = await execFileAsync('plistutil', ['-i', from, '-o', to, '-f', format], {
        timeout: 60_000,
      });
      if (stderr.trim() !== '') {
        throw new Error(`plistutil refused ${path}: ${stderr.trim()}`);
      }
    }
    return await readFile(xml, 'utf8').catch(() => {
      throw new Error(`plistutil wrote nothing for ${path}`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const ENTITIES: Record<string, string> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

const decode = (text: string): string =>
  text.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_match, name: string) =>
    name.startsWith('#x') || name.startsWith('#X')
      ? String.fromCodePoint(Number.parseInt(name.slice(2), 16))
      : name.startsWith('#')
        ? String.fromCodePoint(Number(name.slice(1)))
        : (ENTITIES[name] ?? ''),
  );

/** Reads an XML plist's root value; throws on anything outside the plist DTD. */
export function parsePlistXml(xml: string): PlistValue {
  const body = xml
    .replace(/<\?xml[^>]*\?>/, '')
    .replace(/<!DOCTYPE[^>]*>/, '')
    .replace(/<!--[\s\S]*?-->/g, '');
  const tokens = [...body.matchAll(/<(\/?)(\w+)(?:\s[^>]*)?(\/?)>|([^<]+)/g)];
  let at = 0;
  const next = (): RegExpMatchArray => {
    const token = tokens[at];
    at += 1;
    if (token === undefined) {
      throw new Error('plist: ended early');
    }
    return token;
  };
  const skipSpace = (): void => {
    while (tokens[at]?.[4] !== undefined && (tokens[at]?.[4] ?? '').trim() === '') {
      at += 1;
    }
  };
  const text = (tag: string): string => {
    let content = '';
    for (;;) {
      const token = next();
      if (token[4] !== undefined) {
        content += token[4];
      } else if (token[1] === '/' && token[2] === tag) {
        return decode(content);
      } else {
        throw new Error(`plist: <${tag}> holds markup`);
      }
    }
  };
  const value = (): PlistValue => {
    skipSpace();
    const token = next();
    const [, closing, tag, selfClosing] = token;
    if (token[4] !== undefined || closing === '/' || tag === undefined) {
      throw new Error(`plist: expected a value, found ${token[0]}`);
    }
    if (selfClosing === '/') {
      if (tag === 'true' || tag === 'false') {
        return tag === 'true';
      }
      if (tag === 'dict') {
        return {};
      }
      if (tag === 'array') {
        return [];
      }
      if (tag === 'string') {
        return '';
      }
      throw new Error(`plist: <${tag}/> is not a value`);
    }
    switch (tag) {
      case 'plist': {
        const root = value();
        skipSpace();
        const end = next();
        if (end[1] !== '/' || end[2] !== 'plist') {
          throw new Error('plist: more than one root value');
        }
        return root;
      }
      case 'string':
        return text('string');
      case 'integer':
      case 'real': {
        const number = Number(text(tag).trim());
        if (!Number.isFinite(number)) {
          throw new Error(`plist: <${tag}> is not a number`);
        }
        return number;
      }
      case 'date':
        return new Date(text('date').trim());
      case 'data':
        return Buffer.from(text('data').replace(/\s+/g, ''), 'base64');
      case 'array': {
        const items: PlistValue[] = [];
        for (;;) {
          skipSpace();
          if (tokens[at]?.[1] === '/' && tokens[at]?.[2] === 'array') {
            at += 1;
            return items;
          }
          items.push(value());
        }
      }
      case 'dict': {
        const dict: PlistDict = {};
        for (;;) {
          skipSpace();
          const token = next();
          if (token[1] === '/' && token[2] === 'dict') {
            return dict;
          }
          if (token[2] !== 'key' || token[1] === '/') {
            throw new Error(`plist: expected <key> in <dict>, found ${token[0]}`);
          }
          const key = text('key');
          if (key in dict) {
            throw new Error(`plist: key ${key} appears twice`);
          }
          dict[key] = value();
        }
      }
      default:
        throw new Error(`plist: <${tag}> is not a plist element`);
    }
  };
  const root = value();
  skipSpace();
  if (at !== tokens.length) {
    throw new Error('plist: text after the root value');
  }
  return root;
}

/**
 * The plist at `path` as JS values, read from the file itself (so a key given twice is caught)
 * and required to equal what plistutil made of it.
 */
export async function readPlist(path: string): Promise<PlistValue> {
  const own = parsePlistXml(await readFile(path, 'utf8'));
  const canonical = parsePlistXml(await plistutilRoundTrip(path));
  if (JSON.stringify(own) !== JSON.stringify(canonical)) {
    throw new Error(`${path}: plistutil reads it differently from its text`);
  }
  return own;
}
