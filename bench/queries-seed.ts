// The queries benchmark's data (bench/queries.bench.ts), seeded by SQL: the fleet (devices and
// their check rows), then a year of what the dashboard's newer pages read: daily compliance
// snapshots, the history of check changes (the chase list's "failing since"), device events
// naming a user (its "last user"), the audit log and a few policy versions a group.
import { readFile } from 'node:fs/promises';
import type { Database } from '../server/db/db.ts';
import { parsePolicyYaml } from '../server/routes/api/v1/ict/group-policy.ts';
import { takeDailySnapshot } from '../server/store/compliance-snapshots.ts';

/** Days of history: a year. */
export const HISTORY_DAYS = 365;
/** Admin actions in the audit log over the year. */
export const AUDIT_ROWS = 50_000;
/** Admin accounts that wrote them. */
export const AUDIT_ACTORS = 8;
/** Policy versions published for each group over the year. */
export const POLICY_VERSIONS = 6;

/** Fills an empty (migrated) database with `devices` devices and their check rows. */
export async function seed(db: Database, devices: number): Promise<void> {
  // One transaction: the temp table and the random seed belong to one connection.
  await db.transaction(async (tx) => {
    await tx.exec(`
    select setseed(0.42);
    insert into schools (name)
      select format('School %s', lpad(g::text, 2, '0')) from generate_series(1, 20) g;
    insert into device_groups (name) values ('Pupil laptops'), ('Staff laptops'), ('Shared desktops');
    create temp table seed as
      select g, gen_random_uuid() as id,
             array(select case when r < 0.90 then 'pass' when r < 0.94 then 'fail'
                               when r < 0.98 then 'warn' else 'unknown' end
                     from (select random() as r from generate_series(1, 5) where g > 0) x) as statuses,
             random() < 0.01 as never_reported,
             random() < 0.05 as silent,
             random() < 0.005 as retired,
             random() as r
        from generate_series(1, ${String(devices)}) g;
  `);
    await tx.exec(`
    insert into devices (id, school_id, group_id, public_key_spki, machine_id_hash, hostname, serial,
                         os_name, facts, enrolled_at, last_seen_at, last_report_at, overall_status,
                         policy_version, retired_at)
    select s.id, sc.id, gr.id, 'bench-key-' || s.g, encode(sha256(s.g::text::bytea), 'hex'),
           format('%s-lt-%s', lower(replace(sc.name, ' ', '')), lpad(s.g::text, 6, '0')),
           'PF' || upper(substr(md5(s.g::text), 1, 8)), 'windows',
           jsonb_build_object(
             'hostname', format('%s-lt-%s', lower(replace(sc.name, ' ', '')), lpad(s.g::text, 6, '0')),
             'os', jsonb_build_object('name', 'windows', 'distro', 'Microsoft Windows 11 Education',
                                      'version', '10.0.22631', 'build', '22631', 'arch', 'x64'),
             'model', 'ThinkPad L13 Gen 4', 'manufacturer', 'LENOVO',
             'serial', 'PF' || upper(substr(md5(s.g::text), 1, 8)),
             'machineIdHash', encode(sha256(s.g::text::bytea), 'hex'), 'agentVersion', '0.1.0'),
           now() - interval '700 days' + s.r * interval '330 days',
           case when s.never_reported then null
                when s.silent then now() - interval '8 days' - s.r * interval '50 days'
                else now() - s.r * interval '1 hour' end,
           case when s.never_reported then null
                when s.silent then now() - interval '8 days' - s.r * interval '50 days'
                else now() - s.r * interval '1 hour' end,
           case when s.never_reported then null
                when 'fail' = any(s.statuses) then 'fail'
                when 'unknown' = any(s.statuses) then 'unknown'
                when 'warn' = any(s.statuses) then 'warn' else 'pass' end,
           case when s.never_reported then null else 1 end,
           case when s.retired then now() - interval '30 days' end
      from seed s
      join (select id, name, row_number() over (order by name) - 1 as n from schools) sc on sc.n = s.g % 20
      join (select id, row_number() over (order by name) - 1 as n from device_groups) gr on gr.n = s.g % 3;
  `);
    await tx.exec(`
    insert into check_states (device_id, check_id, status, summary, remediation, evidence, measured_at, changed_at)
    select s.id, c.check_id, s.statuses[c.n],
           c.check_id || ': ' || case when s.statuses[c.n] = 'pass' then 'compliant' else 'needs attention' end,
           case when s.statuses[c.n] <> 'pass' then 'Ask ICT to look at ' || c.check_id end,
           jsonb_build_object('source', 'bench', 'enabled', s.statuses[c.n] = 'pass', 'version', '4.18.24090.11'),
           -- Changed from 3 days to over 200 days before the last report: "failing since" varies.
           d.last_report_at, d.last_report_at - interval '3 days' - random() * interval '200 days'
      from seed s join devices d on d.id = s.id
      cross join (values (1, 'disk-encryption'), (2, 'antivirus'), (3, 'os-updates'),
                         (4, 'firewall'), (5, 'screen-lock')) c(n, check_id)
     where not s.never_reported;
    drop table seed;
  `);
  });
  await db.exec('vacuum analyze');
}

/** How many rows of each history table the seed wrote, for the results. */
export interface HistoryCounts {
  snapshots: number;
  checkChanges: number;
  events: number;
  audit: number;
  policies: number;
}

/**
 * Adds a year of history to a database `seed` filled. Today's snapshot is the real job's
 * (takeDailySnapshot over the seeded fleet); the 364 days before it are that day's rows with the
 * fleet smaller and failing more the further back they go.
 */
export async function seedHistory(db: Database, now: Date): Promise<HistoryCounts> {
  await takeDailySnapshot(db, now);
  const example = parsePolicyYaml(
    await readFile(new URL('../agent/core/policy/example-policy.yaml', import.meta.url), 'utf8'),
  );
  await db.transaction(async (tx) => {
    await tx.exec(`
    select setseed(0.17);
    insert into compliance_snapshots (scope, scope_id, day, pass, fail, warn, unknown, none, taken_at)
    select t.scope, t.scope_id, t.day - k, round(t.pass * f.grow * (1 - 0.2 * f.back))::int,
           round(t.fail * f.grow * (1 + f.back) * (0.9 + 0.2 * random()))::int,
           round(t.warn * f.grow * (0.9 + 0.2 * random()))::int,
           round(t.unknown * f.grow)::int, round(t.none * f.grow)::int,
           t.taken_at - k * interval '1 day'
      from compliance_snapshots t
     cross join generate_series(1, ${String(HISTORY_DAYS - 1)}) k
     cross join lateral (select k / ${String(HISTORY_DAYS)}.0 as back,
                                1 - 0.15 * k / ${String(HISTORY_DAYS)}.0 as grow) f;
  `);
    // Every check row's changes over the year, the newest one being to its current status at its
    // changed_at: failing rows changed 2–5 times (so "failing since" finds a real fail change),
    // the others 0–2 times. Spread evenly between a year ago and changed_at.
    await tx.query(
      `insert into check_changes (device_id, check_id, from_status, to_status, summary, measured_at,
                               recorded_at)
    select c.device_id, c.check_id,
           case when i = 1 then null
                when (c.n - i) % 2 = 1 then c.status else c.other end,
           case when (c.n - i) % 2 = 0 then c.status else c.other end,
           c.check_id || ': ' || case when (c.n - i) % 2 = 0 then c.status else c.other end,
           c.changed_at - (c.n - i) * c.span, c.changed_at - (c.n - i) * c.span + interval '2 minutes'
      from (select cs.device_id, cs.check_id, cs.status, cs.changed_at,
                   case when cs.status = 'pass' then 'fail' else 'pass' end as other,
                   case when cs.status = 'fail' then 2 + floor(random() * 4)
                        else floor(random() * 3) end::int as n,
                   greatest(cs.changed_at - ($1::timestamptz - interval '${String(HISTORY_DAYS)} days'),
                            interval '1 day') / 6 as span
              from check_states cs) c
     cross join generate_series(1, c.n) i`,
      [now],
    );
    // Four idle locks naming the user on each device that reported, over the year; a tenth of
    // them also has a newer event that names no one (the last-user lookup walks past it).
    await tx.exec(`
    insert into events (id, device_id, type, occurred_at, received_at, data)
    select gen_random_uuid(), d.id, 'idle.locked', t.at, t.at + interval '1 minute',
           jsonb_build_object('user', 'pupil' || (abs(hashtext(d.id::text)) % 90000)::text,
                              'idleSeconds', 600)
      from devices d
     cross join lateral (select d.last_report_at - j * interval '80 days' - random() * interval '20 days' as at
                           from generate_series(0, 3) j) t
     where d.last_report_at is not null;
    insert into events (id, device_id, type, occurred_at, received_at, data)
    select gen_random_uuid(), d.id, 'tamper.antivirus-disabled', d.last_report_at,
           d.last_report_at + interval '1 minute', '{"product": "Microsoft Defender"}'::jsonb
      from devices d where d.last_report_at is not null and random() < 0.1;
  `);
    // The admins, and their actions over the year: mostly USB approvals and tokens, now and then
    // a policy or an account. Inserted oldest first, so ids rise with time as they would.
    await tx.query(
      `insert into users (username, password_hash, role, created_at)
       select 'ict-admin-' || a, 'bench: never signs in', 'admin', $1::timestamptz - interval '400 days'
         from generate_series(1, ${String(AUDIT_ACTORS)}) a`,
      [now],
    );
    await tx.query(
      `insert into audit_log (at, actor_id, actor, action, target_type, target_id, before, after)
    select x.at, u.id, u.username, x.action,
           case split_part(x.action, '.', 1) when 'usb' then 'usb-approval'
                when 'token' then 'enrolment-token' when 'policy' then 'device-group'
                when 'user' then 'user' when 're-enrolment' then 'device'
                else 'alert-delivery' end,
           gen_random_uuid()::text,
           case when x.action in ('usb.approve', 'token.create', 'user.create') then null
                else jsonb_build_object('status', 'active', 'note', 'before ' || x.g) end,
           jsonb_build_object('status', case when x.action like '%.revoke' then 'revoked' else 'active' end,
                              'vendorId', '0781', 'productId', '5581', 'serial', md5(x.g::text),
                              'note', 'Approved for the exams office, ticket ' || x.g)
      from (select g, $1::timestamptz - random() * interval '${String(HISTORY_DAYS)} days' as at,
                   1 + floor(random() * ${String(AUDIT_ACTORS)})::int as actor,
                   (array['usb.approve', 'usb.approve', 'usb.approve', 'usb.approve', 'usb.revoke',
                          'token.create', 'token.create', 'token.revoke', 're-enrolment.allow',
                          're-enrolment.allow', 'policy.upload', 'user.reset-password',
                          'user.create', 'alert-delivery.retry'])[1 + floor(random() * 14)::int]
                     as action
              from generate_series(1, ${String(AUDIT_ROWS)}) g) x
      join users u on u.username = 'ict-admin-' || x.actor
     order by x.at`,
      [now],
    );
    await tx.query(
      `insert into policies (group_id, version, document, etag, uploaded_by, created_at)
       select g.id, v, jsonb_set(jsonb_set($1::jsonb, '{version}', to_jsonb(v)), '{name}', to_jsonb(g.name)),
              format('"bench-%s-%s"', g.id, v), u.id,
              $2::timestamptz - (${String(POLICY_VERSIONS)} - v) * interval '60 days'
         from device_groups g cross join generate_series(1, ${String(POLICY_VERSIONS)}) v
         join users u on u.username = 'ict-admin-1'`,
      [JSON.stringify(example), now],
    );
  });
  await db.exec('vacuum analyze');
  const [counts] = await db.query<HistoryCounts>(
    `select (select count(*)::int from compliance_snapshots) as snapshots,
            (select count(*)::int from check_changes) as "checkChanges",
            (select count(*)::int from events) as events,
            (select count(*)::int from audit_log) as audit,
            (select count(*)::int from policies) as policies`,
  );
  if (counts === undefined) {
    throw new Error('no counts');
  }
  return counts;
}
