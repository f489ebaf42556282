// "What Hallpass collects" must explain every field the service sends: this walks the shared
// schemas of reports (with device facts and check results) and events, and fails on a field the
// page does not explain or an explanation of a field that no longer exists.
import type { TSchema } from 'typebox';
import { describe, expect, it } from 'vitest';
import { AgentEventSchema, ComplianceReportSchema } from '../../../shared/index.ts';
import { COLLECTED } from '../../../ui/collects/fields.ts';

interface Node {
  type?: string;
  properties?: Record<string, Node>;
  items?: Node;
  anyOf?: Node[];
}

/** Every leaf's path: objects by `.`, array items by `[]`, nullable unions as their non-null side. */
function leafPaths(schema: Node, prefix = '', out = new Set<string>()): Set<string> {
  if (schema.anyOf !== undefined) {
    const branches = schema.anyOf.filter((branch) => branch.type !== 'null');
    if (branches.length === 0) {
      out.add(prefix);
    }
    for (const branch of branches) {
      leafPaths(branch, prefix, out);
    }
  } else if (schema.type === 'object' && schema.properties !== undefined) {
    for (const [key, child] of Object.entries(schema.properties)) {
      leafPaths(child, prefix === '' ? key : `${prefix}.${key}`, out);
    }
  } else if (schema.type === 'array' && schema.items !== undefined) {
    leafPaths(schema.items, `${prefix}[]`, out);
  } else {
    out.add(prefix);
  }
  return out;
}

const asNode = (schema: TSchema): Node => schema;

/** What the schemas send, by source: `report`, `event` (the envelope), and each event type. */
function sentBySource(): Map<string, Set<string>> {
  const sent = new Map<string, Set<string>>();
  sent.set('report', leafPaths(asNode(ComplianceReportSchema)));
  const envelope = new Set<string>();
  for (const variant of asNode(AgentEventSchema).anyOf ?? []) {
    const properties = variant.properties ?? {};
    const type = (properties.type as { const?: string } | undefined)?.const;
    const data = properties.data;
    if (type === undefined || data === undefined) {
      throw new Error('an event variant without a literal type and data');
    }
    for (const key of Object.keys(properties)) {
      envelope.add(key);
    }
    sent.set(type, leafPaths(data));
  }
  sent.set('event', envelope);
  return sent;
}

/** What the page explains, by source. */
function explainedBySource(): Map<string, Set<string>> {
  const explained = new Map<string, Set<string>>();
  for (const group of COLLECTED) {
    for (const source of group.sources) {
      const set = explained.get(source) ?? new Set<string>();
      for (const field of group.fields) {
        set.add(field.key);
      }
      explained.set(source, set);
    }
  }
  return explained;
}

describe('what Hallpass collects', () => {
  const sent = sentBySource();
  const explained = explainedBySource();

  it('finds the report, the envelope and every event type in the schemas', () => {
    expect(sent.get('report')).toContain('device.hostname');
    expect(sent.get('report')).toContain('results[].reason.code');
    expect(sent.get('event')).toEqual(
      new Set(['schemaVersion', 'id', 'occurredAt', 'type', 'data']),
    );
    expect(sent.get('usb.blocked')).toContain('device.serial');
    expect(sent.size).toBeGreaterThan(10);
  });

  it('explains every field the service sends', () => {
    const missing: string[] = [];
    for (const [source, paths] of sent) {
      for (const path of paths) {
        if (!(explained.get(source)?.has(path) ?? false)) {
          missing.push(`${source}: ${path}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('explains nothing the service does not send', () => {
    const stale: string[] = [];
    for (const group of COLLECTED) {
      for (const field of group.fields) {
        // A group may cover several event types; each field must exist in at least one.
        if (!group.sources.some((source) => sent.get(source)?.has(field.key) ?? false)) {
          stale.push(`${group.id}: ${field.key}`);
        }
      }
      for (const source of group.sources) {
        if (!sent.has(source)) {
          stale.push(`${group.id}: source ${source}`);
        }
      }
    }
    expect(stale).toEqual([]);
  });

  it('every entry says what, why and how long in words, without jargon left blank', () => {
    for (const group of COLLECTED) {
      expect(group.kept.length).toBeGreaterThan(20);
      for (const field of group.fields) {
        expect(field.label.trim()).not.toBe('');
        expect(field.what).toMatch(/\.$/);
        expect(field.why).toMatch(/\.$/);
      }
    }
  });
});
