-- Indexes for the ICT API. Must run on PostgreSQL 15 (Debian) and PGlite (PostgreSQL 18).

-- The device list pages through active devices in hostname order: a walk of this index with
-- LIMIT answers a page without sorting 100,000 rows.
create index devices_active_hostname on devices (hostname, id) where retired_at is null;

-- The summary counts every check row, then takes away retired devices' rows: they are few,
-- and this partial index finds them without a scan of all devices.
create index devices_retired on devices (id) where retired_at is not null;

-- Sign-in prunes the user's expired sessions.
create index sessions_user on sessions (user_id, expires_at);

-- The summary counts active devices by school, overall status and staleness: everything it
-- reads is in this index, so it never touches the (wide) device rows.
create index devices_summary on devices (school_id, overall_status, last_seen_at)
  where retired_at is null;
