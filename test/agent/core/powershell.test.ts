import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Language, Parser } from 'web-tree-sitter';
import type { Host } from '../../../agent/core/host.ts';
import { parseJsonOutput, runPowerShellScript } from '../../../agent/core/powershell.ts';
import type { RunOptions } from '../../../agent/core/runner.ts';
import { ProbeError } from '../../../agent/core/runner.ts';

const repo = new URL('../../../', import.meta.url);

async function powershellScripts(): Promise<string[]> {
  const entries = await readdir(new URL('agent/', repo), { recursive: true });
  return entries
    .filter((e) => e.endsWith('.ps1'))
    .map((e) => `agent/${e}`)
    .sort();
}

// Nothing here runs PowerShell, so a syntax error would first show on a pupil's laptop:
// parse every script with the tree-sitter grammar (PLATFORMS.md §10) and reject syntax that
// only PowerShell 7 accepts, since Windows ships 5.1.
const PS7_ONLY: [RegExp, string][] = [
  [/\?\?/, 'null-coalescing ??'],
  [/\?\./, 'null-conditional ?.'],
  [/&&|\|\|/, 'pipeline chain && / ||'],
  [/-EnumsAsStrings/i, 'ConvertTo-Json -EnumsAsStrings'],
  [/-AsHashtable/i, 'ConvertFrom-Json -AsHashtable'],
];

describe('PowerShell probe scripts', async () => {
  await Parser.init();
  const language = await Language.load(
    new URL('node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm', repo).pathname,
  );
  const parser = new Parser();
  parser.setLanguage(language);
  const scripts = await powershellScripts();

  it('there is one script per check that has a Windows probe', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(5);
  });

  it('the grammar catches a syntax error (the test can fail)', () => {
    expect(parser.parse('$x = (1 + 2')?.rootNode.hasError).toBe(true);
    expect(parser.parse('$x = $a ? 1 : 2')?.rootNode.hasError).toBe(true);
  });

  it.each(scripts)(
    '%s parses, targets Windows PowerShell 5.1 and prints UTF-8 JSON',
    async (path) => {
      const source = await readFile(new URL(path, repo), 'utf8');
      const tree = parser.parse(source);
      expect(tree?.rootNode.hasError, `${path} has a syntax error`).toBe(false);
      const code = source
        .split('\n')
        .map((line) => line.replace(/(^|\s)#.*$/, ''))
        .join('\n');
      for (const [pattern, name] of PS7_ONLY) {
        expect(pattern.test(code), `${path} uses PowerShell 7-only ${name}`).toBe(false);
      }
      expect(code).toMatch(/\[Console\]::OutputEncoding\s*=\s*\[System\.Text\.Encoding\]::UTF8/i);
      expect(code).toMatch(/ConvertTo-Json[^\n]*-Depth\s+[3-9]/i);
    },
  );
});

describe('runPowerShellScript', () => {
  const script = new URL('test/fixtures/powershell/echo.ps1', repo);

  function hostAnswering(stdout: string, exitCode = 0) {
    const calls: { command: string; args: readonly string[]; options: RunOptions }[] = [];
    const host: Host = {
      run: (command, args, options) => {
        calls.push({ command, args, options });
        return Promise.resolve({ stdout, stderr: exitCode === 0 ? '' : 'boom', exitCode });
      },
      files: {
        readBytes: () => Promise.resolve(null),
        readText: () => Promise.resolve(null),
        mtime: () => Promise.resolve(null),
        list: () => Promise.resolve(null),
      },
      now: () => new Date(0),
    };
    return { host, calls };
  }

  it('passes the script as UTF-16LE base64 with -EncodedCommand, never as a file or shell string', async () => {
    const { host, calls } = hostAnswering('{"ok":true}');
    await runPowerShellScript(host, script, 1234);
    const call = calls[0];
    expect(call?.command).toBe('powershell.exe');
    expect(call?.options.timeoutMs).toBe(1234);
    const encoded = call?.args[call.args.indexOf('-EncodedCommand') + 1] ?? '';
    expect(Buffer.from(encoded, 'base64').toString('utf16le')).toBe(await readFile(script, 'utf8'));
    expect(call?.args).toContain('-NoProfile');
  });

  it('a crash with no output is a probe failure carrying stderr', async () => {
    const { host } = hostAnswering('', 1);
    await expect(runPowerShellScript(host, script, 1000)).rejects.toThrow(ProbeError);
    await expect(runPowerShellScript(host, script, 1000)).rejects.toThrow(/exited 1: boom/);
  });
});

describe('parseJsonOutput', () => {
  it.each([
    ['\uFEFF{"a":1}', { a: 1 }],
    ['WARNING: something\r\n{"a":[1,2]}', { a: [1, 2] }],
    ['[{"a":1}]', [{ a: 1 }]],
  ])('reads %j', (raw, expected) => {
    expect(parseJsonOutput(raw)).toEqual(expected);
  });

  it.each(['', 'Zugriff verweigert', '{"a":', 'null'])('answers undefined for %j', (raw) => {
    expect(parseJsonOutput(raw)).toBeUndefined();
  });
});
