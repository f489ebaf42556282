-- Reports are stored raw only when they carry news (issue 18). A device reports every 15 minutes
-- whether or not anything changed; keeping each report (about 4 KB) for 30 days and each report's
-- id forever was ~96 rows a device a day and a receipts table without end.
--
-- Ingest is idempotent without receipts: a check result no newer than the stored one changes
-- nothing, so a resent report applies again as a no-op, and a no-op is never news, so it is never
-- stored twice (server/store/ingest.ts). Receipts only answered "seen before", which the raw
-- `reports` table (primary key on the id) still answers within its retention. The table goes.
drop table report_receipts;

-- Check history and events are deleted past `historyRetentionDays` (server/store/history-retention.ts),
-- by the time the server received them; the AUP register's events stay.
create index check_changes_recorded on check_changes (recorded_at);
create index events_received on events (received_at);
