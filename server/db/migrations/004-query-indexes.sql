-- Indexes from the query benchmark's findings (bench/RESULTS.md, "Queries: findings").
-- Must run on PostgreSQL 15 (Debian) and PGlite (PostgreSQL 18).

-- Filters by one check's status answer from the index alone, without visiting check rows.
drop index check_states_check_status;
create index check_states_check_status_device on check_states (check_id, status, device_id);

-- Staleness counts from enrolment when a device never reported: keep the summary index-only.
drop index devices_summary;
create index devices_summary on devices (school_id, overall_status, last_seen_at, enrolled_at)
  where retired_at is null;

-- "Not reported for N days" reads this expression.
create index devices_silent_since on devices ((coalesce(last_seen_at, enrolled_at)))
  where retired_at is null;
