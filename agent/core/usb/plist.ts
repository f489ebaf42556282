// A small XML property-list reader for what `diskutil … -plist` and `ioreg -a` print. Not
// `plutil -convert json`: that refuses any plist holding <data> or <date> (ioreg's archives hold
// both), and a second process per disk is slower than reading the text. Strings in these plists
// come from the device (a USB serial, a volume name), so this reads only the documented element
// set, decodes only the five XML entities and numeric character references, and bounds depth
// and size: anything else is an error, never a guess.

/** A <data> element, kept as its base64 text. */
export class PlistData {
  readonly base64: string;
  constructor(base64: string) {
    this.base64 = base64;
  }
}

/** A <date> element, kept as its ISO text. */
export class PlistDate {
  readonly iso: string;
  constructor(iso: string) {
    this.iso = iso;
  }
}

/** A value of an XML property list. */
export type PlistValue =
  string | number | boolean | PlistData | PlistDate | PlistValue[] | { [key: string]: PlistValue };

/** A plist dictionary. */
export type PlistDict = Record<string, PlistValue>;

/** Why a text is not a property list we read. */
export class PlistError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlistError';
  }
}

const MAX_DEPTH = 64;
const MAX_TEXT = 32 * 1024 * 1024;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
    }
    const entity = ENTITIES[ref];
    if (entity === undefined) {
      throw new PlistError(`unknown entity ${whole}`);
    }
    return entity;
  });
}

/** Tokens: a tag (`<dict>`, `</dict>`, `<true/>`) or the text between two tags. */
type Token = { tag: string; close: boolean; empty: boolean } | { text: string };

function* tokens(xml: string): Generator<Token, void> {
  let at = 0;
  while (at < xml.length) {
    const open = xml.indexOf('<', at);
    if (open === -1) {
      yield { text: xml.slice(at) };
      return;
    }
    if (open > at) {
      yield { text: xml.slice(at, open) };
    }
    if (xml.startsWith('<!--', open)) {
      const end = xml.indexOf('-->', open);
      if (end === -1) {
        throw new PlistError('unterminated comment');
      }
      at = end + 3;
      continue;
    }
    const end = xml.indexOf('>', open);
    if (end === -1) {
      throw new PlistError('unterminated tag');
    }
    const inner = xml.slice(open + 1, end);
    at = end + 1;
    if (inner.startsWith('![CDATA[')) {
      throw new PlistError('CDATA is not written by Apple tools');
    }
    if (inner.startsWith('?') || inner.startsWith('!DOCTYPE')) {
      continue; // the XML declaration and the DOCTYPE
    }
    if (inner.startsWith('!')) {
      throw new PlistError(`unexpected <${inner.slice(0, 20)}>`);
    }
    const close = inner.startsWith('/');
    const empty = inner.endsWith('/');
    const name = inner.replace(/^\//, '').replace(/\/$/, '').trim().split(/\s/)[0] ?? '';
    yield { tag: name, close, empty };
  }
}

class Reader {
  private readonly stream: Generator<Token, void>;
  private pending: Token | undefined;

  constructor(xml: string) {
    this.stream = tokens(xml);
  }

  /** The next token that is not whitespace-only text. */
  next(): Token | undefined {
    if (this.pending !== undefined) {
      const token = this.pending;
      this.pending = undefined;
      return token;
    }
    for (;;) {
      const { value, done } = this.stream.next();
      if (done === true) {
        return undefined;
      }
      if ('text' in value && value.text.trim() === '') {
        continue;
      }
      return value;
    }
  }

  push(token: Token): void {
    this.pending = token;
  }

  /** The text up to `</name>` (empty when the element closes at once). */
  textOf(name: string): string {
    const { value, done } = this.stream.next();
    if (done === true) {
      throw new PlistError(`<${name}> is not closed`);
    }
    if ('tag' in value) {
      if (value.tag === name && value.close) {
        return '';
      }
      throw new PlistError(`<${name}> holds <${value.tag}>`);
    }
    const closing = this.stream.next();
    if (closing.done === true || !('tag' in closing.value) || closing.value.tag !== name) {
      throw new PlistError(`<${name}> is not closed`);
    }
    return decode(value.text);
  }

  value(depth: number): PlistValue {
    if (depth > MAX_DEPTH) {
      throw new PlistError(`nested deeper than ${MAX_DEPTH}`);
    }
    const token = this.next();
    if (token === undefined || !('tag' in token) || token.close) {
      throw new PlistError('expected a value');
    }
    const { tag, empty } = token;
    switch (tag) {
      case 'true':
      case 'false':
        if (!empty && this.textOf(tag) !== '') {
          throw new PlistError(`<${tag}> holds text`);
        }
        return tag === 'true';
      case 'string':
      case 'key':
        return empty ? '' : this.textOf(tag);
      case 'integer':
      case 'real': {
        const text = empty ? '' : this.textOf(tag).trim();
        const number = Number(text);
        if (text === '' || !Number.isFinite(number)) {
          throw new PlistError(`<${tag}>${text.slice(0, 40)}</${tag}> is not a number`);
        }
        return number;
      }
      case 'data':
        return new PlistData(empty ? '' : this.textOf(tag).replace(/\s+/g, ''));
      case 'date':
        return new PlistDate(empty ? '' : this.textOf(tag).trim());
      case 'array':
        return empty ? [] : this.array(depth);
      case 'dict':
        return empty ? {} : this.dict(depth);
      default:
        throw new PlistError(`unknown element <${tag}>`);
    }
  }

  private array(depth: number): PlistValue[] {
    const items: PlistValue[] = [];
    for (;;) {
      const token = this.next();
      if (token !== undefined && 'tag' in token && token.close && token.tag === 'array') {
        return items;
      }
      if (token === undefined) {
        throw new PlistError('<array> is not closed');
      }
      this.push(token);
      items.push(this.value(depth + 1));
    }
  }

  private dict(depth: number): PlistDict {
    // No prototype: a key named __proto__ is just a key.
    const dict = Object.create(null) as PlistDict;
    for (;;) {
      const token = this.next();
      if (token !== undefined && 'tag' in token && token.close && token.tag === 'dict') {
        return dict;
      }
      if (token === undefined || !('tag' in token) || token.tag !== 'key' || token.close) {
        throw new PlistError('a <dict> entry does not start with <key>');
      }
      const key = token.empty ? '' : this.textOf('key');
      dict[key] = this.value(depth + 1);
    }
  }
}

/** Reads an XML property list; throws PlistError when the text is not one. */
export function parsePlist(xml: string): PlistValue {
  if (xml.length > MAX_TEXT) {
    throw new PlistError('larger than 32 MiB');
  }
  const reader = new Reader(xml);
  const start = reader.next();
  if (start === undefined || !('tag' in start) || start.tag !== 'plist' || start.close) {
    throw new PlistError('no <plist> element');
  }
  if (start.empty) {
    throw new PlistError('an empty <plist>');
  }
  const value = reader.value(0);
  const end = reader.next();
  if (end === undefined || !('tag' in end) || end.tag !== 'plist' || !end.close) {
    throw new PlistError('text after the value, or <plist> is not closed');
  }
  if (reader.next() !== undefined) {
    throw new PlistError('text after </plist>');
  }
  return value;
}

/** A dictionary (not an array, data or date). */
export function isPlistDict(value: PlistValue | undefined): value is PlistDict {
  return (
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof PlistData) &&
    !(value instanceof PlistDate)
  );
}
