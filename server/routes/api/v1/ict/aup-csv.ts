// The AUP register's two tables as CSV: the same rows and columns, with the same words, as the
// dashboard's AUP page shows (test/ui/dashboard/aup.test.ts holds the two together); times in
// ISO 8601 UTC where the page shows them in the reader's zone.
import type {
  AupDeclineReason,
  AupOutstandingRow,
  AupSeenBy,
  AupSignatureRow,
} from '../../../../../shared/index.ts';
import { csvCell } from './devices.ts';

const ROLE_WORDS = { staff: 'Staff', pupil: 'Pupil' } as const;

const SEEN_BY_WORDS: Record<AupSeenBy, string> = {
  aup: 'AUP window',
  'idle-lock': 'Idle lock',
  usb: 'USB decision',
};

/** Why a user declined, for the e-safety lead; the page (ui/dashboard/aup.ts) says the same. */
export const DECLINE_REASON_WORDS: Record<AupDeclineReason, string> = {
  declined: 'Declined in the window',
  'no-tray': 'No Hallpass tray showed the window',
  'no-answer': 'No answer in the window within the time allowed',
  'not-given': 'Declined (older agent: no reason given)',
};

function csv(header: readonly string[], rows: readonly (readonly (string | null)[])[]): string {
  const lines = [header.map(csvCell).join(',')];
  for (const row of rows) {
    lines.push(row.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The signatures table as CSV. */
export function signaturesCsv(rows: readonly AupSignatureRow[]): string {
  return csv(
    [
      'User',
      'Full name',
      'Role',
      'Document',
      'Version',
      'Signed',
      'Device',
      'Statements acknowledged',
      'Tutor group',
      'Parent/carer',
      'Current',
    ],
    rows.map((s) => [
      s.user,
      s.fullName,
      ROLE_WORDS[s.role],
      s.documentId,
      s.version,
      s.signedAt,
      s.hostname,
      `${String(s.acknowledged.length)} of ${s.statementCount === null ? '?' : String(s.statementCount)}`,
      s.tutorGroup,
      s.parentCarer,
      s.current ? 'Yes' : 'No',
    ]),
  );
}

/** The outstanding table as CSV. */
export function outstandingCsv(rows: readonly AupOutstandingRow[]): string {
  return csv(
    [
      'User',
      'Role',
      'Last seen',
      'Device',
      'Seen by',
      'Last signed',
      'Declined',
      'Why declined',
      'On decline',
      'Action failed',
    ],
    rows.map((u) => [
      u.user,
      u.role === null ? 'Not known yet' : ROLE_WORDS[u.role],
      u.lastSeenAt,
      u.hostname,
      SEEN_BY_WORDS[u.seenBy],
      u.lastSignedAt,
      u.declinedAt,
      u.declineReason === null ? null : DECLINE_REASON_WORDS[u.declineReason],
      u.declineAction,
      u.declineActionError,
    ]),
  );
}
