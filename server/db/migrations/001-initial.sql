-- Hallpass server schema, version 1. Must run on PostgreSQL 15 (Debian) and PGlite (PostgreSQL 18).
-- Latest state per device and per check, a history of status changes, and events; raw reports
-- only for the configured retention.

create table schools (
  id uuid primary key default gen_random_uuid(),
  name text not null unique check (length(name) between 1 and 200),
  created_at timestamptz not null default now()
);

create table device_groups (
  id uuid primary key default gen_random_uuid(),
  name text not null unique check (length(name) between 1 and 200),
  created_at timestamptz not null default now()
);

create table users (
  id uuid primary key default gen_random_uuid(),
  username text not null unique check (length(username) between 1 and 100),
  password_hash text not null,
  role text not null check (role in ('admin', 'viewer')),
  created_at timestamptz not null default now(),
  disabled_at timestamptz
);

-- One row per uploaded version; the newest version of a group is in force.
create table policies (
  id uuid primary key default gen_random_uuid(),
  group_id uuid not null references device_groups (id),
  version integer not null check (version > 0),
  document jsonb not null,
  etag text not null,
  uploaded_by uuid references users (id),
  created_at timestamptz not null default now(),
  unique (group_id, version)
);

-- Tokens are stored as SHA-256 hashes: a leaked database does not leak usable tokens.
create table enrolment_tokens (
  id uuid primary key default gen_random_uuid(),
  token_hash text not null unique,
  label text not null default '',
  school_id uuid not null references schools (id),
  group_id uuid not null references device_groups (id),
  expires_at timestamptz not null,
  max_uses integer not null check (max_uses > 0),
  uses integer not null default 0,
  revoked_at timestamptz,
  created_by uuid references users (id),
  created_at timestamptz not null default now()
);

-- The server holds each device's public key only; the private key never leaves the device.
create table devices (
  id uuid primary key default gen_random_uuid(),
  school_id uuid not null references schools (id),
  group_id uuid not null references device_groups (id),
  public_key_spki text not null unique,
  machine_id_hash text,
  hostname text not null,
  serial text,
  os_name text not null,
  facts jsonb not null,
  enrolled_via uuid references enrolment_tokens (id),
  enrolled_at timestamptz not null default now(),
  last_seen_at timestamptz,
  last_report_at timestamptz,
  overall_status text check (overall_status in ('pass', 'fail', 'warn', 'unknown')),
  policy_version integer,
  clone_suspect boolean not null default false,
  replaces uuid references devices (id),
  retired_at timestamptz
);
create index devices_machine_id_hash on devices (machine_id_hash) where retired_at is null;
create index devices_school_status on devices (school_id, overall_status);
create index devices_last_seen on devices (last_seen_at);

create table check_states (
  device_id uuid not null references devices (id),
  check_id text not null,
  status text not null check (status in ('pass', 'fail', 'warn', 'unknown')),
  summary text not null,
  remediation text,
  evidence jsonb not null,
  measured_at timestamptz not null,
  changed_at timestamptz not null,
  primary key (device_id, check_id)
);
create index check_states_check_status on check_states (check_id, status);

create table check_changes (
  id bigserial primary key,
  device_id uuid not null references devices (id),
  check_id text not null,
  from_status text,
  to_status text not null,
  summary text not null,
  measured_at timestamptz not null,
  recorded_at timestamptz not null default now()
);
create index check_changes_device on check_changes (device_id, measured_at desc);

-- Raw reports, kept for the retention period only; their ids make ingest idempotent.
create table reports (
  id uuid primary key,
  device_id uuid not null references devices (id),
  created_at timestamptz not null,
  received_at timestamptz not null default now(),
  body jsonb not null
);
create index reports_received on reports (received_at);

-- Ids of every report ever accepted, so a resend after the retention purge stores nothing twice.
create table report_receipts (
  id uuid primary key,
  device_id uuid not null references devices (id),
  received_at timestamptz not null default now()
);

create table events (
  id uuid primary key,
  device_id uuid not null references devices (id),
  type text not null,
  occurred_at timestamptz not null,
  received_at timestamptz not null default now(),
  data jsonb not null
);
create index events_device on events (device_id, occurred_at desc);
create index events_type on events (type, occurred_at desc);

-- Nonces of signed requests within the allowed clock skew: a replay is refused on every instance.
create table seen_nonces (
  device_id uuid not null,
  nonce text not null,
  seen_at timestamptz not null default now(),
  primary key (device_id, nonce)
);
create index seen_nonces_seen_at on seen_nonces (seen_at);

-- ICT sessions, by SHA-256 of the cookie value.
create table sessions (
  id_hash text primary key,
  user_id uuid not null references users (id),
  csrf_token text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);

-- Failed sign-in attempts per key (username and address), for rate limiting across instances.
create table login_failures (
  key text not null,
  failed_at timestamptz not null default now()
);
create index login_failures_key on login_failures (key, failed_at);
