// Renders the list of what Hallpass collects from fields.ts; nothing here comes from the service.
import { byId, h } from '../tray-common/dom.ts';
import { COLLECTED } from './fields.ts';

byId('contents').replaceChildren(
  ...COLLECTED.map((group) => h('li', {}, h('a', { href: `#${group.id}` }, group.heading))),
);
byId('groups').replaceChildren(
  ...COLLECTED.map((group) =>
    h(
      'section',
      { 'aria-labelledby': group.id, 'data-group': group.id },
      h('h2', { id: group.id, tabindex: '-1' }, group.heading),
      h('p', {}, group.intro),
      h('p', { class: 'kept' }, h('strong', {}, 'How long it is kept: '), group.kept),
      h(
        'dl',
        { class: 'fields' },
        ...group.fields.flatMap((field) => [
          h('dt', { 'data-field': `${group.id}:${field.key}` }, field.label),
          h('dd', {}, field.what, ' ', h('em', {}, 'Why: '), field.why),
        ]),
      ),
    ),
  ),
);
byId('main').removeAttribute('aria-busy');
