// Display power requests on Windows, from `powercfg /requests` run by the service (SYSTEM): the
// command refuses anyone but an administrator ("This command requires administrator privileges
// …", exit 1), so the tray, which runs as the pupil, cannot read them itself. The output is
// English words (test/fixtures/windows/power-requests/SOURCES.md), localised on some Windows
// languages (Japanese prints `実行:` and `なし。`): anything the parser does not recognise, a
// cut-off output, or a refusal is unknown, which the tray counts as no request (it locks).
import type { Runner } from '../../runner.ts';
import {
  holderText,
  MAX_HOLDERS,
  type DisplayRequests,
  type DisplayRequestSource,
} from './power-requests.ts';

/** powercfg's sections, in the order it prints them (ACTIVELOCKSCREEN since Windows 10). */
export const POWER_REQUEST_SECTIONS = [
  'DISPLAY',
  'SYSTEM',
  'AWAYMODE',
  'EXECUTION',
  'PERFBOOST',
  'ACTIVELOCKSCREEN',
] as const;
export type PowerRequestSection = (typeof POWER_REQUEST_SECTIONS)[number];

/** One `[KIND] who` entry and its reason line (the text the program gave PowerCreateRequest). */
export interface PowerRequestEntry {
  kind: 'PROCESS' | 'DRIVER' | 'SERVICE';
  who: string;
  reason: string | null;
}

/** The parsed output, or why it was not recognised. */
export type ParsedPowerRequests =
  | { ok: true; sections: Record<PowerRequestSection, PowerRequestEntry[]> }
  | { ok: false; reason: string };

/** powercfg prints a few lines per request; far more than this is not its output. */
const MAX_OUTPUT_CHARS = 1024 * 1024;

const ENTRY = /^\[([A-Z]+)\] (.+)$/;
const KINDS = new Set(['PROCESS', 'DRIVER', 'SERVICE']);

const unknown = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/**
 * Parses `powercfg /requests`: each section header in order, then `None.` or entries, each entry
 * with at most one reason line, a blank line between sections. Every section must be there, so a
 * cut-off output is not read as "no requests"; any other line is unknown, never skipped.
 */
export function parsePowerRequests(stdout: string): ParsedPowerRequests {
  if (stdout.length > MAX_OUTPUT_CHARS) {
    return unknown(`powercfg printed ${stdout.length} characters, not its usual list`);
  }
  const lines = stdout.replace(/^\uFEFF/, '').split('\n');
  const sections = Object.fromEntries(
    POWER_REQUEST_SECTIONS.map((name) => [name, [] as PowerRequestEntry[]]),
  ) as Record<PowerRequestSection, PowerRequestEntry[]>;
  let next = 0;
  let current: PowerRequestSection | null = null;
  let none = false;
  // The entry the next line may be the reason of (none after a blank line or a reason).
  let open: PowerRequestEntry | null = null;
  let afterBlank = true;

  const close = (): string | null =>
    current !== null && !none && sections[current].length === 0
      ? `section ${current} is empty (neither None. nor a request)`
      : null;

  for (const raw of lines) {
    const line = raw.replace(/\r$/, '').trimEnd();
    if (line.trim() === '') {
      open = null;
      afterBlank = true;
      continue;
    }
    const wasBlank = afterBlank;
    afterBlank = false;
    if (wasBlank && line.endsWith(':') && !line.startsWith('[')) {
      const name = line.slice(0, -1);
      const expected = POWER_REQUEST_SECTIONS[next];
      if (name !== expected) {
        const known = (POWER_REQUEST_SECTIONS as readonly string[]).includes(name);
        return unknown(
          known
            ? `section ${name} out of order (expected ${expected ?? 'the end'})`
            : `unrecognised section ${holderText(name)}: a localised or changed powercfg output`,
        );
      }
      const empty = close();
      if (empty !== null) {
        return unknown(empty);
      }
      current = expected;
      next++;
      none = false;
      open = null;
      continue;
    }
    if (current === null) {
      return unknown(`powercfg output does not start with DISPLAY: ${holderText(line)}`);
    }
    if (line === 'None.' && sections[current].length === 0 && !none) {
      none = true;
      continue;
    }
    const entry = ENTRY.exec(line);
    if (entry !== null && !none) {
      const [, kind = '', who = ''] = entry;
      if (!KINDS.has(kind)) {
        return unknown(`unknown request kind [${holderText(kind)}] in ${current}`);
      }
      open = { kind: kind as PowerRequestEntry['kind'], who, reason: null };
      sections[current].push(open);
      continue;
    }
    if (open !== null) {
      open.reason = line;
      open = null;
      continue;
    }
    return unknown(
      `unrecognised line in ${current} (a localised, wrapped or changed output?): ${holderText(line)}`,
    );
  }
  const empty = close();
  if (empty !== null) {
    return unknown(empty);
  }
  if (next < POWER_REQUEST_SECTIONS.length) {
    const last = POWER_REQUEST_SECTIONS[next - 1];
    return unknown(
      last === undefined
        ? 'powercfg printed nothing'
        : `powercfg output ends after ${last}: cut off (no ${POWER_REQUEST_SECTIONS[next]} section)`,
    );
  }
  return { ok: true, sections };
}

/** How a holder is named: a program's file name (its path names the user), a driver as listed. */
function holderName(entry: PowerRequestEntry): string {
  const name = entry.kind === 'DRIVER' ? entry.who : (entry.who.split('\\').at(-1) ?? entry.who);
  return holderText(entry.reason === null ? name : `${name} (${entry.reason})`);
}

/** The display requests in a parsed output. */
export function displayRequests(parsed: ParsedPowerRequests): DisplayRequests {
  if (!parsed.ok) {
    return { known: false, reason: parsed.reason };
  }
  const display = parsed.sections.DISPLAY;
  const holders = [...new Set(display.map(holderName))].slice(0, MAX_HOLDERS);
  return { known: true, held: display.length > 0, holders };
}

/** `powercfg /requests` through the service's runner (fixed PATH: System32's powercfg.exe). */
export function windowsDisplayRequests(run: Runner, timeoutMs = 10_000): DisplayRequestSource {
  return {
    async read() {
      let out;
      try {
        out = await run('powercfg.exe', ['/requests'], { timeoutMs });
      } catch (error) {
        return {
          known: false,
          reason: `powercfg /requests: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
      if (out.exitCode !== 0) {
        // A non-administrator's refusal comes on either stream, with exit 1.
        const said = [out.stdout, out.stderr].map((s) => s.trim()).find((s) => s !== '') ?? '';
        return {
          known: false,
          reason: `powercfg /requests: exit ${out.exitCode}: ${holderText(said.split('\n')[0] ?? '')}`,
        };
      }
      return displayRequests(parsePowerRequests(out.stdout));
    },
  };
}
