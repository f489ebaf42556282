-- The AUP register (issue 15). Must run on PostgreSQL 15 (Debian) and PGlite (PostgreSQL 18).
-- Every aup.accepted and aup.declined event, as typed columns beside its row in events: one row
-- per event id (the primary key, filled in the same statement that claims the event at ingest),
-- so a resend stores nothing twice and the register never counts a signature twice.
create table aup_records (
  event_id uuid primary key references events (id),
  device_id uuid not null references devices (id),
  -- The device's school when the record arrived: the register stays true to where the user
  -- signed even if the device later moves school.
  school_id uuid not null references schools (id),
  outcome text not null check (outcome in ('accepted', 'declined')),
  -- The console user as the device sent it (shown), and the key names are compared by: lower
  -- case after NFC, computed by the server in one place (server/store/aup-records.ts), never by
  -- the database's locale-dependent lower().
  user_name text not null,
  user_key text not null,
  role text not null,
  document_id text not null,
  kind text not null,
  version text not null,
  text_sha256 text not null,
  -- What was ticked and typed (accepted only).
  acknowledged integer[],
  full_name text,
  tutor_group text,
  parent_carer text,
  -- What the device did about a decline (declined only).
  decline_action text,
  action_error text,
  occurred_at timestamptz not null,
  received_at timestamptz not null,
  check ((outcome = 'accepted') = (acknowledged is not null and full_name is not null)),
  check ((outcome = 'declined') = (decline_action is not null))
);

-- A user's whole history (subject access, and the device's "signed elsewhere?" lookup) is one
-- index range scan.
create index aup_records_user on aup_records (user_key, occurred_at desc);
-- The register reads one school's records.
create index aup_records_school on aup_records (school_id, occurred_at desc);

-- Who was seen at which school, and when last: each user named by an event (an AUP window, an
-- idle lock, a USB decision) from the school's devices, latest sighting only, kept at ingest. The
-- register's "outstanding" reads this, not a year of events (a secondary school's idle locks
-- alone run to millions).
create table aup_seen_users (
  school_id uuid not null references schools (id),
  user_key text not null,
  user_name text not null,
  last_seen_at timestamptz not null,
  device_id uuid not null references devices (id),
  event_type text not null,
  primary key (school_id, user_key)
);

-- Sightings from events stored before this migration, keyed by the database's lower() (best effort).
insert into aup_seen_users (school_id, user_key, user_name, last_seen_at, device_id, event_type)
select distinct on (d.school_id, lower(e.data->>'user'))
       d.school_id, lower(e.data->>'user'), e.data->>'user', e.occurred_at, e.device_id, e.type
  from events e join devices d on d.id = e.device_id
 where e.type in ('aup.accepted', 'aup.declined', 'idle.locked', 'usb.blocked', 'usb.allowed')
   and jsonb_typeof(e.data->'user') = 'string' and e.data->>'user' <> ''
 order by d.school_id, lower(e.data->>'user'), e.occurred_at desc;

-- AUP events that arrived before this table existed (none from a released agent; the shape was
-- fixed with this migration). Best effort for the user key: the database's lower().
insert into aup_records (event_id, device_id, school_id, outcome, user_name, user_key, role,
                         document_id, kind, version, text_sha256, acknowledged, full_name,
                         tutor_group, parent_carer, decline_action, action_error, occurred_at,
                         received_at)
select e.id, e.device_id, d.school_id,
       case e.type when 'aup.accepted' then 'accepted' else 'declined' end,
       e.data->>'user', lower(e.data->>'user'), e.data->>'role', e.data->>'documentId',
       coalesce(e.data->>'kind', 'aup'), e.data->>'version', e.data->>'textSha256',
       case when e.type = 'aup.accepted' then
         -- Only small whole numbers: a malformed element must not fail the migration.
         array(select x::text::integer
                 from jsonb_array_elements(case when jsonb_typeof(e.data->'acknowledged') = 'array'
                                                then e.data->'acknowledged' else '[]'::jsonb end) as x
                where x::text ~ '^[0-9]{1,2}$')
       end,
       case when e.type = 'aup.accepted' then coalesce(e.data->>'fullName', '') end,
       e.data->>'tutorGroup', e.data->>'parentCarer',
       case when e.type = 'aup.declined' then coalesce(e.data->>'action', 'record-only') end,
       e.data->>'actionError', e.occurred_at, e.received_at
  from events e join devices d on d.id = e.device_id
 where e.type in ('aup.accepted', 'aup.declined')
   and e.data->>'user' is not null and e.data->>'documentId' is not null
   and e.data->>'version' is not null and e.data->>'textSha256' is not null
   and e.data->>'role' is not null;
