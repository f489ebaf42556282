// A printable signed copy of one AUP signature: the words the user was shown (the server's stored
// policy text whose SHA-256 matches what the device recorded), each statement ticked or not, what
// they typed, when and on which device. Where the server cannot reproduce the text, it says so
// instead of showing a text that may not be what was signed.
import type { AupSignedCopy } from '../../shared/schemas/aup-register.ts';
import { getJson } from './api.ts';
import { byId, h, time } from './dom.ts';

/** Role words; the CSV export (server/routes/api/v1/ict/aup-csv.ts) uses the same. */
export const ROLE_WORDS = { staff: 'Staff', pupil: 'Pupil' } as const;

/** Text a user or device supplied: isolated (<bdi>) and wrapped, always a text node. */
export const userText = (text: string): HTMLElement => h('bdi', { class: 'device-text' }, text);

function fact(term: string, ...value: (Node | string)[]): Node[] {
  return [h('dt', {}, term), h('dd', {}, ...value)];
}

/** Replaces the register with the signed copy of signature `id`. */
export async function showSignedCopy(id: string): Promise<void> {
  const copy = await getJson<AupSignedCopy>(`/aup/signatures/${encodeURIComponent(id)}`);
  const { signature, document } = copy;
  byId('register').hidden = true;
  byId('title').textContent = 'Signed copy';
  window.document.title = 'Signed copy · AUP register · Hallpass';
  const ticked = new Set(signature.acknowledged);
  const print = h('button', { type: 'button', class: 'no-print' }, 'Print');
  print.addEventListener('click', () => {
    window.print();
  });
  const article = byId('copy');
  article.replaceChildren(
    h(
      'p',
      { class: 'no-print actions' },
      h('a', { href: '/aup' }, 'Back to the register'),
      ' ',
      print,
    ),
    h('h2', {}, document === null ? 'Document text not available' : userText(document.title)),
    h(
      'dl',
      { class: 'facts' },
      ...fact('Name typed', userText(signature.fullName)),
      ...fact('Account', userText(signature.user)),
      ...fact('Role', ROLE_WORDS[signature.role]),
      ...fact('Signed', time(signature.signedAt), ` (${signature.signedAt})`),
      ...fact('Device', userText(signature.hostname)),
      ...fact('School', userText(copy.school)),
      ...fact(
        'Document',
        h('code', {}, signature.documentId),
        ' version ',
        userText(signature.version),
      ),
      ...(signature.tutorGroup === null ? [] : fact('Tutor group', userText(signature.tutorGroup))),
      ...(signature.parentCarer === null
        ? []
        : fact('Parent/carer', userText(signature.parentCarer))),
      ...fact('Text SHA-256', h('code', { class: 'device-text' }, signature.textSha256)),
      ...fact(
        'Text check',
        document === null
          ? h('strong', { class: 'flag' }, copy.documentProblem ?? 'Not available.')
          : 'The text below hashes to the fingerprint the device recorded when it was signed.',
      ),
    ),
  );
  if (document !== null) {
    article.append(
      h('p', { class: 'introduction' }, userText(document.introduction)),
      h(
        'ol',
        { class: 'statements' },
        ...document.statements.map((statement, index) =>
          h(
            'li',
            { 'data-ticked': ticked.has(index) },
            h(
              'span',
              { class: ticked.has(index) ? 'tick' : 'tick missing' },
              ticked.has(index) ? '☑ Ticked' : '☐ Not ticked',
            ),
            ' ',
            userText(statement),
          ),
        ),
      ),
    );
  }
  article.hidden = false;
}
