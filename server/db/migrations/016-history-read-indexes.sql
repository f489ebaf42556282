-- Indexes from the query benchmark with a year of history (bench/queries.bench.ts, RESULTS.md
-- "ICT dashboard queries"): 100,000 devices, ~545,000 check changes. Must run on PostgreSQL 15
-- (Debian) and PGlite (PostgreSQL 18).

-- The chase list (and the school page's oldest failures) starts from every failing check row.
-- A few per cent of check rows fail: this walks only those, without visiting the table. Both
-- columns change only when the status does, so ingest's updates stay HOT as before.
create index check_states_failing on check_states (device_id, check_id) include (changed_at)
  where status = 'fail';

-- The school page counts its devices' check rows by check and status, and the chase list lists
-- each device's checks with when they began: from the index alone, where the school page hashed
-- a scan of every check row of the trust. Like check_states_failing, it changes with the status.
create index check_states_device_status on check_states (device_id)
  include (check_id, status, changed_at);

-- The policy pages count each group's active devices, and the overview counts them per group by
-- status and staleness: both from this index alone, as devices_summary does per school (004),
-- not from a scan of every device.
create index devices_active_group on devices (group_id, overall_status, last_seen_at, enrolled_at)
  where retired_at is null;
