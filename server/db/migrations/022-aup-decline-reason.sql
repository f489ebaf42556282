-- Why a decline happened, for the AUP register (issue 15). Must run on PostgreSQL 15 (Debian) and
-- PGlite (PostgreSQL 18).
--
-- An aup.declined event says why in `reason`: `declined`, the user declined or closed the window;
-- `no-tray`, the AUP was due and no tray of theirs showed the window within the policy's tray
-- allowance, so the service applied the decline action itself. Agents before `reason` send none:
-- null here, which the register shows as an older agent's decline with no reason given. Only the
-- two words the event schema allows are ever stored, so the register maps a code to its words and
-- never shows stored text as the reason.
alter table aup_records add column decline_reason text
  check (decline_reason in ('declined', 'no-tray'));
alter table aup_records add constraint aup_records_reason_is_decline
  check (decline_reason is null or outcome = 'declined');

-- Declines stored before this migration: the reason their event carried, when it is one of the two.
update aup_records r
   set decline_reason = e.data->>'reason'
  from events e
 where e.id = r.event_id and r.outcome = 'declined'
   and e.data->>'reason' in ('declined', 'no-tray');
