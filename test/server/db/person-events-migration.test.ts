// Migration 021 on a database that already holds events naming users: each becomes one row of the
// subject access index under its user's key, and an event naming nobody (or something that is no
// name) adds nothing and cannot stop the server from starting.
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { migrate } from '../../../server/db/migrate.ts';
import { describeEachEngine } from '../../helpers/databases.ts';

const folder = new URL('../../../server/db/migrations/', import.meta.url);
const migrations = readdirSync(folder)
  .filter((name) => /^\d{3}-[a-z0-9-]+\.sql$/.test(name))
  .sort();
const before021 = migrations.filter((name) => Number(name.slice(0, 3)) < 21);

describeEachEngine('migration 021 (subject access index)', (engine) => {
  it('indexes every stored event that names a user, and nothing else', async () => {
    const db = await engine.openEmpty();
    try {
      await db.exec(
        'create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
      );
      for (const name of before021) {
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
      const insert = async (type: string, data: unknown): Promise<string> => {
        const [row] = await db.query<{ id: string }>(
          `insert into events (id, device_id, type, occurred_at, data)
           values (gen_random_uuid(), $1, $2, '2026-10-01T09:00:00Z', $3) returning id`,
          [device?.id, type, JSON.stringify(data)],
        );
        return row?.id ?? '';
      };
      const idle = await insert('idle.locked', { user: 'SCHOOL\\JSmith', idleSeconds: 1 });
      const usb = await insert('usb.blocked', { user: 'jsmith', action: 'blocked' });
      const tray = await insert('tamper.tray-missing', { user: 'Kim', minutes: 5 });
      await insert('idle.locked', { user: null, idleSeconds: 1 });
      await insert('usb.allowed', { user: 42 });
      await insert('usb.allowed', { user: '' });
      await insert('tamper.agent-stopped', { detail: 'user jsmith stopped it' });

      expect(await migrate(db)).toContain(21);
      const rows = await db.query<{ user_key: string; event_id: string }>(
        'select user_key, event_id from person_events order by user_key',
      );
      expect(rows).toEqual([
        { user_key: 'jsmith', event_id: usb },
        { user_key: 'kim', event_id: tray },
        { user_key: 'school\\jsmith', event_id: idle },
      ]);
    } finally {
      await db.close();
    }
  });
});
