-- Alerts (issue 16): where they go, what they are about, and a durable log of every delivery.
-- Must run on PostgreSQL 15 (Debian) and PGlite (PostgreSQL 18). Alert items are derived from what
-- ingest already stores (check changes to fail, tamper.* events, devices gone silent) by a job every
-- server instance runs (server/store/alerts.ts); nothing in ingest writes here.

-- Where alerts go: a webhook URL or an email address, for the whole trust (school_id null) or one
-- school, as one digest a day (the default) or as soon as the job finds something.
create table alert_destinations (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('webhook', 'email')),
  target text not null check (length(target) between 3 and 2000),
  label text not null default '' check (length(label) <= 200),
  school_id uuid references schools (id),
  mode text not null default 'digest' check (mode in ('digest', 'immediate')),
  -- The HMAC key of a webhook, needed in clear to sign; shown to ICT once, at creation.
  secret text,
  enabled boolean not null default true,
  -- The last alert item already queued for this destination: each run queues the ones after it.
  items_through bigint not null default 0,
  -- The UTC day of the last digest queued; a digest destination gets at most one a day.
  last_digest_day date,
  created_by uuid references users (id),
  created_at timestamptz not null default now(),
  check ((kind = 'webhook') = (secret is not null))
);

-- What an alert is about, one row per thing that happened. `source` names what it was derived
-- from (`change:<id>`, `event:<id>`, `silent:<device>:<last seen>`), so scanning the same rows
-- again (two instances, an overlap window) adds nothing twice.
create table alert_items (
  id bigint generated always as identity primary key,
  source text not null unique,
  kind text not null check (kind in ('check-failed', 'tamper', 'device-silent')),
  school_id uuid not null references schools (id),
  device_id uuid not null references devices (id),
  occurred_at timestamptz not null,
  detected_at timestamptz not null,
  data jsonb not null
);
create index alert_items_school on alert_items (school_id, id);

-- One row per job: how far the scan of check changes and events has got.
create table alert_scan_state (
  name text primary key,
  scanned_through timestamptz not null
);

-- Every message queued for a destination, and what became of it. A digest is one row per
-- destination and day (the unique key makes a second instance's insert a no-op).
create table alert_deliveries (
  id uuid primary key default gen_random_uuid(),
  destination_id uuid not null references alert_destinations (id) on delete cascade,
  kind text not null check (kind in ('digest', 'immediate', 'test')),
  digest_day date,
  item_count integer not null default 0,
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null,
  last_attempt_at timestamptz,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  unique (destination_id, digest_day)
);
-- The sender takes due pending rows, oldest due first.
create index alert_deliveries_due on alert_deliveries (next_attempt_at) where status = 'pending';
create index alert_deliveries_recent on alert_deliveries (created_at desc);
