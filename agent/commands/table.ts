import { styleText } from 'node:util';
import type { CheckResult, CheckStatus } from '../../shared/index.ts';

type Colour = Parameters<typeof styleText>[0];

const STATUS_STYLE: Record<CheckStatus, Colour> = {
  pass: 'green',
  fail: ['red', 'bold'],
  warn: 'yellow',
  unknown: 'magenta',
};

/** Colours text only when the stream is a terminal that wants colour (NO_COLOR, FORCE_COLOR). */
export type Paint = (style: Colour, text: string) => string;

/** A painter bound to a stream; styleText checks the stream's TTY and the colour variables. */
export const paintFor =
  (stream: NodeJS.WriteStream): Paint =>
  (style, text) =>
    styleText(style, text, { stream });

/** Renders results as an aligned table: status, check, summary (and reasons for unknown). */
export function renderResultsTable(
  results: readonly CheckResult[],
  titles: ReadonlyMap<string, string>,
  paint: Paint,
): string {
  const rows = results.map((r) => ({
    status: r.status.toUpperCase(),
    colour: STATUS_STYLE[r.status],
    check: titles.get(r.checkId) ?? r.checkId,
    summary: r.summary,
  }));
  const statusWidth = Math.max(6, ...rows.map((r) => r.status.length));
  const checkWidth = Math.max(5, ...rows.map((r) => r.check.length));
  const header = `${'STATUS'.padEnd(statusWidth)}  ${'CHECK'.padEnd(checkWidth)}  SUMMARY`;
  const lines = rows.map(
    (r) =>
      `${paint(r.colour, r.status.padEnd(statusWidth))}  ${r.check.padEnd(checkWidth)}  ${r.summary}`,
  );
  return [paint('bold', header), ...lines].join('\n') + '\n';
}

/** Exit status of `hallpass check`: 1 if any check failed, 3 if none failed but some are unknown. */
export function checkExitCode(results: readonly CheckResult[]): 0 | 1 | 3 {
  if (results.some((r) => r.status === 'fail')) {
    return 1;
  }
  return results.some((r) => r.status === 'unknown') ? 3 : 0;
}
