// The AUP register for the e-safety lead: one school at a time, each document version's signing
// progress, who is outstanding and every signature, with CSV exports of exactly those two tables
// and a printable signed copy per signature (`/aup?signature=<id>`, aup-copy.ts). Names and
// typed details come from devices and users: they go in as text inside <bdi>, so markup stays
// text and a right-to-left override cannot turn the text around it.
import type {
  AupCycle,
  AupDeclineReason,
  AupOutstandingRow,
  AupRegister,
  AupSignatureRow,
} from '../../shared/schemas/aup-register.ts';
import { describeError, getJson, loaded, startPage } from './api.ts';
import { ROLE_WORDS, showSignedCopy, userText } from './aup-copy.ts';
import { byId, h, showError, table, time } from './dom.ts';

/** How a user was seen; the CSV export (server/routes/api/v1/ict/aup-csv.ts) uses the same. */
const SEEN_BY_WORDS = { aup: 'AUP window', 'idle-lock': 'Idle lock', usb: 'USB decision' };

/** Why a user declined; the CSV export (server/routes/api/v1/ict/aup-csv.ts) says the same. */
const DECLINE_REASON_WORDS: Record<AupDeclineReason, string> = {
  declined: 'Declined in the window',
  'no-tray': 'No Hallpass tray showed the window',
  'no-answer': 'No answer in the window within the time allowed',
  'not-given': 'Declined (older agent: no reason given)',
};

/** A wide table in a region that scrolls by itself, so the page never scrolls sideways. */
function scrolling(region: HTMLDivElement, id: string): HTMLDivElement {
  // table() (dom.ts) already puts the table in its own focusable, named scroll region.
  const caption = region.querySelector('caption');
  if (caption !== null) {
    caption.id = `${id}-caption`;
  }
  return region;
}

function cycleRow(cycle: AupCycle): HTMLTableRowElement {
  const total = cycle.outstanding === null ? null : cycle.signed + cycle.outstanding;
  return h(
    'tr',
    { 'data-document': `${cycle.documentId}@${cycle.version}` },
    h('th', { scope: 'row' }, userText(cycle.title), h('br'), h('code', {}, cycle.documentId)),
    h('td', {}, ROLE_WORDS[cycle.role]),
    h('td', {}, userText(cycle.version)),
    h('td', {}, time(cycle.publishedAt)),
    h('td', { class: 'number', 'data-field': 'signed' }, cycle.signed),
    h(
      'td',
      { class: 'number', 'data-field': 'outstanding' },
      cycle.outstanding ?? h('span', { class: 'muted' }, 'Per device'),
    ),
    h(
      'td',
      {},
      total === null || total === 0
        ? h('span', { class: 'muted' }, '–')
        : h(
            'span',
            { class: 'progress' },
            h('progress', {
              max: total,
              value: cycle.signed,
              'aria-label': `${cycle.title} ${cycle.version}: signed`,
            }),
            ` ${String(Math.round((cycle.signed / total) * 100))} %`,
          ),
    ),
  );
}

function outstandingRow(user: AupOutstandingRow): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, userText(user.user)),
    h('td', {}, user.role === null ? 'Not known yet' : ROLE_WORDS[user.role]),
    h('td', {}, time(user.lastSeenAt)),
    h('td', {}, userText(user.hostname)),
    h('td', {}, SEEN_BY_WORDS[user.seenBy]),
    h('td', {}, time(user.lastSignedAt, '')),
    h('td', {}, time(user.declinedAt, '')),
    h('td', {}, user.declineReason === null ? '' : DECLINE_REASON_WORDS[user.declineReason]),
    h('td', {}, user.declineAction ?? ''),
    h('td', {}, userText(user.declineActionError ?? '')),
  );
}

function signatureRow(signature: AupSignatureRow): HTMLTableRowElement {
  const of = signature.statementCount === null ? '?' : String(signature.statementCount);
  return h(
    'tr',
    { 'data-signature': signature.id },
    h('th', { scope: 'row' }, userText(signature.user)),
    h('td', {}, userText(signature.fullName)),
    h('td', {}, ROLE_WORDS[signature.role]),
    h('td', {}, h('code', {}, signature.documentId)),
    h('td', {}, userText(signature.version)),
    h('td', {}, time(signature.signedAt)),
    h(
      'td',
      {},
      h(
        'a',
        { href: `/devices/${encodeURIComponent(signature.deviceId)}` },
        userText(signature.hostname),
      ),
    ),
    h('td', {}, `${String(signature.acknowledged.length)} of ${of}`),
    h('td', {}, userText(signature.tutorGroup ?? '')),
    h('td', {}, userText(signature.parentCarer ?? '')),
    h('td', {}, signature.current ? 'Yes' : 'No'),
    h(
      'td',
      {},
      h(
        'a',
        {
          href: `/aup?signature=${encodeURIComponent(signature.id)}`,
          'aria-label': `Signed copy: ${signature.user}, ${signature.signedAt.slice(0, 10)}`,
        },
        'Signed copy',
      ),
    ),
  );
}

function render(register: AupRegister, query: URLSearchParams): void {
  byId('cycle').textContent =
    register.cycleStartsAt === null
      ? `Counting users seen since ${register.seenSince.slice(0, 10)} (no yearly re-signing).`
      : `This cycle began ${register.cycleStartsAt.slice(0, 10)} (UTC): signatures from before ` +
        'then are kept on record but no longer current.';
  byId('progress').replaceChildren(
    register.documents.length === 0
      ? h('p', {}, 'No policy in force at this school asks users to sign a document.')
      : scrolling(
          table(
            'Document versions in force',
            ['Document', 'Role', 'Version', 'Published', 'Signed', 'Outstanding', 'Progress'],
            register.documents.map(cycleRow),
            'counts',
          ),
          'progress',
        ),
    register.outstandingRoleUnknown === 0
      ? ''
      : h(
          'p',
          {},
          `${String(register.outstandingRoleUnknown)} outstanding users have never been shown ` +
            'a document, so which one they need is not known yet.',
        ),
  );
  byId('outstanding').replaceChildren(
    register.outstanding.length === 0
      ? h('p', {}, 'Nobody seen at this school this cycle is outstanding.')
      : scrolling(
          table(
            `Outstanding users (${String(register.outstanding.length)})`,
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
            register.outstanding.map(outstandingRow),
            'outstanding',
          ),
          'outstanding',
        ),
  );
  byId('signatures').replaceChildren(
    register.signatures.length === 0
      ? h('p', {}, 'No signature has been recorded on this school’s devices.')
      : scrolling(
          table(
            `Signatures (${String(register.signatures.length)}${register.truncated ? ', the newest only' : ''})`,
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
              'Signed copy',
            ],
            register.signatures.map(signatureRow),
            'signatures',
          ),
          'signatures',
        ),
  );
  for (const id of ['outstanding', 'signatures']) {
    byId(`${id}-csv`, HTMLAnchorElement).href =
      `/api/v1/ict/aup/register/${id}.csv?${query.toString()}`;
  }
}

async function showRegister(url: URLSearchParams): Promise<void> {
  const schools = await getJson<{ id: string; name: string }[]>('/schools');
  const school = url.get('school') ?? schools[0]?.id;
  const schoolSelect = byId('f-school', HTMLSelectElement);
  schoolSelect.replaceChildren(
    ...schools.map((s) => h('option', { value: s.id, selected: s.id === school }, s.name)),
  );
  if (school === undefined) {
    byId('progress').replaceChildren(h('p', {}, 'No school has been set up yet.'));
    return;
  }
  const query = new URLSearchParams({ school });
  for (const key of ['document', 'version']) {
    const value = url.get(key);
    if (value !== null && value !== '') {
      query.set(key, value);
    }
  }
  const register = await getJson<AupRegister>(`/aup/register?${query.toString()}`);
  const chosen = query.get('document');
  byId('f-document', HTMLSelectElement).append(
    ...[...new Map(register.documents.map((d) => [d.documentId, d])).values()].map((d) =>
      h('option', { value: d.documentId, selected: d.documentId === chosen }, d.title),
    ),
  );
  render(register, query);
}

async function main(): Promise<void> {
  await startPage();
  const url = new URLSearchParams(location.search);
  const signature = url.get('signature');
  try {
    await (signature === null ? showRegister(url) : showSignedCopy(signature));
  } catch (error) {
    byId('progress').replaceChildren();
    showError(
      (signature === null
        ? 'The register could not be loaded. '
        : 'The signed copy could not be loaded. ') + describeError(error),
    );
  }
  loaded();
}

void main();
