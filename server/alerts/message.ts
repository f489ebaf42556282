// An alert as an email: a subject that says how much happened, and a plain-text body with a simple
// HTML twin, one section per school. Everything from devices (hostnames, summaries) is escaped.
import type { AlertItem, AlertPayload, AlertSchoolSection } from '../../shared/index.ts';

/** What the mailer sends. */
export interface AlertEmail {
  subject: string;
  text: string;
  html: string;
}

const plural = (n: number, one: string, many: string) => `${String(n)} ${n === 1 ? one : many}`;

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** The counts of a section in words: "2 checks failing, 1 tamper event". */
function countWords(section: AlertSchoolSection['counts']): string {
  const parts = [
    section.checkFailed > 0 ? plural(section.checkFailed, 'check failing', 'checks failing') : '',
    section.tamper > 0 ? plural(section.tamper, 'tamper event', 'tamper events') : '',
    section.deviceSilent > 0
      ? plural(section.deviceSilent, 'device gone silent', 'devices gone silent')
      : '',
  ].filter((p) => p !== '');
  return parts.join(', ');
}

/** One item in a line. */
export function itemLine(item: AlertItem): string {
  const when = item.occurredAt.slice(0, 16).replace('T', ' ') + ' UTC';
  switch (item.kind) {
    case 'check-failed':
      return `${item.hostname}: ${item.checkId ?? ''} now fails (${when}): ${item.summary ?? ''}`;
    case 'tamper':
      return `${item.hostname}: ${item.eventType ?? 'tamper event'} (${when})`;
    case 'device-silent':
      return `${item.hostname}: not heard from since ${when}`;
  }
}

function totals(payload: Omit<AlertPayload, 'deliveryId'>) {
  return payload.schools.reduce(
    (sum, s) => ({
      checkFailed: sum.checkFailed + s.counts.checkFailed,
      tamper: sum.tamper + s.counts.tamper,
      deviceSilent: sum.deviceSilent + s.counts.deviceSilent,
    }),
    { checkFailed: 0, tamper: 0, deviceSilent: 0 },
  );
}

/** The email for a payload. */
export function alertEmail(payload: Omit<AlertPayload, 'deliveryId'>): AlertEmail {
  const scope = payload.scope.school ?? 'the trust';
  if (payload.type === 'hallpass.alert.test') {
    const line = `This is a test alert from Hallpass for ${scope}. Alerts for this address work.`;
    return {
      subject: 'Hallpass test alert',
      text: `${line}\n`,
      html: `<p>${escapeHtml(line)}</p>`,
    };
  }
  const heading =
    payload.type === 'hallpass.alert.digest'
      ? `Hallpass daily alerts for ${scope}, ${payload.day ?? ''}`
      : `Hallpass alerts for ${scope}`;
  const text: string[] = [heading, ''];
  const html: string[] = [`<h1>${escapeHtml(heading)}</h1>`];
  for (const section of payload.schools) {
    text.push(`${section.school}: ${countWords(section.counts)}`);
    html.push(
      `<h2>${escapeHtml(section.school)}</h2>`,
      `<p>${escapeHtml(countWords(section.counts))}</p>`,
      '<ul>',
    );
    for (const item of section.items) {
      text.push(`  - ${itemLine(item)}`);
      html.push(`<li>${escapeHtml(itemLine(item))}</li>`);
    }
    html.push('</ul>');
    if (section.truncated) {
      const more = 'More items than one message lists: see the dashboard for all of them.';
      text.push(`  ${more}`);
      html.push(`<p>${escapeHtml(more)}</p>`);
    }
    text.push('');
  }
  return {
    subject: `${heading}: ${countWords(totals(payload))}`,
    text: text.join('\n'),
    html: html.join('\n'),
  };
}
