import { readAsset } from './assets.ts';
import type { Host } from './host.ts';
import { ProbeError } from './runner.ts';

/** Windows PowerShell 5.1 arguments that run `script` as is: no profile, no prompt, UTF-16LE base64. */
export function powershellArgs(script: string): string[] {
  return [
    '-NoProfile',
    '-NonInteractive',
    '-NoLogo',
    '-ExecutionPolicy',
    'Bypass',
    '-EncodedCommand',
    Buffer.from(script, 'utf16le').toString('base64'),
  ];
}

/**
 * Runs a Windows PowerShell 5.1 script shipped beside a check (e.g. `windows.ps1`) and
 * returns its standard output. The script is passed with -EncodedCommand (UTF-16LE base64),
 * so no execution policy or temp file is involved; each script sets UTF-8 output itself and
 * prints one JSON object (PLATFORMS.md §10: one script per check, JSON, dates as ISO strings).
 */
export async function runPowerShellScript(
  host: Host,
  scriptUrl: URL,
  timeoutMs: number,
): Promise<string> {
  const output = await host.run('powershell.exe', powershellArgs(await readAsset(scriptUrl)), {
    timeoutMs,
  });
  if (output.exitCode !== 0 && output.stdout.trim() === '') {
    throw new ProbeError(
      'probe-failed',
      `PowerShell exited ${output.exitCode}: ${output.stderr.trim().slice(0, 500)}`,
    );
  }
  return output.stdout;
}

/** Parses a probe script's JSON output; undefined when it is not JSON (the caller says why). */
export function parseJsonOutput(raw: string): unknown {
  // Windows PowerShell may prefix a UTF-8 BOM; anything before the first brace is noise.
  const start = raw.search(/[[{]/);
  if (start === -1) {
    return undefined;
  }
  try {
    return JSON.parse(raw.slice(start)) as unknown;
  } catch {
    return undefined;
  }
}
