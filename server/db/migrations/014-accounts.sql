-- Accounts managed in the dashboard (issue 16): disable, re-enable, reset a password, change a
-- role. Must run on PostgreSQL 15 (Debian) and PGlite (PostgreSQL 18).

-- The latest successful sign-in, for the accounts page (null: none since this column exists).
alter table users add column last_sign_in_at timestamptz;

-- When the password was last set; existing accounts have had theirs since they were made.
alter table users add column password_changed_at timestamptz;
update users set password_changed_at = created_at;
alter table users alter column password_changed_at set default now();
alter table users alter column password_changed_at set not null;

-- A counter that disabling an account and resetting its password each move on. A session holds
-- the value its sign-in read (before the password was checked) and is good only while the two
-- agree, so a sign-in that checked the old password while an admin reset it (or disabled the
-- account) can never leave a working session behind, whichever transaction commits first.
alter table users add column session_generation integer not null default 0;
alter table sessions add column generation integer not null default 0;
