-- Subject access (UK GDPR Article 15, issue 15): every event that names a person, found by one
-- index range scan. Must run on PostgreSQL 15 (Debian) and PGlite (PostgreSQL 18).
--
-- Events keep the user name inside `data` (`data->>'user'`), and nothing indexes it: finding one
-- person's idle locks and USB decisions meant reading every event of the trust. This table holds,
-- per event naming a console user, the key names are compared by (aupUserKey in
-- server/store/aup-records.ts: NFC then lower case, computed by the server, as aup_records does),
-- filled by ingest in the statement that claims the event. Deleting an event (history retention)
-- deletes its row here too.
create table person_events (
  user_key text not null,
  occurred_at timestamptz not null,
  event_id uuid not null references events (id) on delete cascade,
  primary key (user_key, occurred_at, event_id)
);
-- The cascade from the retention purge finds a deleted event's row by its id.
create index person_events_event on person_events (event_id);

-- A person's sightings at each school, for the export (the primary key leads with the school).
create index aup_seen_users_user on aup_seen_users (user_key);

-- Events stored before this migration, keyed by the database's lower() (best effort, as 009 did
-- for aup_records: the same as the server's key for every name in ASCII, which is what Windows,
-- macOS and Linux account names almost always are).
insert into person_events (user_key, occurred_at, event_id)
select lower(e.data->>'user'), e.occurred_at, e.id
  from events e
 where e.type in ('aup.accepted', 'aup.declined', 'idle.locked', 'usb.blocked', 'usb.allowed',
                  'tamper.tray-missing')
   and jsonb_typeof(e.data->'user') = 'string' and e.data->>'user' <> ''
on conflict do nothing;
