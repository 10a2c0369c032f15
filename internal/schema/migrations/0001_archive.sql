-- The file-describing tables (rebuilt from storage by re-ingesting every file), the work
-- queues and the calibration cache. Domain brief §2, §3 and §5.

CREATE TABLE file (
    id   serial PRIMARY KEY,
    name text NOT NULL UNIQUE -- without a trailing .bz2
);

CREATE TABLE diskfile (
    id          serial PRIMARY KEY,
    file_id     integer NOT NULL REFERENCES file (id),
    filename    text NOT NULL,
    path        text NOT NULL, -- relative to the storage root, '' at the top
    present     boolean NOT NULL,
    canonical   boolean NOT NULL,
    file_size   bigint NOT NULL,
    file_md5    text NOT NULL,
    data_size   bigint NOT NULL,
    data_md5    text NOT NULL,
    compressed  boolean NOT NULL,
    lastmod     timestamptz NOT NULL,
    entrytime   timestamptz NOT NULL DEFAULT now(),
    isfits      boolean NOT NULL DEFAULT false,
    fvwarnings  integer,
    fverrors    integer,
    mdready     boolean
);
-- The invariant downloads rest on: per file at most one version that is present and canonical.
CREATE UNIQUE INDEX diskfile_present_canonical_uq ON diskfile (file_id) WHERE present AND canonical;
CREATE INDEX diskfile_file_path_present_ix ON diskfile (file_id, path) WHERE present;
CREATE INDEX diskfile_present_lastmod_ix ON diskfile (lastmod) WHERE present;
CREATE INDEX diskfile_filename_ix ON diskfile (filename);

CREATE TABLE header (
    id                  serial PRIMARY KEY,
    diskfile_id         integer NOT NULL UNIQUE REFERENCES diskfile (id),
    program_id          text,
    observation_id      text,
    data_label          text,
    telescope           text,
    instrument          text,
    ut_datetime         timestamp,
    observation_type    text,
    observation_class   text,
    object              text,
    ra                  double precision,
    dec                 double precision,
    exposure_time       double precision,
    filter_name         text,
    disperser           text,
    central_wavelength  double precision,
    focal_plane_mask    text,
    detector_binning    text,
    qa_state            text,
    release             date,
    spectroscopy        boolean,
    num_extensions      integer
);
CREATE INDEX header_cal_ix ON header (instrument, observation_type, ut_datetime);
CREATE INDEX header_data_label_ix ON header (data_label);

CREATE TABLE preview (
    id          serial PRIMARY KEY,
    diskfile_id integer NOT NULL REFERENCES diskfile (id),
    filename    text NOT NULL
);
CREATE INDEX preview_diskfile_ix ON preview (diskfile_id);

-- Work queues. The columns from inprogress on are common to every queue (package queue):
--   fail_dt IS NULL      not failed; otherwise when it failed (no far-future sentinel)
--   claim_token, owner   the claim and the process that holds it; holder is for humans
--   lease_until          judged by the database's clock; renewed by the holder's heartbeat
--   attempts             how many holders died on this item (rescues and crash releases)
CREATE TABLE ingestqueue (
    id          bigserial PRIMARY KEY,
    filename    text NOT NULL,
    path        text NOT NULL,
    filekey     text NOT NULL, -- filename without .bz2: one in-progress row per file
    force       boolean NOT NULL DEFAULT false,
    force_md5   boolean NOT NULL DEFAULT false,
    no_defer    boolean NOT NULL DEFAULT false,
    sortkey     text NOT NULL,
    added       timestamptz NOT NULL DEFAULT now(),
    after       timestamptz,
    inprogress  boolean NOT NULL DEFAULT false,
    fail_dt     timestamptz,
    error       text,
    claim_token uuid,
    owner       uuid,
    holder      text,
    lease_until timestamptz,
    claimed_at  timestamptz,
    attempts    integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX ingestqueue_pending_uq ON ingestqueue (filename, path)
    WHERE NOT inprogress AND fail_dt IS NULL;
CREATE UNIQUE INDEX ingestqueue_running_uq ON ingestqueue (filekey) WHERE inprogress;
CREATE INDEX ingestqueue_pop_ix ON ingestqueue (sortkey DESC, id)
    WHERE NOT inprogress AND fail_dt IS NULL;
CREATE INDEX ingestqueue_lease_ix ON ingestqueue (lease_until) WHERE inprogress;
CREATE INDEX ingestqueue_owner_ix ON ingestqueue (owner) WHERE inprogress;
CREATE INDEX ingestqueue_failed_ix ON ingestqueue (filename, path) WHERE fail_dt IS NOT NULL;

CREATE TABLE calcachequeue (
    id          bigserial PRIMARY KEY,
    obs_hid     integer NOT NULL REFERENCES header (id) ON DELETE CASCADE,
    filename    text,
    sortkey     text NOT NULL,
    added       timestamptz NOT NULL DEFAULT now(),
    after       timestamptz,
    inprogress  boolean NOT NULL DEFAULT false,
    fail_dt     timestamptz,
    error       text,
    claim_token uuid,
    owner       uuid,
    holder      text,
    lease_until timestamptz,
    claimed_at  timestamptz,
    attempts    integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX calcachequeue_pending_uq ON calcachequeue (obs_hid)
    WHERE NOT inprogress AND fail_dt IS NULL;
CREATE UNIQUE INDEX calcachequeue_running_uq ON calcachequeue (obs_hid) WHERE inprogress;
CREATE INDEX calcachequeue_pop_ix ON calcachequeue (sortkey DESC, id)
    WHERE NOT inprogress AND fail_dt IS NULL;
CREATE INDEX calcachequeue_lease_ix ON calcachequeue (lease_until) WHERE inprogress;
CREATE INDEX calcachequeue_owner_ix ON calcachequeue (owner) WHERE inprogress;

CREATE TABLE calcache (
    id      bigserial PRIMARY KEY,
    obs_hid integer NOT NULL REFERENCES header (id) ON DELETE CASCADE,
    cal_hid integer NOT NULL REFERENCES header (id) ON DELETE CASCADE,
    caltype text NOT NULL,
    rank    integer NOT NULL
);
CREATE INDEX calcache_obs_ix ON calcache (obs_hid, caltype, rank);
CREATE INDEX calcache_cal_ix ON calcache (cal_hid);
