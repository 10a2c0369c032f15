-- FitsStorage's preview queue (its queues/orm/previewqueueentry.py): one row per diskfile
-- (its unique diskfile_id), FitsStorage's conventions ("not failed" is fail_dt =
-- agentd_not_failed(), naive UTC), and agentd's own columns for claims and leases. A
-- database FitsStorage made may have the table already (it is adopted, then migrated): its
-- columns stay as they are and agentd's are added.
CREATE TABLE IF NOT EXISTS previewqueue (
    id           serial PRIMARY KEY,
    diskfile_id  integer NOT NULL,
    filename     text,
    inprogress   boolean,
    fail_dt      timestamp without time zone,
    force        boolean,
    scavengeonly boolean,
    sortkey      text,
    error        text,
    CONSTRAINT previewqueue_diskfile_id_key UNIQUE (diskfile_id),
    CONSTRAINT previewqueue_diskfile_id_inprogress_fail_dt_key UNIQUE (diskfile_id, inprogress, fail_dt),
    CONSTRAINT previewqueue_diskfile_id_fkey FOREIGN KEY (diskfile_id) REFERENCES diskfile (id)
);
UPDATE previewqueue SET fail_dt = agentd_not_failed() WHERE fail_dt IS NULL;
UPDATE previewqueue SET inprogress = false WHERE inprogress IS NULL;
ALTER TABLE previewqueue
    ALTER COLUMN inprogress SET DEFAULT false,
    ALTER COLUMN fail_dt SET DEFAULT agentd_not_failed(),
    ALTER COLUMN force SET DEFAULT false,
    ALTER COLUMN scavengeonly SET DEFAULT false,
    ADD COLUMN IF NOT EXISTS added timestamp without time zone DEFAULT (now() AT TIME ZONE 'UTC'),
    ADD COLUMN IF NOT EXISTS after timestamp without time zone,
    ADD COLUMN IF NOT EXISTS claim_token uuid,
    ADD COLUMN IF NOT EXISTS owner uuid,
    ADD COLUMN IF NOT EXISTS holder text,
    ADD COLUMN IF NOT EXISTS lease_until timestamptz,
    ADD COLUMN IF NOT EXISTS claimed_at timestamptz,
    ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;
CREATE INDEX previewqueue_pop_ix ON previewqueue (sortkey, diskfile_id)
    WHERE NOT inprogress AND fail_dt = agentd_not_failed();
CREATE UNIQUE INDEX previewqueue_running_uq ON previewqueue (diskfile_id) WHERE inprogress;
CREATE UNIQUE INDEX previewqueue_token_uq ON previewqueue (claim_token) WHERE inprogress;
CREATE INDEX previewqueue_lease_ix ON previewqueue (lease_until) WHERE inprogress;
CREATE INDEX previewqueue_owner_ix ON previewqueue (owner) WHERE inprogress;
