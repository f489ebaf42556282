// Device group policies: every group with the version of its policy in force, when and by whom
// it was published, each linking to the group's policy page. Every account reads it.
import type { GroupPolicyList } from '../../shared/schemas/ict-api.ts';
import { describeError, getJson, loaded, startPage } from './api.ts';
import { byId, h, showError, table, time } from './dom.ts';
import { publisher } from './policy-view.ts';

function render(list: GroupPolicyList): void {
  byId('groups').replaceChildren(
    list.items.length === 0
      ? h('p', {}, 'No device group has been made yet.')
      : table(
          'Device groups and the policy version in force',
          [
            'Device group',
            'Policy name',
            'Version in force',
            'Published',
            'Published by',
            'Devices',
          ],
          list.items.map((item) =>
            h(
              'tr',
              { 'data-group': item.groupId },
              h(
                'th',
                { scope: 'row' },
                h('a', { href: `/policies/${encodeURIComponent(item.groupId)}` }, item.group),
              ),
              ...(item.current === null
                ? [
                    h(
                      'td',
                      { colspan: 4 },
                      h('span', { class: 'muted' }, 'No policy published yet'),
                    ),
                  ]
                : [
                    h('td', { class: 'device-text' }, item.current.name),
                    h('td', { class: 'number' }, `Version ${String(item.current.version)}`),
                    h('td', {}, time(item.current.publishedAt)),
                    h('td', {}, publisher(item.current.publishedBy)),
                  ]),
              h('td', { class: 'number' }, item.devices.toLocaleString('en-GB')),
            ),
          ),
          'policies',
        ),
  );
}

async function main(): Promise<void> {
  const session = await startPage();
  byId('viewer-note').hidden = session.role === 'admin';
  try {
    render(await getJson<GroupPolicyList>('/policies'));
  } catch (error) {
    byId('groups').replaceChildren();
    showError('The device groups could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
