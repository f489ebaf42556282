-- Indexes for the ICT reads that still missed 100 ms at 100,000 devices (bench/RESULTS.md,
-- "queries"). Must run on PostgreSQL 15 (Debian) and PGlite (PostgreSQL 18); no extensions.

-- The summary counts check rows by (check, status). Without device_id the key repeats, so
-- B-tree deduplication keeps this index ~10 times smaller than check_states_check_status_device
-- and the count reads it alone: ~45 ms for 500,000 rows against ~100 ms for a scan of the table.
create index check_states_check_status on check_states (check_id, status);

-- The device list walks active devices in (hostname, id) order: pages with LIMIT, keyset pages
-- from a cursor, and deep OFFSETs without a sort. Search is "hostname or serial contains", which
-- no B-tree can seek; lower() of both is stored in the index so that a search reads the index
-- alone instead of calling lower() twice per row (half the cost of the old heap scan). serial is
-- included because the planner only plans an index-only scan when every column the query names
-- is in the index (PostgreSQL manual, "Index-Only Scans and Covering Indexes").
drop index devices_active_hostname;
create index devices_active_hostname on devices (hostname, id, (lower(hostname)), (lower(serial)))
  include (serial) where retired_at is null;
