// Migration 009 on a database that already holds AUP events (stored before the register existed):
// each becomes one register row, and a malformed one cannot stop the server from starting.
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { migrate } from '../../../server/db/migrate.ts';
import { describeEachEngine } from '../../helpers/databases.ts';

const folder = new URL('../../../server/db/migrations/', import.meta.url);
const migrations = readdirSync(folder)
  .filter((name) => /^\d{3}-[a-z0-9-]+\.sql$/.test(name))
  .sort();
const before009 = migrations.filter((name) => Number(name.slice(0, 3)) < 9);
// 009 and every later migration: a database at 008 gets all of them, in order.
const from009 = migrations
  .map((name) => Number(name.slice(0, 3)))
  .filter((version) => version >= 9);

describeEachEngine('migration 009 (AUP register)', (engine) => {
  it('moves AUP events and sightings already stored into the register, malformed ones included', async () => {
    const db = await engine.openEmpty();
    try {
      await db.exec(
        'create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
      );
      for (const name of before009) {
        await db.exec(readFileSync(new URL(name, folder), 'utf8'));
        await db.query('insert into schema_migrations (version, name) values ($1, $2)', [
          Number(name.slice(0, 3)),
          name,
        ]);
      }
      const [device] = await db.query<{ id: string }>(
        `with s as (insert into schools (name) values ('Northgate') returning id),
              g as (insert into device_groups (name) values ('Laptops') returning id)
         insert into devices (school_id, group_id, public_key_spki, hostname, os_name, facts)
         select s.id, g.id, 'key', 'lt-1', 'linux', '{}' from s, g returning id`,
      );
      const insert = (type: string, data: unknown) =>
        db.query<{ id: string }>(
          `insert into events (id, device_id, type, occurred_at, data)
           values (gen_random_uuid(), $1, $2, '2026-10-01T09:00:00Z', $3) returning id`,
          [device?.id, type, JSON.stringify(data)],
        );
      const sha = 'a'.repeat(64);
      const base = { role: 'pupil', documentId: 'pupil-aup', version: '1', textSha256: sha };
      const [accepted] = await insert('aup.accepted', {
        ...base,
        user: 'JO',
        acknowledged: [0, 1],
      });
      // The shape before the contract: no kind, no typed details, nonsense in acknowledged.
      const [old] = await insert('aup.accepted', {
        ...base,
        user: 'sam',
        acknowledged: ['x', 1e300, 2],
      });
      const [declined] = await insert('aup.declined', { ...base, user: 'kim' });
      await insert('aup.accepted', { user: 'no-document' });
      await insert('idle.locked', { user: 'jo', idleSeconds: 1 });

      expect(await migrate(db)).toEqual(from009);
      const rows = await db.query<{
        event_id: string;
        outcome: string;
        user_key: string;
        kind: string;
        acknowledged: number[] | null;
        full_name: string | null;
        decline_action: string | null;
      }>(
        `select event_id, outcome, user_key, kind, acknowledged, full_name, decline_action
           from aup_records order by user_key`,
      );
      expect(rows).toEqual([
        {
          event_id: accepted?.id,
          outcome: 'accepted',
          user_key: 'jo',
          kind: 'aup',
          acknowledged: [0, 1],
          full_name: '',
          decline_action: null,
        },
        {
          event_id: declined?.id,
          outcome: 'declined',
          user_key: 'kim',
          kind: 'aup',
          acknowledged: null,
          full_name: null,
          decline_action: 'record-only',
        },
        {
          event_id: old?.id,
          outcome: 'accepted',
          user_key: 'sam',
          kind: 'aup',
          acknowledged: [2],
          full_name: '',
          decline_action: null,
        },
      ]);
      const seen = await db.query<{ user_key: string }>(
        'select user_key from aup_seen_users order by user_key',
      );
      expect(seen.map((row) => row.user_key)).toEqual(['jo', 'kim', 'no-document', 'sam']);
    } finally {
      await db.close();
    }
  });
});
