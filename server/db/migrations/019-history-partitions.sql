-- Check history partitioned by month (issue 18, "Beyond one server"). Must run on PostgreSQL 15
-- (Debian) and PGlite (PostgreSQL 18).
--
-- Retention deleted check history row by row: every minute, the rows that had just aged past
-- `historyRetentionDays`, each delete leaving dead tuples and index entries for VACUUM. Partitioned
-- by month on `recorded_at` (the time retention is measured by), a month entirely past the cutoff
-- is dropped whole and only the boundary month loses rows (server/store/history-partitions.ts).
-- Partitions are named check_changes_yYYYYmMM and bounded by UTC months; housekeeping keeps this
-- month's and the next two's in place. The default partition catches a row for any month without
-- one, so ingest never fails for want of a partition; housekeeping moves such rows out when it
-- makes their month's partition.
--
-- The primary key has to include the partition column, so it is (id, recorded_at). Nothing
-- references check_changes.id by foreign key; ids still come from one sequence, so they stay
-- unique (the alert job keys its items on them, and the device page breaks ties with them).
--
-- `events` stays one table. Ingest claims each event by `on conflict (id) do nothing`: the
-- primary key on the id alone is what makes delivery exactly-once, for a resend at any age. A
-- partitioned table can only enforce a key that includes its partition column, so a key of
-- (id, received_at) would let a resend received later claim the same event a second time. A
-- separate unpartitioned table of claimed ids would keep that guarantee, but it would grow and
-- need deleting row by row exactly as events do now, and the purge keeps every AUP register
-- event whatever its age, so no month of events could be dropped whole anyway. The storage
-- benchmark measured events at 2.85 KB a device with a 30-day window (bench/RESULTS.md, 500
-- devices × 60 days). See docs/scaling.md.

alter table check_changes rename to check_changes_unpartitioned;
alter table check_changes_unpartitioned rename constraint check_changes_pkey
  to check_changes_unpartitioned_pkey;
-- The bigserial's sequence goes on numbering the partitioned table's rows.
alter sequence check_changes_id_seq owned by none;

create table check_changes (
  id bigint not null default nextval('check_changes_id_seq'),
  device_id uuid not null references devices (id),
  check_id text not null,
  from_status text,
  to_status text not null,
  summary text not null,
  measured_at timestamptz not null,
  recorded_at timestamptz not null default now(),
  constraint check_changes_pkey primary key (id, recorded_at)
) partition by range (recorded_at);
alter sequence check_changes_id_seq owned by check_changes.id;

create table check_changes_default partition of check_changes default;

-- A partition for each UTC month the history has rows in, and for this month and the next two.
do $$
declare
  month timestamp;
begin
  for month in
    select distinct date_trunc('month', recorded_at at time zone 'UTC')
      from check_changes_unpartitioned
    union
    select date_trunc('month', now() at time zone 'UTC') + make_interval(months => n)
      from generate_series(0, 2) as n
    order by 1
  loop
    execute format(
      'create table %I partition of check_changes for values from (%L) to (%L)',
      'check_changes_' || to_char(month, '"y"YYYY"m"MM'),
      to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00',
      to_char(month + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
  end loop;
end
$$;

insert into check_changes (id, device_id, check_id, from_status, to_status, summary, measured_at,
                           recorded_at)
select id, device_id, check_id, from_status, to_status, summary, measured_at, recorded_at
  from check_changes_unpartitioned;
drop table check_changes_unpartitioned;

-- The indexes of 001 and 015: created on the parent, so every partition has them, now and when it
-- is made.
create index check_changes_device on check_changes (device_id, measured_at desc);
create index check_changes_recorded on check_changes (recorded_at);
