-- Replacing an enrolled device needs proof of its current key or ICT's approval (issue 12):
-- an admin may allow one re-enrolment of a device until a time, and a retired device records
-- which device replaced it, so the retired one can be told so and ICT can follow the chain.
alter table devices add column reenrolment_allowed_until timestamptz;
alter table devices add column reenrolment_allowed_by uuid references users (id);
alter table devices add column replaced_by uuid references devices (id);
