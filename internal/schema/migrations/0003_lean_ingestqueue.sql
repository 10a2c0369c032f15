-- A pending ingest queue row costs one index entry instead of three and carries less, so
-- that filling the queue for a rebuild (millions of rows) goes at close to the speed of a
-- plain COPY.
--
-- * The row id and its primary key go: a claimed row is named by its claim token (unique
--   among in-progress rows), the claim itself updates the rows it locked by ctid.
-- * One unique index on (sortkey, path, filename) both keeps one pending row per
--   (filename, path) and gives the claim order (read backwards: newest first). The sortkey
--   is a function of the file name (package filenames), so it adds nothing to the key's
--   uniqueness; a release that changes the sortkey rules must recompute the pending rows'.
--   Ascending, because enqueue walks names in order: new keys then land at the index's
--   right edge instead of all over it.
DROP INDEX ingestqueue_pending_uq;
DROP INDEX ingestqueue_pop_ix;
ALTER TABLE ingestqueue DROP CONSTRAINT ingestqueue_pkey;
ALTER TABLE ingestqueue DROP COLUMN id;
CREATE UNIQUE INDEX ingestqueue_pending_uq ON ingestqueue (sortkey, path, filename)
    WHERE NOT inprogress AND fail_dt IS NULL;
CREATE UNIQUE INDEX ingestqueue_token_uq ON ingestqueue (claim_token) WHERE inprogress;
-- The file a name belongs to (the name without .bz2) is computed where it is needed, for
-- in-progress rows only, instead of stored in every pending row.
ALTER TABLE ingestqueue DROP COLUMN filekey;
CREATE FUNCTION agentd_filekey(name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN name LIKE '%.bz2' THEN left(name, -4) ELSE name END;
CREATE UNIQUE INDEX ingestqueue_running_uq ON ingestqueue (agentd_filekey(filename)) WHERE inprogress;

-- The calcache queue follows the same rules (the queue code no longer uses ids): its id
-- stays for humans, the claim order breaks ties by obs_hid, and tokens are indexed.
DROP INDEX calcachequeue_pop_ix;
CREATE INDEX calcachequeue_pop_ix ON calcachequeue (sortkey, obs_hid)
    WHERE NOT inprogress AND fail_dt IS NULL;
CREATE UNIQUE INDEX calcachequeue_token_uq ON calcachequeue (claim_token) WHERE inprogress;

-- A failed row keeps the token of its last claim, which names it for agentctl queue retry.
UPDATE ingestqueue SET claim_token = gen_random_uuid() WHERE fail_dt IS NOT NULL AND claim_token IS NULL;
UPDATE calcachequeue SET claim_token = gen_random_uuid() WHERE fail_dt IS NOT NULL AND claim_token IS NULL;
