// Which AUP documents a user must sign now (issue 15): at first login, again when a document's
// version (or its text) changes, again each academic year, and not when they signed the current
// version on another device. Pure: the local record, the server's answer (or its cached copy)
// and the clock are passed in, so every case is a line in a table.
import {
  aupTextSha256,
  type AupDocument,
  type AupPolicy,
  type AupRole,
  type AupSignaturesResponse,
} from '../../../shared/index.ts';
import { aupRoleFor, type AupRoleMatch } from './role.ts';

/** One signature this device recorded itself. */
export interface LocalAupSignature {
  user: string;
  documentId: string;
  version: string;
  textSha256: string;
  signedAt: string;
}

/** Why a document is due. */
export type AupDueReason = 'first-time' | 'new-version' | 'text-changed' | 'new-academic-year';

/** A document the user must sign, with the hash of the text they will be shown. */
export interface AupDueDocument {
  document: AupDocument;
  textSha256: string;
  reason: AupDueReason;
}

/** What a user must sign, and why they have the role they have. */
export interface AupDue {
  role: AupRole | null;
  ruleId: string | null;
  due: AupDueDocument[];
}

/**
 * A signature made this long before the academic year starts counts for the new year too: a
 * teacher who starts on 25 August is not asked again on 1 September.
 */
export const ACADEMIC_YEAR_GRACE_DAYS = 14;

const DAY_MS = 24 * 3600 * 1000;

/**
 * Start of the academic year `now` falls in, local time of the device (the school's clock):
 * the latest `MM-DD` at 00:00 that is not after `now`.
 */
export function academicYearStart(now: Date, startsOn = '09-01'): Date {
  const [month = 9, day = 1] = startsOn.split('-').map(Number);
  const thisYear = new Date(now.getFullYear(), month - 1, day);
  return thisYear.getTime() <= now.getTime()
    ? thisYear
    : new Date(now.getFullYear() - 1, month - 1, day);
}

const sameUser = (a: string, b: string) =>
  a.localeCompare(b, 'en', { sensitivity: 'accent' }) === 0;

/**
 * What the user must sign now. `remote` is the server's answer (maybe cached), null if none.
 * `role`, given, is the role already decided for the user (the service's, when their groups
 * could not all be read); absent, it comes from the policy's rules.
 */
export function aupDocumentsDue(input: {
  user: { name: string; groups: readonly string[] };
  role?: AupRoleMatch;
  deviceGroup: string | null;
  aup: AupPolicy;
  local: readonly LocalAupSignature[];
  remote: AupSignaturesResponse | null;
  now: Date;
}): AupDue {
  const { user, aup, now } = input;
  const { role, ruleId } = input.role ?? aupRoleFor(user, input.deviceGroup, aup);
  if (role === null) {
    return { role, ruleId, due: [] };
  }
  const yearStart = academicYearStart(now, aup.resign.academicYearStarts);
  const due: AupDueDocument[] = [];
  for (const document of aup.documents) {
    if (document.role !== role) {
      continue;
    }
    const textSha256 = aupTextSha256(document);
    // A device contract is about this device: signatures made on others do not count.
    const remote =
      document.kind === 'aup' && input.remote !== null && sameUser(input.remote.user, user.name)
        ? input.remote.signatures
        : [];
    const signatures = [
      ...input.local.filter((s) => sameUser(s.user, user.name)),
      ...remote,
    ].filter((s) => s.documentId === document.id);
    const reason = reasonToSign(document, textSha256, signatures, aup, yearStart);
    if (reason !== null) {
      due.push({ document, textSha256, reason });
    }
  }
  return { role, ruleId, due };
}

function reasonToSign(
  document: AupDocument,
  textSha256: string,
  signatures: readonly { version: string; textSha256: string; signedAt: string }[],
  aup: AupPolicy,
  yearStart: Date,
): AupDueReason | null {
  if (signatures.length === 0) {
    return 'first-time';
  }
  let current = [...signatures];
  if (aup.resign.onVersionChange) {
    const sameVersion = current.filter((s) => s.version === document.version);
    if (sameVersion.length === 0) {
      return 'new-version';
    }
    // Same version, other words: the user never agreed to the text in force.
    current = sameVersion.filter((s) => s.textSha256 === textSha256);
    if (current.length === 0) {
      return 'text-changed';
    }
  }
  if (aup.resign.eachSeptember && document.kind === 'aup') {
    const since = yearStart.getTime() - ACADEMIC_YEAR_GRACE_DAYS * DAY_MS;
    const thisYear = current.some((s) => {
      const at = Date.parse(s.signedAt);
      return Number.isFinite(at) && at >= since;
    });
    if (!thisYear) {
      return 'new-academic-year';
    }
  }
  return null;
}
