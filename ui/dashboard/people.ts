// The subject access page: an admin types a console user name and downloads everything the server
// holds about it, as the server sent it (GET /api/v1/ict/people/export), in parts when the history
// is long; other names with the same account part are offered, never exported unasked.
import type { PersonExport, PersonNames } from '../../shared/schemas/person-export.ts';
import { API, ApiError, describeError, getJson, goToSignIn, loaded, startPage } from './api.ts';
import { byId, h, showError } from './dom.ts';

/** What one download brought: the export, and the exact bytes and file name the server sent. */
interface Downloaded {
  body: PersonExport;
  text: string;
  fileName: string;
}

/** The name the server gave the file; a safe fallback when it gave none. */
function fileNameOf(disposition: string | null): string {
  const match = /filename="([A-Za-z0-9._-]+)"/.exec(disposition ?? '');
  return match?.[1] ?? 'hallpass-subject-access.json';
}

/** Fetches one export (part); the file is the server's own bytes, not a re-serialisation. */
async function fetchExport(user: string, eventsFrom: string | null): Promise<Downloaded> {
  const query = new URLSearchParams({ user });
  if (eventsFrom !== null) {
    query.set('eventsFrom', eventsFrom);
  }
  const response = await fetch(`${API}/people/export?${query.toString()}`, {
    headers: { accept: 'application/json' },
    credentials: 'same-origin',
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): the status alone says what happened.
  }
  if (!response.ok) {
    if (response.status === 401) {
      return goToSignIn();
    }
    const problem = (json ?? {}) as { error?: unknown; message?: unknown };
    throw new ApiError(
      response.status,
      typeof problem.error === 'string' ? problem.error : `http-${String(response.status)}`,
      typeof problem.message === 'string' ? problem.message : response.statusText,
      null,
    );
  }
  return {
    body: json as PersonExport,
    text,
    fileName: fileNameOf(response.headers.get('content-disposition')),
  };
}

/** Hands the file to the browser's downloads. */
function save(downloaded: Downloaded, part: number): void {
  const name =
    part === 1
      ? downloaded.fileName
      : downloaded.fileName.replace(/\.json$/, `-part${String(part)}.json`);
  const link = h('a', {
    href: URL.createObjectURL(new Blob([downloaded.text], { type: 'application/json' })),
    download: name,
    hidden: true,
  });
  document.body.append(link);
  link.click();
  link.remove();
}

const plural = (n: number, one: string, many: string) =>
  `${n.toLocaleString('en-GB')} ${n === 1 ? one : many}`;

/** What the download held, in words. */
function summary(found: PersonExport, part: number): string {
  const { aup, events, seen, consoleUserOf } = found;
  const held =
    aup.items.length + events.total + seen.length + consoleUserOf.length === 0
      ? `Hallpass holds nothing about “${found.user}”. The file says so, for the record.`
      : `Downloaded ${part === 1 ? 'the export' : `part ${String(part)}`} for “${found.user}”: ` +
        `${plural(aup.items.length, 'AUP signature or decline', 'AUP signatures and declines')}, ` +
        `${plural(events.items.length, 'event', 'events')}, seen at ` +
        `${plural(seen.length, 'school', 'schools')}.`;
  return events.truncated
    ? `${held} This part holds ${plural(events.items.length, 'event', 'events')} of the ` +
        `${events.total.toLocaleString('en-GB')} from its start: download the next part for the rest.`
    : held;
}

/** Offers the other names with the same account part, each one to export on its own. */
function showRelated(names: PersonNames, choose: (name: string) => void): void {
  const list = byId('related-list');
  list.replaceChildren(
    ...names.names.map((name) => {
      const button = h('button', { type: 'button' }, `Use “${name}”`);
      button.addEventListener('click', () => {
        choose(name);
      });
      return h('li', {}, h('code', { class: 'device-text' }, name), ' ', button);
    }),
  );
  byId('related').hidden = names.names.length === 0;
}

async function main(): Promise<void> {
  const session = await startPage();
  if (session.role !== 'admin') {
    byId('export-section').replaceWith(
      h(
        'p',
        {},
        'Only admins can export personal data. Ask an admin of the trust to make the export.',
      ),
    );
    loaded();
    return;
  }
  byId('export-section').hidden = false;
  const form = byId('export', HTMLFormElement);
  const input = byId('p-user', HTMLInputElement);
  const button = byId('export-button', HTMLButtonElement);
  const next = byId('next-button', HTMLButtonElement);
  const status = byId('export-status');
  let more: { user: string; from: string; part: number } | null = null;

  async function download(user: string, from: string | null, part: number): Promise<void> {
    showError(null);
    status.textContent = 'Gathering the export…';
    status.classList.remove('done');
    button.disabled = true;
    next.disabled = true;
    try {
      const downloaded = await fetchExport(user, from);
      save(downloaded, part);
      const { events } = downloaded.body;
      more =
        events.truncated && events.nextFrom !== null
          ? { user, from: events.nextFrom, part: part + 1 }
          : null;
      byId('next-part').hidden = more === null;
      status.textContent = summary(downloaded.body, part);
      status.classList.add('done');
      if (part === 1) {
        const related = await getJson<PersonNames>(
          `/people/names?${new URLSearchParams({ user }).toString()}`,
        );
        showRelated(related, (name) => {
          input.value = name;
          input.focus();
        });
      }
    } catch (error) {
      status.textContent = '';
      const words =
        error instanceof ApiError && error.code === 'invalid-request'
          ? 'That is not a user name a device could record. Check it and try again.'
          : describeError(error);
      showError(`The export could not be made. ${words}`);
      input.focus();
    } finally {
      button.disabled = false;
      next.disabled = false;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    // Spaces around a pasted name are never part of it; inside one they are kept.
    const user = input.value.trim();
    if (user === '') {
      showError('Type the user name to export.');
      input.focus();
      return;
    }
    byId('related').hidden = true;
    byId('next-part').hidden = true;
    void download(user, null, 1);
  });
  next.addEventListener('click', () => {
    if (more !== null) {
      void download(more.user, more.from, more.part);
    }
  });
  loaded();
}

void main();
