-- USB storage approvals made on the dashboard (issue 13). Must run on PostgreSQL 15 (Debian) and
-- PGlite (PostgreSQL 18). Rows are never deleted: a revocation is stamped on its approval, so
-- every approval and every revocation stays on record with the admin who made it.
create table usb_approvals (
  id uuid primary key default gen_random_uuid(),
  vendor_id text not null check (vendor_id ~ '^[0-9a-f]{4}$'),
  product_id text not null check (product_id ~ '^[0-9a-f]{4}$'),
  -- Null approves the model: every stick with this vendor and product id.
  serial text check (length(serial) between 1 and 200),
  description text not null check (length(description) between 1 and 200),
  -- Follows the organisation: one device group, one school, or the whole trust (every device).
  scope text not null check (scope in ('group', 'school', 'trust')),
  group_id uuid references device_groups (id),
  school_id uuid references schools (id),
  reason text not null check (length(reason) between 1 and 1000),
  expires_at timestamptz,
  approved_by uuid not null references users (id),
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  revoked_by uuid references users (id),
  check ((scope = 'group') = (group_id is not null)),
  check ((scope = 'school') = (school_id is not null)),
  check ((revoked_at is null) = (revoked_by is null))
);

-- A policy fetch reads the unrevoked approvals of the device's group, school and the trust:
-- this partial index holds only those, so revoked history never slows a fetch down.
create index usb_approvals_open on usb_approvals (scope, group_id, school_id)
  where revoked_at is null;

-- The USB page reads usb.blocked events of a time window through events_type (type,
-- occurred_at desc) from 001: no index of its own is needed.
