-- The audit log of admin actions (issue 16): who did what to what, when, and the state before and
-- after, written in the same transaction as the change itself. Must run on PostgreSQL 15 (Debian)
-- and PGlite (PostgreSQL 18). Append-only: the application has no statement that updates or
-- deletes a row, and the triggers below make the database refuse one whoever sends it.
create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  -- The account that acted, and its name as it was then (a row stays readable on its own).
  actor_id uuid not null references users (id),
  actor text not null check (length(actor) between 1 and 100),
  -- `noun.verb`, like events: token.create, token.revoke, usb.approve, policy.upload, …
  action text not null check (action ~ '^[a-z]+(-[a-z]+)*\.[a-z]+(-[a-z]+)*$'),
  target_type text not null check (length(target_type) between 1 and 50),
  target_id text not null check (length(target_id) between 1 and 200),
  -- The target before and after the change; null before a creation. Never a secret.
  before jsonb,
  after jsonb
);

-- The page reads newest first, optionally of one action or one account.
create index audit_log_at on audit_log (at desc, id desc);
create index audit_log_action_at on audit_log (action, at desc);
create index audit_log_actor_at on audit_log (actor, at desc);

create function audit_log_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_log is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_log_no_update before update or delete on audit_log
  for each row execute function audit_log_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_log_append_only();
