-- Policy history on the dashboard (issue 16): a rollback publishes an old version's document as a
-- new version, and that version records which one it restored. Must run on PostgreSQL 15 (Debian)
-- and PGlite (PostgreSQL 18). Who published each version is `uploaded_by` (null: the server's own
-- command line), and when is `created_at`; both were there from the start.
alter table policies
  add column restored_from integer,
  -- Only an earlier version of the same group can be restored.
  add constraint policies_restored_from_earlier check (restored_from > 0 and restored_from < version),
  add constraint policies_restored_from_exists foreign key (group_id, restored_from)
    references policies (group_id, version);
