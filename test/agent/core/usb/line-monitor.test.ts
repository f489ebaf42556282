import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BoundedLines, startLineMonitor } from '../../../../agent/core/usb/line-monitor.ts';

describe('BoundedLines', () => {
  it('joins chunks into lines and strips CR', () => {
    const lines: string[] = [];
    const split = new BoundedLines(
      100,
      (l) => lines.push(l),
      () => undefined,
    );
    split.push('ab');
    split.push('c\r\nde');
    split.push('f\n\ng');
    split.end();
    expect(lines).toEqual(['abc', 'def', '', 'g']);
  });

  it('drops a line longer than the limit, once, and keeps the next', () => {
    const lines: string[] = [];
    const overflows: number[] = [];
    const split = new BoundedLines(
      10,
      (l) => lines.push(l),
      (n) => overflows.push(n),
    );
    split.push('short\n');
    for (let i = 0; i < 1000; i += 1) {
      split.push('x'.repeat(1000));
    }
    split.push('\nnext\n');
    expect(lines).toEqual(['short', 'next']);
    expect(overflows).toHaveLength(1);
  });
});

describe('startLineMonitor (real processes)', () => {
  it('hands over each line of a running process, then says it ended', async () => {
    const lines: string[] = [];
    const ended = await new Promise<Error>((resolve) => {
      startLineMonitor(
        (command, args) => spawn(command, [...args]),
        'sh',
        ['-c', 'printf "one\\ntwo\\n"; printf "noise" >&2; printf three'],
        { line: (l) => lines.push(l), noise: () => undefined, ended: resolve },
      );
    });
    expect(lines).toEqual(['one', 'two', 'three']);
    expect(ended.message).toMatch(/exit 0/);
  });

  it('a missing command is reported, never thrown', async () => {
    const ended = await new Promise<Error>((resolve) => {
      startLineMonitor(
        (command, args) => spawn(command, [...args]),
        '/nonexistent/diskutil',
        ['activity'],
        { line: () => undefined, noise: () => undefined, ended: resolve },
      );
    });
    expect(ended.message).toMatch(/diskutil failed: .*ENOENT/);
  });

  it('stop() ends a long-lived process without reporting it as a failure', async () => {
    let failures = 0;
    const monitor = startLineMonitor(
      (command, args) => spawn(command, [...args]),
      'sleep',
      ['600'],
      { line: () => undefined, noise: () => undefined, ended: () => (failures += 1) },
    );
    await monitor.stop();
    expect(failures).toBe(0);
  });
});
