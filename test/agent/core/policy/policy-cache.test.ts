import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PolicyCache } from '../../../../agent/core/policy/policy-cache.ts';
import { readDefaultPolicy } from '../../../../agent/core/policy/policy-file.ts';

const exampleText = await readFile(
  new URL('../../../../agent/core/policy/example-policy.yaml', import.meta.url),
  'utf8',
);
const now = new Date('2026-11-23T09:15:30.123Z');
const clock = () => now;

describe('PolicyCache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-policy-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('starts with the default policy when nothing is cached', async () => {
    const { cache, problems } = await PolicyCache.open(dir);
    expect(problems).toEqual([]);
    expect(cache.current()).toEqual(await readDefaultPolicy());
    expect(cache.etag()).toBeNull();
    expect(cache.source()).toBe('default');
    expect(cache.receivedAt()).toBeNull();
  });

  it('tells change listeners of each accepted policy, and never of a rejected one', async () => {
    const { cache } = await PolicyCache.open(dir, { now: clock });
    const seen: string[] = [];
    cache.onChange(() => {
      throw new Error('a broken listener does not stop the others');
    });
    const unsubscribe = cache.onChange((policy) => seen.push(policy.name));
    await cache.offer('not: [valid', '"bad"');
    expect(seen).toEqual([]);
    await cache.offer(exampleText, '"v1"');
    expect(seen).toEqual([cache.current().name]);
    unsubscribe();
    await cache.offer(exampleText, '"v2"');
    expect(seen).toHaveLength(1);
  });

  it('creates a missing state directory', async () => {
    const nested = join(dir, 'state', 'policy');
    const { cache } = await PolicyCache.open(nested);
    await cache.offer(exampleText, '"v1"');
    expect((await stat(join(nested, 'policy.json'))).isFile()).toBe(true);
  });

  it('accepts a valid policy, puts it in force and keeps it across a restart', async () => {
    const { cache } = await PolicyCache.open(dir, { now: clock });
    const offer = await cache.offer(exampleText, '"v1"', 'Pupil laptops');
    expect(offer).toMatchObject({ kind: 'accepted', persistError: null });
    expect(cache.current().name).not.toBe((await readDefaultPolicy()).name);
    expect(cache.etag()).toBe('"v1"');
    expect(cache.source()).toBe('server');

    const file = JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8')) as unknown;
    expect(file).toEqual({
      etag: '"v1"',
      receivedAt: now.toISOString(),
      policy: cache.current(),
      deviceGroup: 'Pupil laptops',
    });
    expect(await readdir(dir)).toEqual(['policy.json']);

    const reopened = await PolicyCache.open(dir);
    expect(reopened.problems).toEqual([]);
    expect(reopened.cache.current()).toEqual(cache.current());
    expect(reopened.cache.etag()).toBe('"v1"');
    expect(reopened.cache.source()).toBe('cache');
    expect(reopened.cache.receivedAt()).toBe(now.toISOString());
    expect(reopened.cache.deviceGroup()).toBe('Pupil laptops');

    // A 304 naming a renamed group: kept and persisted; a server that names none changes nothing.
    expect(await reopened.cache.noteDeviceGroup('Year 7 laptops')).toBeNull();
    expect(await reopened.cache.noteDeviceGroup(null)).toBeNull();
    const renamed = await PolicyCache.open(dir);
    expect(renamed.cache.deviceGroup()).toBe('Year 7 laptops');
    expect(renamed.cache.etag()).toBe('"v1"');
  });

  it('reads a cache file written before the device group was kept, as an unknown group', async () => {
    const { cache } = await PolicyCache.open(dir, { now: clock });
    await cache.offer(exampleText, '"v1"');
    const path = join(dir, 'policy.json');
    const { deviceGroup: _dropped, ...older } = JSON.parse(await readFile(path, 'utf8')) as {
      deviceGroup: unknown;
    };
    await writeFile(path, JSON.stringify(older), { mode: 0o600 });
    const reopened = await PolicyCache.open(dir);
    expect(reopened.problems).toEqual([]);
    expect(reopened.cache.deviceGroup()).toBeNull();
  });

  it('accepts JSON as well as YAML, and a policy without an ETag', async () => {
    const { cache } = await PolicyCache.open(dir);
    const policy = (await PolicyCache.open(dir)).cache.current();
    expect(await cache.offer(JSON.stringify(policy), null)).toMatchObject({ kind: 'accepted' });
    expect(cache.etag()).toBeNull();
  });

  const hostile: [string, string, RegExp][] = [
    [
      'an unknown key',
      exampleText.replace(
        'firewall:\n    required: true',
        'firewall:\n    required: true\n    off: 1',
      ),
      /\/checks\/firewall\/off: unknown key/,
    ],
    [
      'a wrong type',
      exampleText.replace('maxSignatureAgeDays: 3', 'maxSignatureAgeDays: "3"'),
      /\/checks\/antivirus\/maxSignatureAgeDays/,
    ],
    ['truncated JSON', '{"schemaVersion": 1, "name": "Pupil', /not valid YAML or JSON/],
    ['an empty body', '', /invalid policy/],
    ['an HTML error page', '<html><body>502 Bad Gateway</body></html>', /invalid policy/],
    ['more than 1 MiB', `# ${'x'.repeat(1024 * 1024)}\n${exampleText}`, /larger than/],
    [
      'a YAML alias bomb',
      'a: &a ["x","x","x","x","x","x","x","x","x"]\n' +
        Array.from(
          { length: 12 },
          (_, i) =>
            `b${i}: &b${i} [${Array(9)
              .fill(i === 0 ? '*a' : `*b${i - 1}`)
              .join(',')}]`,
        ).join('\n'),
      /not valid YAML|invalid policy/,
    ],
  ];

  it.each(hostile)(
    'rejects %s with a reason, keeping the last good policy in force and on disk',
    async (_name, text, reason) => {
      const { cache } = await PolicyCache.open(dir);
      await cache.offer(exampleText, '"good"');
      const good = cache.current();
      const onDisk = await readFile(join(dir, 'policy.json'), 'utf8');

      const offer = await cache.offer(text, '"bad"');
      expect(offer.kind).toBe('rejected');
      expect(offer.kind === 'rejected' && offer.reason).toMatch(reason);
      expect(cache.current()).toEqual(good);
      expect(cache.etag()).toBe('"good"');
      expect(await readFile(join(dir, 'policy.json'), 'utf8')).toBe(onDisk);
    },
  );

  it.each([
    ['garbage', 'PK\u0003\u0004 not json at all', /corrupt \(not JSON\)/],
    ['an empty file (power cut)', '', /corrupt \(not JSON\)/],
    [
      'a schema-invalid policy',
      JSON.stringify({ etag: null, receivedAt: now.toISOString(), policy: { schemaVersion: 1 } }),
      /invalid: \/policy/,
    ],
    ['a wrong shape', JSON.stringify(['policy']), /invalid/],
    [
      'an unknown key',
      JSON.stringify({ etag: null, receivedAt: now.toISOString(), policy: null, x: 1 }),
      /invalid/,
    ],
  ])(
    'a cache holding %s is moved aside and reported; the default applies',
    async (_n, text, why) => {
      await writeFile(join(dir, 'policy.json'), text);
      const { cache, problems } = await PolicyCache.open(dir, { now: clock });
      expect(cache.current()).toEqual(await readDefaultPolicy());
      expect(cache.source()).toBe('default');
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(why);
      const aside = 'policy.json.corrupt-2026-11-23T09-15-30-123Z';
      expect(problems[0]).toContain(aside);
      expect(await readdir(dir)).toEqual([aside]);
      expect(await readFile(join(dir, aside), 'utf8')).toBe(text);
      // The next start is clean, and a new policy can be cached again.
      expect((await PolicyCache.open(dir)).problems).toEqual([]);
      expect(await cache.offer(exampleText, '"v2"')).toMatchObject({
        kind: 'accepted',
        persistError: null,
      });
    },
  );

  it('a cache path that cannot be read as a file is set aside too', async () => {
    await mkdir(join(dir, 'policy.json'));
    const { cache, problems } = await PolicyCache.open(dir, { now: clock });
    expect(cache.source()).toBe('default');
    expect(problems[0]).toMatch(/is not a regular file.*moved aside/);
  });

  it('a policy that cannot be persisted is still in force, with the disk error reported', async () => {
    // A file where the directory should be fails for any user, root included.
    const blocked = join(dir, 'blocked');
    await writeFile(blocked, 'not a directory');
    const { cache } = await PolicyCache.open(join(blocked, 'sub'));
    const offer = await cache.offer(exampleText, '"v1"');
    expect(offer).toMatchObject({ kind: 'accepted', persistError: expect.any(String) as string });
    expect(cache.etag()).toBe('"v1"');
    expect(cache.source()).toBe('server');
  });

  it('concurrent offers leave the last one in force and on disk', async () => {
    const { cache } = await PolicyCache.open(dir);
    await Promise.all(['"a"', '"b"', '"c"', '"d"'].map((etag) => cache.offer(exampleText, etag)));
    expect(cache.etag()).toBe('"d"');
    expect((await PolicyCache.open(dir)).cache.etag()).toBe('"d"');
  });

  describe("a cache file that is not the service's own is not trusted", () => {
    async function planted(): Promise<string> {
      // A more lenient policy someone else wrote: same valid shape as a genuine cache file.
      const { cache } = await PolicyCache.open(join(dir, 'source'), { now: clock });
      await cache.offer(exampleText, '"planted"');
      return readFile(join(dir, 'source', 'policy.json'), 'utf8');
    }

    it('writable by others (0666): set aside, the default policy applies', async () => {
      await writeFile(join(dir, 'policy.json'), await planted(), { mode: 0o666 });
      await chmod(join(dir, 'policy.json'), 0o666);
      const { cache, problems } = await PolicyCache.open(dir, { now: clock });
      expect(cache.source()).toBe('default');
      expect(cache.etag()).toBeNull();
      expect(problems).toEqual([expect.stringMatching(/not trusted: .*mode 0666.*moved aside/)]);
    });

    it('owned by another user: set aside, the default policy applies', async () => {
      await writeFile(join(dir, 'policy.json'), await planted(), { mode: 0o600 });
      // The owner the service expects is passed in, so this needs no second account or root.
      const uid = (process.getuid?.() ?? 0) + 4242;
      const { cache, problems } = await PolicyCache.open(dir, { now: clock, uid });
      expect(cache.source()).toBe('default');
      expect(problems).toEqual([expect.stringMatching(/owned by uid \d+, not by the service/)]);
    });

    it('a symbolic link in its place: not followed, set aside', async () => {
      const target = join(dir, 'elsewhere.json');
      await writeFile(target, await planted(), { mode: 0o600 });
      await symlink(target, join(dir, 'policy.json'));
      const { cache, problems } = await PolicyCache.open(dir, { now: clock });
      expect(cache.source()).toBe('default');
      expect(problems).toEqual([expect.stringContaining('symbolic link')]);
    });
  });
});
