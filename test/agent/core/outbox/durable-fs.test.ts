import { readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileDurably } from '../../../../agent/core/outbox/durable-fs.ts';
import { removeDir, tempDir } from '../../../helpers/outbox-fixtures.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

describe('writeFileDurably', () => {
  it('writes the file whole and leaves no temp file', async () => {
    await writeFileDurably(dir, 'state.json', '.state.json.tmp', '{"a":1}');
    expect(await readFile(join(dir, 'state.json'), 'utf8')).toBe('{"a":1}');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('replaces a temp file a crash left behind instead of failing every later write', async () => {
    await writeFile(join(dir, '.state.json.tmp'), '{"half');
    await writeFileDurably(dir, 'state.json', '.state.json.tmp', '{"a":2}');
    expect(await readFile(join(dir, 'state.json'), 'utf8')).toBe('{"a":2}');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('never writes through a link planted at the temp name', async () => {
    const target = join(dir, 'target');
    await writeFile(target, 'untouched');
    await symlink(target, join(dir, '.state.json.tmp'));
    await writeFileDurably(dir, 'state.json', '.state.json.tmp', '{"a":3}');
    expect(await readFile(target, 'utf8')).toBe('untouched');
    expect(await readFile(join(dir, 'state.json'), 'utf8')).toBe('{"a":3}');
  });
});
