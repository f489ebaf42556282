import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFileReader } from '../../../agent/core/host.ts';

describe('nodeFileReader', () => {
  it('reads files larger than its read chunks whole, and stops at maxBytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-host-'));
    const file = join(dir, 'big.txt');
    const text = Array.from({ length: 50_000 }, (_, i) => String(i % 10)).join('');
    await writeFile(file, text + text + text);
    expect(await nodeFileReader.readText(file)).toBe(text + text + text);
    const head = await nodeFileReader.readBytes(file, 70_000);
    expect(new TextDecoder().decode(head ?? new Uint8Array())).toBe((text + text).slice(0, 70_000));
  });

  it('reads /proc files, whose size the OS reports as 0', async () => {
    const comm = await nodeFileReader.readText('/proc/self/comm');
    expect(comm?.trim().length).toBeGreaterThan(0);
    expect((await nodeFileReader.readText('/proc/self/status'))?.startsWith('Name:')).toBe(true);
  });

  it('answers null for a missing file', async () => {
    expect(await nodeFileReader.readText('/nonexistent/hallpass')).toBeNull();
  });
});
