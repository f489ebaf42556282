-- Daily compliance snapshots for the dashboard's trends (issue 16). Must run on PostgreSQL 15
-- (Debian) and PGlite (PostgreSQL 18). The live tables hold only each device's latest state and
-- the changes, so "were we better last March?" needs counts kept per day: one row per UTC day for
-- the trust, each school and each check. A few dozen rows a day: 800 days stay far under a
-- megabyte. Written by a job every server instance runs (server/store/compliance-snapshots.ts);
-- the primary key makes a second instance's insert for the same day a no-op.
create table compliance_snapshots (
  scope text not null check (scope in ('trust', 'school', 'check')),
  -- The school's id or the check's id; '' for the trust (a primary key column cannot be null).
  scope_id text not null,
  day date not null,
  pass integer not null,
  fail integer not null,
  warn integer not null,
  unknown integer not null,
  -- Enrolled and active but no report yet (for a check: no result for that check).
  none integer not null,
  taken_at timestamptz not null default now(),
  -- A trend reads one scope's days in order: a range of this key.
  primary key (scope, scope_id, day)
);

-- Pruning old days reads this.
create index compliance_snapshots_day on compliance_snapshots (day);
