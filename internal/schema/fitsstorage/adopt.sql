-- What agentd adds to a database FitsStorage's own software created, so that agentd can
-- serve it (agentctl db adopt): its own functions, columns, defaults and indexes. Nothing of
-- FitsStorage's is changed or dropped. The result has the shape of schema 4 (migration
-- 0004_fitsstorage.sql) for the tables agentd writes.

CREATE FUNCTION agentd_filekey(name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN name LIKE '%.bz2' THEN left(name, -4) ELSE name END;
CREATE FUNCTION agentd_not_failed() RETURNS timestamp without time zone
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '9999-12-31 23:59:59.999999'::timestamp;
CREATE FUNCTION agentd_enum_or_null(v text, labels text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN v = ANY (labels) THEN v END;

-- The queues: claims, leases and attempts; FitsStorage's conventions as column defaults for
-- rows inserted without them.
ALTER TABLE ingestqueue
    ADD COLUMN claim_token uuid,
    ADD COLUMN owner uuid,
    ADD COLUMN holder text,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN claimed_at timestamptz,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ALTER COLUMN inprogress SET DEFAULT false,
    ALTER COLUMN fail_dt SET DEFAULT agentd_not_failed(),
    ALTER COLUMN added SET DEFAULT (now() AT TIME ZONE 'UTC'),
    ALTER COLUMN force SET DEFAULT false,
    ALTER COLUMN force_md5 SET DEFAULT false,
    ALTER COLUMN no_defer SET DEFAULT false;
CREATE INDEX ingestqueue_pop_ix ON ingestqueue (sortkey, path, filename)
    WHERE NOT inprogress AND fail_dt = agentd_not_failed();
CREATE UNIQUE INDEX ingestqueue_running_uq ON ingestqueue (agentd_filekey(filename)) WHERE inprogress;
CREATE UNIQUE INDEX ingestqueue_token_uq ON ingestqueue (claim_token) WHERE inprogress;
CREATE INDEX ingestqueue_lease_ix ON ingestqueue (lease_until) WHERE inprogress;
CREATE INDEX ingestqueue_owner_ix ON ingestqueue (owner) WHERE inprogress;
CREATE INDEX ingestqueue_failed_ix ON ingestqueue (filename, path) WHERE fail_dt <> agentd_not_failed();

ALTER TABLE calcachequeue
    ADD COLUMN after timestamp without time zone,
    ADD COLUMN claim_token uuid,
    ADD COLUMN owner uuid,
    ADD COLUMN holder text,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN claimed_at timestamptz,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ALTER COLUMN inprogress SET DEFAULT false,
    ALTER COLUMN fail_dt SET DEFAULT agentd_not_failed(),
    ALTER COLUMN added SET DEFAULT (now() AT TIME ZONE 'UTC');
CREATE INDEX calcachequeue_pop_ix ON calcachequeue (sortkey, obs_hid)
    WHERE NOT inprogress AND fail_dt = agentd_not_failed();
CREATE UNIQUE INDEX calcachequeue_running_uq ON calcachequeue (obs_hid) WHERE inprogress;
CREATE UNIQUE INDEX calcachequeue_token_uq ON calcachequeue (claim_token) WHERE inprogress;
CREATE INDEX calcachequeue_lease_ix ON calcachequeue (lease_until) WHERE inprogress;
CREATE INDEX calcachequeue_owner_ix ON calcachequeue (owner) WHERE inprogress;

-- The file tables: agentd's column and the indexes its ingest and rollcall read.
ALTER TABLE header ADD COLUMN num_extensions integer;
ALTER TABLE diskfile ALTER COLUMN entrytime SET DEFAULT now(), ALTER COLUMN isfits SET DEFAULT false;
CREATE UNIQUE INDEX diskfile_present_canonical_uq ON diskfile (file_id) WHERE present AND canonical;
CREATE INDEX diskfile_file_path_present_ix ON diskfile (file_id, path) WHERE present;
CREATE INDEX diskfile_present_lastmod_ix ON diskfile (lastmod) WHERE present;
