// Display power requests: programs asking Windows to keep the screen on (a playing video, a
// presentation). A DISPLAY request also stops Windows' own idle lock (learn.microsoft.com,
// "POWER_REQUEST_TYPE enumeration"), so the tray's idle lock counts it as an inhibitor, up to
// the policy's ceiling. Reading them needs an administrator, so the service reads them for the
// tray; one implementation per OS, chosen once (index.ts).
import { DISPLAY_REQUEST_HOLDERS_MAX } from '../../../../shared/schemas/ipc.ts';

/** Display requests held now, or why that could not be told. */
export type DisplayRequests =
  | {
      known: true;
      /** Whether any program or driver holds a DISPLAY request. */
      held: boolean;
      /** Who holds them, for the tray's log: program file names (never full paths) or drivers. */
      holders: string[];
    }
  | { known: false; reason: string };

/** Reads the display requests of the whole machine. */
export interface DisplayRequestSource {
  read(): Promise<DisplayRequests>;
}

/** At most this many holders are passed on (the IPC schema's bound). */
export const MAX_HOLDERS = DISPLAY_REQUEST_HOLDERS_MAX;

/** A holder's name as it may be logged: one line, no control characters, at most 200 chars. */
export function holderText(text: string): string {
  // A program's name and reason are its own words: nothing in them may reach a log line raw.
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').trim();
  return clean.length > 200 ? `${clean.slice(0, 199)}…` : clean;
}
