// Migration 022 on a database that already holds AUP declines: each register row gets the reason
// its event carried, when it is one the event schema knows, and nothing else.
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { migrate } from '../../../server/db/migrate.ts';
import { describeEachEngine } from '../../helpers/databases.ts';

const folder = new URL('../../../server/db/migrations/', import.meta.url);
const migrations = readdirSync(folder)
  .filter((name) => /^\d{3}-[a-z0-9-]+\.sql$/.test(name))
  .sort();
const before022 = migrations.filter((name) => Number(name.slice(0, 3)) < 22);
const from022 = migrations
  .map((name) => Number(name.slice(0, 3)))
  .filter((version) => version >= 22);

describeEachEngine('migration 022 (why a decline happened)', (engine) => {
  it('fills each stored decline’s reason from its event, refusing words the schema lacks', async () => {
    const db = await engine.openEmpty();
    try {
      await db.exec(
        'create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
      );
      for (const name of before022) {
        await db.exec(readFileSync(new URL(name, folder), 'utf8'));
        await db.query('insert into schema_migrations (version, name) values ($1, $2)', [
          Number(name.slice(0, 3)),
          name,
        ]);
      }
      const [device] = await db.query<{ id: string; school_id: string }>(
        `with s as (insert into schools (name) values ('Northgate') returning id),
              g as (insert into device_groups (name) values ('Laptops') returning id)
         insert into devices (school_id, group_id, public_key_spki, hostname, os_name, facts)
         select s.id, g.id, 'key', 'lt-1', 'linux', '{}' from s, g returning id, school_id`,
      );
      const base = {
        role: 'pupil',
        documentId: 'pupil-aup',
        kind: 'aup',
        version: '1',
        textSha256: 'a'.repeat(64),
      };
      /** An event and its register row, as ingest stored them before this migration. */
      const store = async (user: string, type: string, data: Record<string, unknown>) => {
        const [event] = await db.query<{ id: string }>(
          `insert into events (id, device_id, type, occurred_at, data)
           values (gen_random_uuid(), $1, $2, '2026-10-01T09:00:00Z', $3) returning id`,
          [device?.id, type, JSON.stringify({ ...base, user, ...data })],
        );
        const accepted = type === 'aup.accepted';
        await db.query(
          `insert into aup_records (event_id, device_id, school_id, outcome, user_name, user_key,
                                   role, document_id, kind, version, text_sha256, acknowledged,
                                   full_name, decline_action, occurred_at, received_at)
           values ($1, $2, $3, $4, $5, $5, 'pupil', 'pupil-aup', 'aup', '1', $6, $7, $8, $9,
                   '2026-10-01T09:00:00Z', now())`,
          [
            event?.id,
            device?.id,
            device?.school_id,
            accepted ? 'accepted' : 'declined',
            user,
            base.textSha256,
            accepted ? [0] : null,
            accepted ? user : null,
            accepted ? null : 'lock',
          ],
        );
        return user;
      };
      await store('window', 'aup.declined', { action: 'lock', reason: 'declined' });
      await store('notray', 'aup.declined', { action: 'lock', reason: 'no-tray' });
      await store('older', 'aup.declined', { action: 'lock' });
      await store('hostile', 'aup.declined', { action: 'lock', reason: '<b>bored</b>' });
      await store('number', 'aup.declined', { action: 'lock', reason: 7 });
      await store('signed', 'aup.accepted', { acknowledged: [0], reason: 'declined' });

      expect(await migrate(db)).toEqual(from022);
      const rows = await db.query<{ user_key: string; decline_reason: string | null }>(
        'select user_key, decline_reason from aup_records order by user_key',
      );
      expect(rows).toEqual([
        { user_key: 'hostile', decline_reason: null },
        { user_key: 'notray', decline_reason: 'no-tray' },
        { user_key: 'number', decline_reason: null },
        { user_key: 'older', decline_reason: null },
        { user_key: 'signed', decline_reason: null },
        { user_key: 'window', decline_reason: 'declined' },
      ]);
    } finally {
      await db.close();
    }
  });
});
