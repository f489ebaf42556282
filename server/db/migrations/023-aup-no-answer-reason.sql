-- A third reason a decline can have, for the AUP register (issue 15). Must run on PostgreSQL 15
-- (Debian) and PGlite (PostgreSQL 18).
--
-- `no-answer`: a tray of the user's was asked to show the window and no answer (a signature or a
-- decline) came within the policy's `aup.answerWithinMinutes`, so the service applied the decline
-- action itself: a program posing as the tray that shows nothing no longer holds it off. The
-- column still holds only the words the event schema allows; the register maps each to its text.
alter table aup_records drop constraint aup_records_decline_reason_check;
alter table aup_records add constraint aup_records_decline_reason_check
  check (decline_reason in ('declined', 'no-tray', 'no-answer'));
