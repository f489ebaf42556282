import { realpathSync } from 'node:fs';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
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

  it('tells owner, mode and kind, following a link only when asked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-host-'));
    await writeFile(join(dir, 'file'), 'x', { mode: 0o640 });
    await symlink(join(dir, 'file'), join(dir, 'link'));
    const uid = process.getuid?.() ?? 0;
    expect(await nodeFileReader.status?.(join(dir, 'file'), { follow: false })).toMatchObject({
      uid,
      mode: 0o640,
      kind: 'file',
    });
    expect(await nodeFileReader.status?.(join(dir, 'link'), { follow: false })).toMatchObject({
      kind: 'symlink',
    });
    expect(await nodeFileReader.status?.(join(dir, 'link'), { follow: true })).toMatchObject({
      kind: 'file',
    });
    expect(await nodeFileReader.linkTarget?.(join(dir, 'link'))).toBe(join(dir, 'file'));
    expect(await nodeFileReader.status?.(join(dir, 'none'), { follow: false })).toBeNull();
  });

  it('reads the program a process runs from /proc/PID/exe', async () => {
    expect(await nodeFileReader.linkTarget?.('/proc/self/exe')).toBe(
      realpathSync(process.execPath),
    );
  });
});
