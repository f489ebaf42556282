-- The digest of each device's last report (issue 18, "Unchanged reports cost almost nothing").
-- A device that holds the same digest sends only what changed since that report (a delta), and
-- the server applies it only when this column still names the report the delta starts from: a
-- restored database, a re-enrolled device or a lost update makes the two differ, and the device
-- is told to send in full. 32 bytes on a row the server writes on every report anyway; null until
-- the first full report (or always, where the server keeps every report raw).
alter table devices add column report_digest bytea
  constraint devices_report_digest_length check (octet_length(report_digest) = 32);
