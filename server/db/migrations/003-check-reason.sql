-- Why a check could not tell (`unknown`): the agent's reason code and detail, for ICT.
alter table check_states add column reason jsonb;
