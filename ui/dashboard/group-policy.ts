// One device group's policy (`/policies/:groupId`): the version in force, its YAML in an editor
// (admins) checked by the server before anything is published, with every problem on its line and
// a diff against the version in force; publishing after a question; the history of versions, any
// of which can be read, compared with the one in force and (admins) rolled back to, which
// publishes it again as a new version. Viewers read everything and change nothing: their page
// holds no editor and no publish or rollback button, and the server refuses them whatever it is sent.
import type {
  PolicyCheckResponse,
  PolicyProblem,
  PolicyVersionDetail,
  PolicyVersionList,
  Session,
} from '../../shared/schemas/ict-api.ts';
import { ApiError, call, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, h, showError, table, time } from './dom.ts';
import { diffView, publisher } from './policy-view.ts';

/** The server's limit on a policy upload. */
const MAX_POLICY_BYTES = 256 * 1024;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface State {
  session: Session;
  groupId: string;
  versions: PolicyVersionList;
  /** The version in force with its YAML; null before the first is published. */
  current: PolicyVersionDetail | null;
}

const plural = (n: number, one: string, many: string): string =>
  `${n.toLocaleString('en-GB')} ${n === 1 ? one : many}`;

const versionPath = (state: State, suffix = '') =>
  `/groups/${encodeURIComponent(state.groupId)}/policy${suffix}`;

/** Asks the server what publishing `text` would do; publishes nothing. */
function checkText(state: State, text: string): Promise<PolicyCheckResponse> {
  return call<PolicyCheckResponse>('POST', versionPath(state, '/check'), {
    csrfToken: state.session.csrfToken,
    text: { type: 'application/yaml', body: text },
  });
}

/**
 * A button that asks first, in the page: the question and its "Yes" replace the button until
 * answered. `act` runs on "Yes"; it says itself what happened.
 */
function askFirst(
  label: string,
  title: string,
  question: string,
  yes: string,
  act: (yesButton: HTMLButtonElement) => Promise<void>,
): HTMLElement {
  const open = h('button', { type: 'button', class: 'primary' }, label);
  const confirm = h('button', { type: 'button', class: 'primary' }, yes);
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const box = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-label': title },
    h('p', {}, question),
    h('p', { class: 'actions' }, confirm, ' ', cancel),
  );
  box.hidden = true;
  open.addEventListener('click', () => {
    open.hidden = true;
    box.hidden = false;
    confirm.focus();
  });
  cancel.addEventListener('click', () => {
    box.hidden = true;
    open.hidden = false;
    open.focus();
  });
  confirm.addEventListener('click', () => {
    void (async () => {
      confirm.disabled = true;
      try {
        await act(confirm);
      } finally {
        confirm.disabled = false;
      }
    })();
  });
  return h('div', { class: 'ask-first' }, open, box);
}

/** The problems of a candidate, each with its line and a button that goes there in the editor. */
function problemList(problems: PolicyProblem[], editor: HTMLTextAreaElement | null): HTMLElement {
  return h(
    'ul',
    { class: 'problems' },
    ...problems.map((problem) =>
      h(
        'li',
        {},
        problem.line === null ? '' : `Line ${String(problem.line)}: `,
        h('code', { class: 'device-text' }, problem.path),
        `: ${problem.message}`,
        editor === null || problem.line === null ? null : ' ',
        editor === null || problem.line === null ? null : goToLine(editor, problem.line),
      ),
    ),
  );
}

function goToLine(editor: HTMLTextAreaElement, line: number): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'link' }, `Go to line ${String(line)}`);
  button.addEventListener('click', () => {
    const lines = editor.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
    const end = start + (lines[line - 1]?.length ?? 0);
    editor.focus();
    editor.setSelectionRange(start, end);
    // Bring the line into view: about a line's height for each line above it.
    const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 18;
    editor.scrollTop = Math.max(0, (line - 3) * lineHeight);
  });
  return button;
}

function renderInForce(state: State): void {
  const { versions, current } = state;
  const devices = plural(versions.devices, 'device', 'devices');
  if (current === null) {
    byId('in-force').replaceChildren(
      h(
        'p',
        {},
        `No policy has been published for ${versions.group} yet. The group has ${devices}.`,
      ),
    );
    return;
  }
  byId('in-force').replaceChildren(
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Version'),
      h('dd', { id: 'in-force-version' }, String(current.version)),
      h('dt', {}, 'Policy name'),
      h('dd', { class: 'device-text' }, policyName(current)),
      h('dt', {}, 'Published'),
      h('dd', {}, time(current.publishedAt)),
      h('dt', {}, 'Published by'),
      h('dd', {}, publisher(current.publishedBy)),
      ...(current.restoredFrom === null
        ? []
        : [
            h('dt', {}, 'Rollback'),
            h('dd', {}, `Restores version ${String(current.restoredFrom)}`),
          ]),
      h('dt', {}, 'Devices in the group'),
      h('dd', {}, versions.devices.toLocaleString('en-GB')),
    ),
  );
}

/** The name a stored version gives itself (old versions are shown as stored). */
function policyName(detail: PolicyVersionDetail): string {
  const name = (detail.policy as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : '';
}

function renderHistory(state: State): void {
  const { versions } = state;
  if (versions.items.length === 0) {
    byId('history').replaceChildren(h('p', {}, 'No version has been published yet.'));
    return;
  }
  const newest = versions.items[0]?.version;
  const rows = versions.items.map((item) => {
    const view = h(
      'button',
      { type: 'button' },
      'View',
      h('span', { class: 'visually-hidden' }, ` version ${String(item.version)}`),
    );
    view.addEventListener('click', () => {
      void showVersion(state, item.version);
    });
    return h(
      'tr',
      { 'data-version': item.version },
      h('th', { scope: 'row' }, `Version ${String(item.version)}`),
      h('td', {}, time(item.publishedAt)),
      h('td', {}, publisher(item.publishedBy)),
      h(
        'td',
        {},
        item.version === newest ? h('strong', {}, 'In force') : '',
        item.version === newest && item.restoredFrom !== null ? '. ' : '',
        item.restoredFrom === null ? '' : `Restores version ${String(item.restoredFrom)}`,
      ),
      h('td', {}, view),
    );
  });
  byId('history').replaceChildren(
    versions.total > versions.items.length
      ? h(
          'p',
          {},
          `The newest ${plural(versions.items.length, 'version', 'versions')} of ${versions.total.toLocaleString('en-GB')}.`,
        )
      : '',
    table(
      `Versions of the policy of ${versions.group}, newest first`,
      ['Version', 'Published', 'Published by', 'Note', 'Action'],
      rows,
      'history',
    ),
  );
}

/** Reads the group's versions and the one in force; redraws what shows them. */
async function reload(state: State, options: { resetEditor: boolean }): Promise<void> {
  state.versions = await getJson<PolicyVersionList>(versionPath(state, '/versions'));
  const newest = state.versions.items[0];
  state.current =
    newest === undefined
      ? null
      : await getJson<PolicyVersionDetail>(
          versionPath(state, `/versions/${String(newest.version)}`),
        );
  byId('title').textContent = `Policy of ${state.versions.group}`;
  document.title = `Policy of ${state.versions.group} · Hallpass`;
  renderInForce(state);
  renderHistory(state);
  if (state.session.role === 'admin') {
    if (options.resetEditor) {
      byId('policy-text', HTMLTextAreaElement).value = state.current?.yaml ?? '';
      clearCheck();
    }
  } else {
    byId('yaml-section').hidden = state.current === null;
    byId('yaml-in-force').replaceChildren(
      state.current === null ? '' : h('pre', { class: 'policy-yaml' }, state.current.yaml),
    );
  }
}

function clearCheck(note: string | null = null): void {
  const editor = byId('policy-text', HTMLTextAreaElement);
  editor.removeAttribute('aria-invalid');
  editor.setAttribute('aria-describedby', 'policy-hint');
  byId('check-result').replaceChildren(note === null ? '' : h('p', { class: 'note' }, note));
}

/** Shows what the server said of the editor's text, and offers publishing when it may be. */
function renderCheck(state: State, text: string, result: PolicyCheckResponse): void {
  const editor = byId('policy-text', HTMLTextAreaElement);
  const out = byId('check-result');
  const from =
    result.base === null ? 'no policy' : `version ${String(result.base.version)} (in force)`;
  const to = `the new version ${String(result.nextVersion)}`;
  const heading = h('h3', { id: 'check-heading', tabindex: -1 });
  const parts: (HTMLElement | null)[] = [heading];
  if (!result.valid) {
    heading.textContent = `${plural(result.problems.length, 'problem', 'problems')} to fix: this cannot be published yet`;
    parts.push(
      h('div', { id: 'problems', class: 'problem-box' }, problemList(result.problems, editor)),
    );
    editor.setAttribute('aria-invalid', 'true');
    editor.setAttribute('aria-describedby', 'policy-hint problems');
  } else {
    editor.removeAttribute('aria-invalid');
    editor.setAttribute('aria-describedby', 'policy-hint');
    heading.textContent = result.unchanged
      ? 'No changes: nothing to publish'
      : `The policy is valid: it can be published as version ${String(result.nextVersion)}`;
  }
  if (result.valid && result.unchanged) {
    parts.push(
      h(
        'p',
        {},
        `This is the same policy as version ${String(result.base?.version ?? '')} in force.`,
      ),
    );
  } else if (result.diff !== null) {
    parts.push(
      h('h4', {}, result.valid ? 'What publishing would change' : 'Your changes so far'),
      diffView(result.diff, from, to),
    );
  }
  if (result.valid && !result.unchanged) {
    const group = state.versions.group;
    const devices = plural(state.versions.devices, 'device', 'devices');
    const next = String(result.nextVersion);
    parts.push(
      askFirst(
        `Publish as version ${next}…`,
        `Publish version ${next}?`,
        `Publish version ${next} to the ${devices} of ${group}? Each device gets it the next time ` +
          'it asks for its policy.' +
          (result.base === null
            ? ''
            : ` Version ${String(result.base.version)} stays in the history, and you can roll back to it.`),
        `Yes, publish version ${next}`,
        () => publish(state, text, result),
      ),
    );
  }
  out.replaceChildren(...parts.filter((part) => part !== null));
  heading.focus();
}

async function publish(state: State, text: string, result: PolicyCheckResponse): Promise<void> {
  try {
    const stored = await call<{ version: number }>('PUT', versionPath(state), {
      csrfToken: state.session.csrfToken,
      text: { type: 'application/yaml', body: text },
      // Made against no policy at all: refused if someone published a first version meanwhile.
      headers: result.base === null ? { 'if-none-match': '*' } : { 'if-match': result.base.etag },
    });
    showError(null);
    await reload(state, { resetEditor: true });
    byId('version-section').hidden = true;
    byId('page-status').textContent =
      `Version ${String(stored.version)} published. Devices of ${state.versions.group} get it ` +
      'the next time they ask for their policy.';
    byId('in-force-heading').focus();
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) {
      // Someone else published first: the diff shown was against an older version.
      await reload(state, { resetEditor: false });
      clearCheck(`Not published: ${error.message}`);
      byId('check-result').focus();
      return;
    }
    showError('The policy was not published. ' + describeError(error));
  }
}

async function rollBack(state: State, version: number, etag: string): Promise<void> {
  try {
    const stored = await call<{ version: number }>('POST', versionPath(state, '/rollback'), {
      csrfToken: state.session.csrfToken,
      body: { version },
      headers: { 'if-match': etag },
    });
    showError(null);
    await reload(state, { resetEditor: true });
    byId('version-section').hidden = true;
    byId('page-status').textContent =
      `Version ${String(stored.version)} published: it restores version ${String(version)}. ` +
      `Devices of ${state.versions.group} get it the next time they ask for their policy.`;
    byId('in-force-heading').focus();
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) {
      await reload(state, { resetEditor: false });
      byId('version-section').hidden = true;
    }
    showError('The rollback was not published. ' + describeError(error));
  }
}

/** Opens one version: its facts, what rolling back to it would change, and its whole YAML. */
async function showVersion(state: State, version: number): Promise<void> {
  const section = byId('version-section');
  let detail: PolicyVersionDetail;
  let check: PolicyCheckResponse | null = null;
  const current = state.current;
  try {
    detail = await getJson<PolicyVersionDetail>(versionPath(state, `/versions/${String(version)}`));
    if (current !== null && current.version !== version) {
      check = await checkText(state, detail.yaml);
    }
  } catch (error) {
    showError(`Version ${String(version)} could not be loaded. ` + describeError(error));
    return;
  }
  showError(null);
  const admin = state.session.role === 'admin';
  const isCurrent = current?.version === version;
  byId('version-heading').textContent =
    `Version ${String(version)}${isCurrent ? ' (in force)' : ''}`;
  const parts: (Node | null)[] = [
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Policy name'),
      h('dd', { class: 'device-text' }, policyName(detail)),
      h('dt', {}, 'Published'),
      h('dd', {}, time(detail.publishedAt)),
      h('dt', {}, 'Published by'),
      h('dd', {}, publisher(detail.publishedBy)),
      ...(detail.restoredFrom === null
        ? []
        : [
            h('dt', {}, 'Rollback'),
            h('dd', {}, `Restores version ${String(detail.restoredFrom)}`),
          ]),
    ),
  ];
  if (isCurrent) {
    parts.push(h('p', {}, 'This is the version in force.'));
  } else if (check !== null && current !== null) {
    const inForce = `version ${String(current.version)} (in force)`;
    if (!check.valid) {
      parts.push(
        h(
          'p',
          {},
          `Version ${String(version)} no longer passes today's policy checks, so it cannot be ` +
            'rolled back to as it is:',
        ),
        problemList(check.problems, null),
      );
    } else if (check.unchanged) {
      parts.push(
        h(
          'p',
          {},
          `Version ${String(version)} is the same policy as ${inForce}: rolling back to it would change nothing.`,
        ),
      );
    } else if (check.diff !== null) {
      const next = String(check.nextVersion);
      parts.push(
        h(
          'h3',
          {},
          admin
            ? 'What rolling back to it would change'
            : 'How it differs from the version in force',
        ),
        diffView(check.diff, inForce, `version ${String(version)} as version ${next}`),
      );
      if (admin) {
        parts.push(
          askFirst(
            `Roll back to version ${String(version)}…`,
            `Roll back to version ${String(version)}?`,
            `Roll back to version ${String(version)}? Its policy is published again as version ` +
              `${next}, for the ${plural(state.versions.devices, 'device', 'devices')} of ` +
              `${state.versions.group}; each gets it the next time it asks for its policy. ` +
              `Version ${String(current.version)} stays in the history.`,
            `Yes, roll back to version ${String(version)}`,
            () => rollBack(state, version, current.etag),
          ),
        );
      }
    }
  }
  if (admin && !isCurrent) {
    const copy = h('button', { type: 'button' }, 'Edit a copy of it');
    copy.addEventListener('click', () => {
      const editor = byId('policy-text', HTMLTextAreaElement);
      editor.value = detail.yaml;
      clearCheck(`The editor holds version ${String(version)}: change it, then check it.`);
      editor.focus();
    });
    parts.push(h('p', {}, copy));
  }
  parts.push(
    h(
      'details',
      { class: 'policy-document' },
      h('summary', {}, `The whole of version ${String(version)} as YAML`),
      h('pre', { class: 'policy-yaml' }, detail.yaml),
    ),
  );
  byId('version').replaceChildren(...parts.filter((part) => part !== null));
  section.hidden = false;
  byId('version-heading').focus();
}

function wireEditor(state: State): void {
  const editor = byId('policy-text', HTMLTextAreaElement);
  const button = byId('check-button', HTMLButtonElement);
  editor.addEventListener('input', () => {
    // A check (and its publish button) belongs to the text it checked.
    if (document.getElementById('check-heading') !== null) {
      clearCheck('The text has changed since it was checked: check it again before publishing.');
    }
  });
  byId('reset-button').addEventListener('click', () => {
    editor.value = state.current?.yaml ?? '';
    clearCheck();
    editor.focus();
  });
  byId('edit', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const text = editor.value;
    if (new TextEncoder().encode(text).length > MAX_POLICY_BYTES) {
      clearCheck('The policy is larger than 256 KB, the most the server takes. Shorten it.');
      byId('check-result').focus();
      return;
    }
    void (async () => {
      button.disabled = true;
      try {
        const result = await checkText(state, text);
        showError(null);
        // The text may have changed while the server was answering.
        if (editor.value === text) {
          renderCheck(state, text, result);
        }
      } catch (error) {
        showError('The policy could not be checked. ' + describeError(error));
      } finally {
        button.disabled = false;
      }
    })();
  });
}

async function main(): Promise<void> {
  const session = await startPage();
  const groupId = location.pathname.split('/')[2] ?? '';
  if (!UUID.test(groupId)) {
    showError('This address does not name a device group. Go back to the policies and choose one.');
    loaded();
    return;
  }
  const admin = session.role === 'admin';
  if (admin) {
    byId('edit-section').hidden = false;
  } else {
    // Not merely hidden: a viewer's page holds no editor at all.
    byId('edit-section').remove();
    byId('viewer-note').hidden = false;
  }
  const state: State = {
    session,
    groupId,
    versions: { groupId, group: '', devices: 0, total: 0, items: [] },
    current: null,
  };
  try {
    await reload(state, { resetEditor: true });
    if (admin) {
      wireEditor(state);
    }
  } catch (error) {
    byId('in-force').replaceChildren();
    showError("This group's policy could not be loaded. " + describeError(error));
  }
  loaded();
}

void main();
