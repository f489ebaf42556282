// Schools and device groups: each listed with its active devices, linking to the school's page
// and to the group's policy page (any account); admins add and rename them. The server refuses a
// viewer's writes whatever this page does; it leaves the controls out so as not to offer them.
import type {
  Organisation,
  OrganisationUnit,
  RenamedGroup,
  Session,
} from '../../shared/schemas/ict-api.ts';
import { ApiError, call, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, h, showError, time } from './dom.ts';
import { sortableTable, type SortColumn } from './sortable-table.ts';

/** What differs between the two lists: where they live in the API and the page, and their words. */
interface Kind {
  key: 'school' | 'group';
  api: '/schools' | '/groups';
  noun: string;
  /** Where a row's name links to. */
  link: (id: string) => string;
}

const SCHOOLS: Kind = {
  key: 'school',
  api: '/schools',
  noun: 'school',
  link: (id) => `/schools/${encodeURIComponent(id)}`,
};
const GROUPS: Kind = {
  key: 'group',
  api: '/groups',
  noun: 'device group',
  link: (id) => `/policies/${encodeURIComponent(id)}`,
};

/** Why a name was refused, in words: the validator's own words are never shown. */
function nameRefusal(error: unknown, kind: Kind, name: string): string {
  if (error instanceof ApiError) {
    switch (error.code) {
      case 'exists':
        return `A ${kind.noun} named “${name}” exists already: choose another name.`;
      case 'invalid-name':
        // The server's words name the character (“U+202E”) and what to do; start them in capitals.
        return error.message.charAt(0).toUpperCase() + error.message.slice(1) + '.';
      case 'invalid-request':
        return 'A name is 1 to 200 characters. Type it again and try once more.';
      case 'not-found':
        return `This ${kind.noun} is no longer there. Reload the page to see the list as it is now.`;
      case 'forbidden':
        return `Your account is no longer an admin, so it cannot change ${kind.noun}s. Reload the page.`;
      case 'csrf':
        return 'Your session has changed since this page was loaded. Reload the page and try again.';
    }
  }
  return describeError(error);
}

/** A name typed into a field: spaces at either end dropped, or the problem in words. */
function readName(
  input: HTMLInputElement,
  kind: Kind,
): { ok: true; name: string } | { ok: false; message: string } {
  const name = input.value.trim();
  if (name === '') {
    return { ok: false, message: `Type the ${kind.noun}’s name.` };
  }
  if (name.length > 200) {
    return { ok: false, message: 'A name can be at most 200 characters.' };
  }
  return { ok: true, name };
}

/** After a group's rename: the AUP rules that still name its old name, in words, or nothing. */
function staleRules(renamed: RenamedGroup, oldName: string): string {
  const rules = renamed.aupRulesNamingOldName;
  if (rules.length === 0) {
    return '';
  }
  const list = rules.map((r) => `${r.ruleId} (policy of ${r.group})`).join(', ');
  return ` ${String(rules.length)} AUP ${rules.length === 1 ? 'rule still names' : 'rules still name'} “${oldName}” and so no longer ${rules.length === 1 ? 'applies' : 'apply'} to this group’s devices: ${list}. Edit those policies to name “${renamed.name}”.`;
}

function renameControl(unit: OrganisationUnit, kind: Kind, page: PageState): HTMLElement {
  const id = `rename-${unit.id}`;
  const input = h('input', { id, maxlength: 200, autocomplete: 'off', value: unit.name });
  const save = h('button', { type: 'button', class: 'primary' }, 'Save name');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const rename = h('button', { type: 'button' }, 'Rename…');
  const form = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-label': `Rename ${unit.name}` },
    h('label', { for: id }, `New name for ${unit.name}`),
    input,
    h('p', { class: 'actions' }, save, ' ', cancel),
  );
  form.hidden = true;
  rename.addEventListener('click', () => {
    rename.hidden = true;
    form.hidden = false;
    input.focus();
    input.select();
  });
  cancel.addEventListener('click', () => {
    input.value = unit.name;
    form.hidden = true;
    rename.hidden = false;
    rename.focus();
  });
  const submit = () => {
    const read = readName(input, kind);
    if (!read.ok) {
      showError(read.message);
      input.focus();
      return;
    }
    // Old words never stand beside new ones: what the last add or rename said goes now.
    byId(`${kind.key}-status`).textContent = '';
    byId(`${kind.key}s-status`).textContent = '';
    void (async () => {
      save.disabled = true;
      let said: string | null = null;
      try {
        const answer = await call<{ name: string }>(
          'PUT',
          `${kind.api}/${encodeURIComponent(unit.id)}/name`,
          { csrfToken: page.session.csrfToken, body: { name: read.name } },
        );
        showError(null);
        said =
          `Renamed “${unit.name}” to “${answer.name}”.` +
          (kind.key === 'group' ? staleRules(answer as RenamedGroup, unit.name) : '');
      } catch (error) {
        showError(`The ${kind.noun} was not renamed. ${nameRefusal(error, kind, read.name)}`);
      }
      save.disabled = false;
      await page.reload();
      // Said once the table shows it, so the words never describe a table not yet redrawn.
      if (said !== null) {
        byId(`${kind.key}s-status`).textContent = said;
      }
      byId(`${kind.key}s-heading`).focus();
    })();
  };
  save.addEventListener('click', submit);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      submit();
    }
  });
  return h('div', {}, rename, form);
}

/** The page's session and a way to redraw both lists. */
interface PageState {
  session: Session;
  reload: () => Promise<void>;
}

const COLUMNS: SortColumn<OrganisationUnit>[] = [
  { label: 'Name', value: (u) => u.name },
  { label: 'Active devices', value: (u) => u.devices },
  { label: 'Created', value: (u) => Date.parse(u.createdAt) },
];

function unitTable(units: OrganisationUnit[], kind: Kind, page: PageState): HTMLElement {
  if (units.length === 0) {
    return h('p', {}, `No ${kind.noun} has been made yet.`);
  }
  const admin = page.session.role === 'admin';
  const row = (unit: OrganisationUnit) =>
    h(
      'tr',
      { [`data-${kind.key}`]: unit.id },
      h(
        'th',
        { scope: 'row' },
        h('a', { href: kind.link(unit.id) }, unit.name),
        kind.key === 'group' ? h('span', { class: 'muted' }, ' (policy)') : null,
      ),
      h('td', { class: 'number' }, String(unit.devices)),
      h('td', {}, time(unit.createdAt)),
      ...(admin ? [h('td', {}, renameControl(unit, kind, page))] : []),
    );
  return sortableTable(
    kind.key === 'school' ? 'Schools in the trust' : 'Device groups in the trust',
    COLUMNS,
    units,
    row,
    { column: 0, direction: 'ascending' },
    (a, b) => a.id.localeCompare(b.id),
    'organisation',
    admin ? ['Action'] : [],
  );
}

async function load(page: PageState): Promise<void> {
  const organisation = await getJson<Organisation>('/organisation');
  byId('schools').replaceChildren(unitTable(organisation.schools, SCHOOLS, page));
  byId('groups').replaceChildren(unitTable(organisation.groups, GROUPS, page));
}

function wireCreate(kind: Kind, page: PageState): void {
  byId(`${kind.key}-create`).hidden = false;
  const input = byId(`${kind.key}-name`, HTMLInputElement);
  const status = byId(`${kind.key}-status`);
  const button = byId(`${kind.key}-button`, HTMLButtonElement);
  byId(`new-${kind.key}`, HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const read = readName(input, kind);
    if (!read.ok) {
      status.textContent = read.message;
      input.focus();
      return;
    }
    byId(`${kind.key}s-status`).textContent = '';
    void (async () => {
      button.disabled = true;
      status.textContent = '';
      try {
        await call('POST', kind.api, {
          csrfToken: page.session.csrfToken,
          body: { name: read.name },
        });
        input.value = '';
        await page.reload();
        status.textContent = `Added ${kind.noun} “${read.name}”.`;
      } catch (error) {
        status.textContent = `The ${kind.noun} was not added. ${nameRefusal(error, kind, read.name)}`;
      } finally {
        button.disabled = false;
      }
    })();
  });
}

async function main(): Promise<void> {
  const session = await startPage();
  const admin = session.role === 'admin';
  const page: PageState = {
    session,
    reload: async () => {
      try {
        await load(page);
      } catch (error) {
        showError('The schools and groups could not be loaded. ' + describeError(error));
      }
    },
  };
  if (!admin) {
    // Not merely hidden: a viewer's page holds no form at all.
    byId('school-create').remove();
    byId('group-create').remove();
  }
  try {
    await load(page);
    if (admin) {
      wireCreate(SCHOOLS, page);
      wireCreate(GROUPS, page);
    }
    byId('viewer-note').hidden = admin;
  } catch (error) {
    byId('schools').replaceChildren();
    byId('groups').replaceChildren();
    showError('The schools and groups could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
