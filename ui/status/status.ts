// The status window: each check in plain words, what to do about it for staff (with a button to
// the OS's settings page), when the last report went, and which policy applies.
import type { TrayView } from '../../shared/tray-bridge.ts';
import type { CheckResult } from '../../shared/schemas/check-result.ts';
import { bridge } from '../tray-common/bridge.ts';
import { byId, h, when } from '../tray-common/dom.ts';
import { CHECK_WORDS, HEADLINES, STATUS_WORDS } from '../tray-common/words.ts';

const hallpass = bridge();

function checkItem(result: CheckResult, view: TrayView): HTMLLIElement {
  const words = CHECK_WORDS[result.checkId];
  const headingId = `check-${result.checkId}`;
  const settings = view.settings.find((s) => s.checkId === result.checkId);
  const staff = view.role === 'staff';
  const message = h('span', { role: 'status' });
  let button: HTMLButtonElement | null = null;
  if (staff && settings !== undefined && result.status !== 'pass') {
    button = h(
      'button',
      { type: 'button', class: 'secondary', 'aria-describedby': headingId },
      settings.label,
    );
    const clicked = button;
    clicked.addEventListener('click', () => {
      message.textContent = '';
      void hallpass.invoke('settings:open', result.checkId).then(
        (answer) => {
          message.textContent = answer.ok ? ' Opened.' : ` ${answer.error}`;
        },
        () => {
          message.textContent = ' Could not open the settings.';
        },
      );
    });
  }
  return h(
    'li',
    { 'data-check': result.checkId },
    h(
      'div',
      { class: 'check-head' },
      h('h3', { id: headingId }, words.name),
      h('span', { class: `status ${result.status}` }, STATUS_WORDS[result.status]),
    ),
    h('p', {}, result.summary),
    h('p', { class: 'muted' }, words.purpose),
    staff && result.status !== 'pass' && result.remediation !== undefined
      ? h('p', { class: 'remediation' }, h('strong', {}, 'What to do: '), result.remediation)
      : null,
    button,
    message,
  );
}

function render(view: TrayView): void {
  const headline = byId('headline');
  headline.textContent = HEADLINES[view.icon];
  headline.className = `headline ${view.icon}`;
  const reason = byId('reason');
  reason.hidden = view.connection === 'connected';
  reason.textContent =
    view.connection === 'connected'
      ? ''
      : view.status === null
        ? 'Nothing to show until Hallpass reaches its service.'
        : `What follows is from ${when(view.status.lastCheckAt)}, the last time Hallpass heard from its service.`;
  const status = view.status;
  const checks = byId('checks');
  checks.replaceChildren(
    ...(status === null || status.results.length === 0
      ? [h('li', {}, 'No checks have run yet.')]
      : status.results.map((result) => checkItem(result, view))),
  );
  byId('last-check').textContent = when(status?.lastCheckAt ?? null);
  byId('last-report').textContent = when(
    status?.lastDeliveryAt ?? status?.lastReportQueuedAt ?? null,
  );
  byId('policy').textContent =
    status === null ? 'not known yet' : `${status.policy.name}, version ${status.policy.version}`;
  (byId('run-checks') as HTMLButtonElement).disabled = view.connection !== 'connected';
  byId('main').removeAttribute('aria-busy');
}

byId('run-checks').addEventListener('click', () => {
  const result = byId('run-result');
  result.textContent = ' Checking…';
  void hallpass.invoke('checks:run').then(
    (view) => {
      render(view);
      result.textContent =
        view.connection === 'connected' ? ' Done.' : ' Hallpass is not reachable.';
    },
    () => {
      result.textContent = ' Hallpass could not check just now.';
    },
  );
});

hallpass.on('status:changed', render);
void hallpass.invoke('status:get').then(render, () => {
  byId('headline').textContent = HEADLINES.unreachable;
  byId('main').removeAttribute('aria-busy');
});
