-- One calibration per observation, type and rank: the calcache worker and a bulk rebuild
-- replace an observation's rows under a lock on it, and this constraint makes a breach an
-- error instead of a duplicate.
ALTER TABLE calcache ADD CONSTRAINT calcache_obs_hid_caltype_rank_key UNIQUE (obs_hid, caltype, rank);

-- The bulk rebuilds of the cache (agentctl calcache rebuild), for agentctl calcache status.
CREATE TABLE agentd_calcache_rebuild (
    id           serial PRIMARY KEY,
    started      timestamptz NOT NULL,
    finished     timestamptz NOT NULL,
    since        timestamp without time zone,
    instrument   text,
    observations bigint NOT NULL,
    rows         bigint NOT NULL
);
