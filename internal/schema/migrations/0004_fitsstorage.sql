-- FitsStorage's own software (its web search, queue pages, calibration lookups, its upload
-- path) reads and writes the tables agentd fills: they take FitsStorage's shapes, as a
-- superset. Every FitsStorage table, column, type, enum value, nullability and constraint
-- is here, as its SQLAlchemy models create them (internal/schema/fitsstorage/fscore.sql, the
-- test that compares); agentd's own columns (claims, leases, attempts) and indexes are kept
-- beside them. FitsStorage's secondary indexes (ix_header_*, ix_diskfile_*, …) are not
-- created: a rebuild writes faster without them; see the README.
--
-- Queue conventions, as FitsStorage has them: "not failed" is fail_dt = datetime.max
-- ('9999-12-31 23:59:59.999999'), not NULL, so that its unique constraint (filename, path,
-- inprogress, fail_dt) catches duplicate pending rows; queue timestamps are naive UTC;
-- ingestqueue.id is a serial primary key again.
--
-- A database of ours made before this version keeps its rows; values that FitsStorage's
-- types cannot hold (a raw RAWGEMQA in qa_state, central_wavelength in nm) become NULL:
-- re-ingest to derive them again (agentctl enqueue ingest --force).

-- FitsStorage's enum types, with its values in its order.
CREATE TYPE caltype AS ENUM (
    'bias',
    'processed_bias',
    'dark',
    'processed_dark',
    'processed_bpm',
    'flat',
    'processed_flat',
    'arc',
    'processed_arc',
    'pinhole',
    'processed_pinhole',
    'processed_fringe',
    'ronchi_mask',
    'lampoff_flat',
    'qh_flat',
    'domeflat',
    'lampoff_domeflat',
    'mask',
    'slitillum',
    'processed_slitillum',
    'standard',
    'processed_standard',
    'telluric',
    'processed_telluric',
    'polarization_standard',
    'astrometric_standard',
    'polarization_flat',
    'specphot',
    'photometric_standard',
    'processed_slitflat',
    'processed_slit'
);

CREATE TYPE detector_gain_setting AS ENUM (
    'None',
    'high',
    'low',
    'standard'
);

CREATE TYPE detector_readspeed_setting AS ENUM (
    'None',
    'fast',
    'medium',
    'slow',
    'standard',
    'red:fast,blue:fast',
    'red:fast,blue:medium',
    'red:fast,blue:slow',
    'red:medium,blue:fast',
    'red:medium,blue:medium',
    'red:medium,blue:slow',
    'red:slow,blue:fast',
    'red:slow,blue:medium',
    'red:slow,blue:slow'
);

CREATE TYPE detector_welldepth_setting AS ENUM (
    'None',
    'Shallow',
    'Deep',
    'Invalid'
);

CREATE TYPE ghost_arm AS ENUM (
    'blue',
    'red',
    'slitv'
);

CREATE TYPE ghost_focal_plane_masks AS ENUM (
    'SR',
    'HR'
);

CREATE TYPE ghost_gain_setting AS ENUM (
    'low',
    'high',
    'standard'
);

CREATE TYPE ghost_read_speed_setting AS ENUM (
    'slow',
    'medium',
    'fast',
    'standard'
);

CREATE TYPE gmos_gain_setting AS ENUM (
    'low',
    'high'
);

CREATE TYPE gmos_read_speed_setting AS ENUM (
    'slow',
    'fast'
);

CREATE TYPE gnirs_read_mode AS ENUM (
    'Very Faint Objects',
    'Faint Objects',
    'Bright Objects',
    'Very Bright Objects',
    'Invalid'
);

CREATE TYPE gnirs_well_depth_setting AS ENUM (
    'Shallow',
    'Deep',
    'Invalid'
);

CREATE TYPE michelle_disperser AS ENUM (
    'Echelle',
    'LowN',
    'LowQ',
    'MedN1',
    'MedN2',
    'No Value',
    'unknown'
);

CREATE TYPE michelle_filter AS ENUM (
    'blank',
    'BothBlanks',
    'Clear',
    'Clear_A',
    'F112B21',
    'F116B9',
    'F125B9',
    'F209B42L',
    'F66LB',
    'F86B2',
    'I103B10',
    'I105B53',
    'I107B4',
    'I112B21',
    'I116B9',
    'I125B9',
    'I128B2',
    'I185B9',
    'I198B27',
    'I209B42',
    'I79B10',
    'I86B2',
    'I88B10',
    'I97B10',
    'IP103B10',
    'IP112B21',
    'IP116B9',
    'IP125B9',
    'IP185B9',
    'IP198B27',
    'IP79B10',
    'IP88B10',
    'IP97B10',
    'No Value',
    'NPBlock',
    'Poly',
    'QBlock'
);

CREATE TYPE michelle_focal_plane_mask AS ENUM (
    '4_pixels',
    'unknown',
    '8_pixels',
    'No Value',
    '1_pixel',
    '2_pixels',
    '3_pixels',
    '6_pixels',
    'pinholeMask',
    '16_pixels',
    'None'
);

CREATE TYPE michelle_read_mode AS ENUM (
    'CHOP',
    'NDCHOP',
    'STARE',
    'chop',
    'stare',
    'nod',
    'chop-nod'
);

CREATE TYPE mode AS ENUM (
    'imaging',
    'spectroscopy',
    'LS',
    'MOS',
    'IFS',
    'IFP'
);

CREATE TYPE nici_disperser AS ENUM (
    'Block',
    'H-50/50_G5701',
    'H-CH4-Dichroic_G5704',
    'H/K-Dichroic_G5705',
    'Mirror_G5702',
    'Open'
);

CREATE TYPE nici_focal_plane_mask AS ENUM (
    'Clear_G5710',
    'F0.22_G5715',
    'F0.32_G5714',
    'F0.46_G5713',
    'F0.65_G5712',
    'F0.90_G5711',
    'Grid_G5716'
);

CREATE TYPE nifs_read_mode AS ENUM (
    'Faint Object',
    'Medium Object',
    'Bright Object',
    'Invalid'
);

CREATE TYPE niri_camera AS ENUM (
    'datum',
    'f13.9',
    'f14',
    'f32',
    'f6',
    'INVALID',
    'No Value',
    'UNKNOWN'
);

CREATE TYPE niri_data_section AS ENUM (
    'Section(x1=0, x2=1024, y1=0, y2=1024)',
    'Section(x1=0, x2=256, y1=0, y2=256)',
    'Section(x1=0, x2=512, y1=0, y2=512)',
    'Section(x1=0, x2=768, y1=0, y2=768)',
    'Section(x1=256, x2=769, y1=0, y2=1024)',
    'Section(x1=256, x2=769, y1=256, y2=768)',
    'Section(x1=64, x2=192, y1=64, y2=192)',
    'None'
);

CREATE TYPE niri_disperser AS ENUM (
    'Hgrismf32_G5228',
    'Hgrism_G5203',
    'Jgrismf32_G5226',
    'Jgrism_G5202',
    'Kgrismf32_G5227',
    'Kgrism_G5204',
    'Lgrism_G5205',
    'Mgrism_G5206',
    'MIRROR'
);

CREATE TYPE niri_read_mode AS ENUM (
    'High Background',
    'Medium Background',
    'Low Background',
    'Invalid'
);

CREATE TYPE niri_well_depth_setting AS ENUM (
    'Shallow',
    'Deep',
    'Invalid'
);

CREATE TYPE obsclass AS ENUM (
    'dayCal',
    'partnerCal',
    'acqCal',
    'acq',
    'science',
    'progCal',
    'nightCal'
);

CREATE TYPE obstype AS ENUM (
    'DARK',
    'ARC',
    'FLAT',
    'BIAS',
    'OBJECT',
    'PINHOLE',
    'RONCHI',
    'CAL',
    'FRINGE',
    'MASK',
    'STANDARD',
    'SLITILLUM',
    'BPM'
);

CREATE TYPE procmode AS ENUM (
    'Failed',
    'Raw',
    'Quick-Look',
    'Science-Quality',
    'Quality-Assessment'
);

CREATE TYPE qa_state AS ENUM (
    'Fail',
    'CHECK',
    'Undefined',
    'Usable',
    'Pass'
);

CREATE TYPE reduction_state AS ENUM (
    'RAW',
    'PREPARED',
    'PROCESSED_FLAT',
    'PROCESSED_BIAS',
    'PROCESSED_FRINGE',
    'PROCESSED_ARC',
    'PROCESSED_DARK',
    'PROCESSED_TELLURIC',
    'PROCESSED_SCIENCE',
    'PROCESSED_BPM',
    'PROCESSED_STANDARD',
    'PROCESSED_SLITILLUM',
    'PROCESSED_PINHOLE',
    'PROCESSED_UNKNOWN'
);

CREATE TYPE telescope AS ENUM (
    'Gemini-North',
    'Gemini-South'
);

-- An enum value from text, NULL when the text is no value of the enum.
CREATE FUNCTION agentd_enum_or_null(v text, labels text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN v = ANY (labels) THEN v END;

-- file: FitsStorage's unique index on the name instead of our constraint.
ALTER TABLE file DROP CONSTRAINT file_name_key;
CREATE UNIQUE INDEX ix_file_name ON file (name);

-- diskfile: the same columns, nullable as FitsStorage has them.
ALTER TABLE diskfile
    ALTER COLUMN filename DROP NOT NULL,
    ALTER COLUMN path DROP NOT NULL,
    ALTER COLUMN present DROP NOT NULL,
    ALTER COLUMN canonical DROP NOT NULL,
    ALTER COLUMN file_size DROP NOT NULL,
    ALTER COLUMN file_md5 DROP NOT NULL,
    ALTER COLUMN data_size DROP NOT NULL,
    ALTER COLUMN data_md5 DROP NOT NULL,
    ALTER COLUMN compressed DROP NOT NULL,
    ALTER COLUMN lastmod DROP NOT NULL,
    ALTER COLUMN entrytime DROP NOT NULL,
    ALTER COLUMN isfits DROP NOT NULL;

-- header: FitsStorage's 62 columns, its types and enums; num_extensions is ours.
ALTER TABLE header DROP CONSTRAINT header_diskfile_id_key;
CREATE UNIQUE INDEX header_diskfile_uq ON header (diskfile_id);
ALTER TABLE header
    ALTER COLUMN telescope TYPE telescope
        USING agentd_enum_or_null(telescope, enum_range(NULL::telescope)::text[])::telescope,
    ALTER COLUMN observation_type TYPE obstype
        USING agentd_enum_or_null(observation_type, enum_range(NULL::obstype)::text[])::obstype,
    ALTER COLUMN observation_class TYPE obsclass
        USING agentd_enum_or_null(observation_class, enum_range(NULL::obsclass)::text[])::obsclass,
    ALTER COLUMN qa_state TYPE qa_state
        USING agentd_enum_or_null(qa_state, enum_range(NULL::qa_state)::text[])::qa_state,
    ALTER COLUMN ra TYPE numeric(16,12) USING CASE WHEN abs(ra) < 10000 THEN ra END,
    ALTER COLUMN "dec" TYPE numeric(16,12) USING CASE WHEN abs("dec") < 10000 THEN "dec" END,
    ALTER COLUMN exposure_time TYPE numeric(12,6) USING CASE WHEN abs(exposure_time) < 1000000 THEN exposure_time END,
    ALTER COLUMN central_wavelength TYPE numeric(8,6) USING NULL,
    ALTER COLUMN spectroscopy DROP NOT NULL,
    ALTER COLUMN num_extensions DROP NOT NULL,
    ADD COLUMN engineering boolean,
    ADD COLUMN science_verification boolean,
    ADD COLUMN calibration_program boolean,
    ADD COLUMN processing procmode,
    ADD COLUMN processing_tag text,
    ADD COLUMN ut_datetime_secs bigint,
    ADD COLUMN local_time time without time zone,
    ADD COLUMN azimuth numeric(16,12),
    ADD COLUMN elevation numeric(16,12),
    ADD COLUMN cass_rotator_pa numeric(16,12),
    ADD COLUMN airmass numeric(8,6),
    ADD COLUMN camera text,
    ADD COLUMN wavelength_band text,
    ADD COLUMN pupil_mask text,
    ADD COLUMN detector_roi_setting text,
    ADD COLUMN detector_gain_setting detector_gain_setting,
    ADD COLUMN detector_readspeed_setting detector_readspeed_setting,
    ADD COLUMN detector_welldepth_setting detector_welldepth_setting,
    ADD COLUMN detector_readmode_setting text,
    ADD COLUMN coadds integer,
    ADD COLUMN mode mode,
    ADD COLUMN adaptive_optics boolean,
    ADD COLUMN laser_guide_star boolean,
    ADD COLUMN wavefront_sensor text,
    ADD COLUMN gcal_lamp text,
    ADD COLUMN raw_iq integer,
    ADD COLUMN raw_cc integer,
    ADD COLUMN raw_wv integer,
    ADD COLUMN raw_bg integer,
    ADD COLUMN requested_iq integer,
    ADD COLUMN requested_cc integer,
    ADD COLUMN requested_wv integer,
    ADD COLUMN requested_bg integer,
    ADD COLUMN reduction reduction_state,
    ADD COLUMN site_monitoring boolean,
    ADD COLUMN types text,
    ADD COLUMN phot_standard boolean,
    ADD COLUMN proprietary_coordinates boolean,
    ADD COLUMN pre_image boolean,
    ADD COLUMN numpix integer;
-- FitsStorage counts ut_datetime_secs from 2000-01-01, truncated.
UPDATE header SET ut_datetime_secs = trunc(extract(epoch FROM ut_datetime - timestamp '2000-01-01'))::bigint
    WHERE ut_datetime IS NOT NULL;

-- preview: filename nullable.
ALTER TABLE preview ALTER COLUMN filename DROP NOT NULL;

-- The queues: FitsStorage's columns and conventions.
CREATE FUNCTION agentd_not_failed() RETURNS timestamp without time zone
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '9999-12-31 23:59:59.999999'::timestamp;

DROP INDEX ingestqueue_pending_uq;
DROP INDEX ingestqueue_failed_ix;
ALTER TABLE ingestqueue
    ADD COLUMN id serial PRIMARY KEY,
    ADD COLUMN batch text,
    ADD COLUMN md5_before_header_update text,
    ADD COLUMN md5_after_header_update text,
    ADD COLUMN header_update text,
    ALTER COLUMN inprogress DROP NOT NULL,
    ALTER COLUMN force DROP NOT NULL,
    ALTER COLUMN force_md5 DROP NOT NULL,
    ALTER COLUMN no_defer DROP NOT NULL,
    ALTER COLUMN sortkey DROP NOT NULL,
    ALTER COLUMN added DROP NOT NULL,
    ALTER COLUMN added TYPE timestamp without time zone USING added AT TIME ZONE 'UTC',
    ALTER COLUMN added SET DEFAULT (now() AT TIME ZONE 'UTC'),
    ALTER COLUMN after TYPE timestamp without time zone USING after AT TIME ZONE 'UTC',
    ALTER COLUMN fail_dt TYPE timestamp without time zone
        USING coalesce(fail_dt AT TIME ZONE 'UTC', agentd_not_failed()),
    ALTER COLUMN fail_dt SET DEFAULT agentd_not_failed(),
    ADD CONSTRAINT ingestqueue_filename_path_inprogress_fail_dt_key UNIQUE (filename, path, inprogress, fail_dt);
-- The claim reads this index backwards (newest first); pending uniqueness is FitsStorage's
-- constraint above.
CREATE INDEX ingestqueue_pop_ix ON ingestqueue (sortkey, path, filename)
    WHERE NOT inprogress AND fail_dt = agentd_not_failed();
CREATE INDEX ingestqueue_failed_ix ON ingestqueue (filename, path) WHERE fail_dt <> agentd_not_failed();

DROP INDEX calcachequeue_pending_uq;
DROP INDEX calcachequeue_pop_ix;
ALTER TABLE calcachequeue DROP CONSTRAINT calcachequeue_obs_hid_fkey;
ALTER SEQUENCE calcachequeue_id_seq AS integer;
ALTER TABLE calcachequeue
    ALTER COLUMN id TYPE integer,
    ALTER COLUMN inprogress DROP NOT NULL,
    ALTER COLUMN sortkey DROP NOT NULL,
    ALTER COLUMN added DROP NOT NULL,
    ALTER COLUMN added TYPE timestamp without time zone USING added AT TIME ZONE 'UTC',
    ALTER COLUMN added SET DEFAULT (now() AT TIME ZONE 'UTC'),
    ALTER COLUMN after TYPE timestamp without time zone USING after AT TIME ZONE 'UTC',
    ALTER COLUMN fail_dt TYPE timestamp without time zone
        USING coalesce(fail_dt AT TIME ZONE 'UTC', agentd_not_failed()),
    ALTER COLUMN fail_dt SET DEFAULT agentd_not_failed(),
    ADD CONSTRAINT calcachequeue_obs_hid_fkey FOREIGN KEY (obs_hid) REFERENCES header (id),
    ADD CONSTRAINT calcachequeue_obs_hid_inprogress_fail_dt_key UNIQUE (obs_hid, inprogress, fail_dt);
CREATE INDEX calcachequeue_pop_ix ON calcachequeue (sortkey, obs_hid)
    WHERE NOT inprogress AND fail_dt = agentd_not_failed();

-- calcache: rank smallint, caltype FitsStorage's enum (nullable), foreign keys without
-- cascades.
ALTER TABLE calcache DROP CONSTRAINT calcache_obs_hid_fkey, DROP CONSTRAINT calcache_cal_hid_fkey;
ALTER TABLE calcache
    ALTER COLUMN rank TYPE smallint,
    ALTER COLUMN caltype DROP NOT NULL,
    ALTER COLUMN caltype TYPE caltype USING agentd_enum_or_null(caltype, enum_range(NULL::caltype)::text[])::caltype,
    ADD CONSTRAINT calcache_obs_hid_fkey FOREIGN KEY (obs_hid) REFERENCES header (id),
    ADD CONSTRAINT calcache_cal_hid_fkey FOREIGN KEY (cal_hid) REFERENCES header (id);

-- The per-instrument tables, as FitsStorage's models create them.
CREATE TABLE f2 (
    id integer NOT NULL,
    header_id integer NOT NULL,
    disperser text,
    filter_name text,
    lyot_stop text,
    read_mode text,
    focal_plane_mask text
);

CREATE TABLE ghost (
    id integer NOT NULL,
    header_id integer NOT NULL,
    arm ghost_arm NOT NULL,
    want_before_arc boolean,
    detector_name text,
    detector_x_bin integer,
    detector_y_bin integer,
    exposure_time numeric(8,4),
    gain_setting ghost_gain_setting,
    read_speed_setting ghost_read_speed_setting,
    focal_plane_mask ghost_focal_plane_masks,
    prepared boolean,
    overscan_subtracted boolean,
    overscan_trimmed boolean
);

CREATE TABLE gmos (
    id integer NOT NULL,
    header_id integer NOT NULL,
    disperser text,
    filter_name text,
    detector_x_bin integer,
    detector_y_bin integer,
    array_name text,
    amp_read_area text,
    read_speed_setting gmos_read_speed_setting,
    gain_setting gmos_gain_setting,
    focal_plane_mask text,
    nodandshuffle boolean,
    nod_count integer,
    nod_pixels integer,
    prepared boolean,
    overscan_subtracted boolean,
    overscan_trimmed boolean,
    grating_order integer
);

CREATE TABLE gnirs (
    id integer NOT NULL,
    header_id integer NOT NULL,
    disperser text,
    filter_name text,
    read_mode gnirs_read_mode,
    well_depth_setting gnirs_well_depth_setting,
    camera text,
    focal_plane_mask text,
    array_name text,
    prism_motor_steps integer
);

CREATE TABLE gpi (
    id integer NOT NULL,
    header_id integer NOT NULL,
    filter_name text,
    disperser text,
    focal_plane_mask text,
    pupil_mask text,
    astrometric_standard boolean,
    wollaston boolean,
    prism boolean
);

CREATE TABLE gsaoi (
    id integer NOT NULL,
    header_id integer NOT NULL,
    filter_name text,
    read_mode text
);

CREATE TABLE michelle (
    id integer NOT NULL,
    header_id integer NOT NULL,
    disperser michelle_disperser,
    filter_name michelle_filter,
    read_mode michelle_read_mode,
    focal_plane_mask michelle_focal_plane_mask
);

CREATE TABLE nici (
    id integer NOT NULL,
    header_id integer NOT NULL,
    filter_name text,
    focal_plane_mask nici_focal_plane_mask,
    disperser nici_disperser
);

CREATE TABLE nifs (
    id integer NOT NULL,
    header_id integer NOT NULL,
    disperser text,
    filter_name text,
    read_mode nifs_read_mode,
    focal_plane_mask text
);

CREATE TABLE niri (
    id integer NOT NULL,
    header_id integer NOT NULL,
    disperser niri_disperser,
    filter_name text,
    read_mode niri_read_mode,
    well_depth_setting niri_well_depth_setting,
    data_section niri_data_section,
    camera niri_camera,
    focal_plane_mask text
);

CREATE SEQUENCE f2_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE ghost_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE gmos_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE gnirs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE gpi_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE gsaoi_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE michelle_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE nici_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE nifs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE SEQUENCE niri_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE f2_id_seq OWNED BY f2.id;
ALTER SEQUENCE ghost_id_seq OWNED BY ghost.id;
ALTER SEQUENCE gmos_id_seq OWNED BY gmos.id;
ALTER SEQUENCE gnirs_id_seq OWNED BY gnirs.id;
ALTER SEQUENCE gpi_id_seq OWNED BY gpi.id;
ALTER SEQUENCE gsaoi_id_seq OWNED BY gsaoi.id;
ALTER SEQUENCE michelle_id_seq OWNED BY michelle.id;
ALTER SEQUENCE nici_id_seq OWNED BY nici.id;
ALTER SEQUENCE nifs_id_seq OWNED BY nifs.id;
ALTER SEQUENCE niri_id_seq OWNED BY niri.id;
ALTER TABLE ONLY f2 ALTER COLUMN id SET DEFAULT nextval('f2_id_seq'::regclass);
ALTER TABLE ONLY ghost ALTER COLUMN id SET DEFAULT nextval('ghost_id_seq'::regclass);
ALTER TABLE ONLY gmos ALTER COLUMN id SET DEFAULT nextval('gmos_id_seq'::regclass);
ALTER TABLE ONLY gnirs ALTER COLUMN id SET DEFAULT nextval('gnirs_id_seq'::regclass);
ALTER TABLE ONLY gpi ALTER COLUMN id SET DEFAULT nextval('gpi_id_seq'::regclass);
ALTER TABLE ONLY gsaoi ALTER COLUMN id SET DEFAULT nextval('gsaoi_id_seq'::regclass);
ALTER TABLE ONLY michelle ALTER COLUMN id SET DEFAULT nextval('michelle_id_seq'::regclass);
ALTER TABLE ONLY nici ALTER COLUMN id SET DEFAULT nextval('nici_id_seq'::regclass);
ALTER TABLE ONLY nifs ALTER COLUMN id SET DEFAULT nextval('nifs_id_seq'::regclass);
ALTER TABLE ONLY niri ALTER COLUMN id SET DEFAULT nextval('niri_id_seq'::regclass);
ALTER TABLE ONLY f2
    ADD CONSTRAINT f2_pkey PRIMARY KEY (id);
ALTER TABLE ONLY ghost
    ADD CONSTRAINT ghost_pkey PRIMARY KEY (id);
ALTER TABLE ONLY gmos
    ADD CONSTRAINT gmos_pkey PRIMARY KEY (id);
ALTER TABLE ONLY gnirs
    ADD CONSTRAINT gnirs_pkey PRIMARY KEY (id);
ALTER TABLE ONLY gpi
    ADD CONSTRAINT gpi_pkey PRIMARY KEY (id);
ALTER TABLE ONLY gsaoi
    ADD CONSTRAINT gsaoi_pkey PRIMARY KEY (id);
ALTER TABLE ONLY michelle
    ADD CONSTRAINT michelle_pkey PRIMARY KEY (id);
ALTER TABLE ONLY nici
    ADD CONSTRAINT nici_pkey PRIMARY KEY (id);
ALTER TABLE ONLY nifs
    ADD CONSTRAINT nifs_pkey PRIMARY KEY (id);
ALTER TABLE ONLY niri
    ADD CONSTRAINT niri_pkey PRIMARY KEY (id);
ALTER TABLE ONLY f2
    ADD CONSTRAINT f2_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY ghost
    ADD CONSTRAINT ghost_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY gmos
    ADD CONSTRAINT gmos_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY gnirs
    ADD CONSTRAINT gnirs_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY gpi
    ADD CONSTRAINT gpi_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY gsaoi
    ADD CONSTRAINT gsaoi_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY michelle
    ADD CONSTRAINT michelle_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY nici
    ADD CONSTRAINT nici_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY nifs
    ADD CONSTRAINT nifs_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
ALTER TABLE ONLY niri
    ADD CONSTRAINT niri_header_id_fkey FOREIGN KEY (header_id) REFERENCES header(id);
CREATE INDEX ix_f2_disperser ON f2 (disperser);
CREATE INDEX ix_f2_filter_name ON f2 (filter_name);
CREATE INDEX ix_f2_header_id ON f2 (header_id);
CREATE INDEX ix_f2_lyot_stop ON f2 (lyot_stop);
CREATE INDEX ix_f2_read_mode ON f2 (read_mode);
CREATE INDEX ix_ghost_arm ON ghost (arm);
CREATE INDEX ix_ghost_detector_name ON ghost (detector_name);
CREATE INDEX ix_ghost_detector_x_bin ON ghost (detector_x_bin);
CREATE INDEX ix_ghost_detector_y_bin ON ghost (detector_y_bin);
CREATE INDEX ix_ghost_focal_plane_mask ON ghost (focal_plane_mask);
CREATE INDEX ix_ghost_gain_setting ON ghost (gain_setting);
CREATE INDEX ix_ghost_header_id ON ghost (header_id);
CREATE INDEX ix_ghost_overscan_subtracted ON ghost (overscan_subtracted);
CREATE INDEX ix_ghost_overscan_trimmed ON ghost (overscan_trimmed);
CREATE INDEX ix_ghost_prepared ON ghost (prepared);
CREATE INDEX ix_ghost_read_speed_setting ON ghost (read_speed_setting);
CREATE INDEX ix_gmos_amp_read_area ON gmos (amp_read_area);
CREATE INDEX ix_gmos_array_name ON gmos (array_name);
CREATE INDEX ix_gmos_detector_x_bin ON gmos (detector_x_bin);
CREATE INDEX ix_gmos_detector_y_bin ON gmos (detector_y_bin);
CREATE INDEX ix_gmos_disperser ON gmos (disperser);
CREATE INDEX ix_gmos_filter_name ON gmos (filter_name);
CREATE INDEX ix_gmos_focal_plane_mask ON gmos (focal_plane_mask);
CREATE INDEX ix_gmos_gain_setting ON gmos (gain_setting);
CREATE INDEX ix_gmos_header_id ON gmos (header_id);
CREATE INDEX ix_gmos_nod_count ON gmos (nod_count);
CREATE INDEX ix_gmos_nod_pixels ON gmos (nod_pixels);
CREATE INDEX ix_gmos_nodandshuffle ON gmos (nodandshuffle);
CREATE INDEX ix_gmos_overscan_subtracted ON gmos (overscan_subtracted);
CREATE INDEX ix_gmos_overscan_trimmed ON gmos (overscan_trimmed);
CREATE INDEX ix_gmos_prepared ON gmos (prepared);
CREATE INDEX ix_gmos_read_speed_setting ON gmos (read_speed_setting);
CREATE INDEX ix_gnirs_camera ON gnirs (camera);
CREATE INDEX ix_gnirs_disperser ON gnirs (disperser);
CREATE INDEX ix_gnirs_filter_name ON gnirs (filter_name);
CREATE INDEX ix_gnirs_header_id ON gnirs (header_id);
CREATE INDEX ix_gnirs_read_mode ON gnirs (read_mode);
CREATE INDEX ix_gnirs_well_depth_setting ON gnirs (well_depth_setting);
CREATE INDEX ix_gpi_astrometric_standard ON gpi (astrometric_standard);
CREATE INDEX ix_gpi_disperser ON gpi (disperser);
CREATE INDEX ix_gpi_filter_name ON gpi (filter_name);
CREATE INDEX ix_gpi_focal_plane_mask ON gpi (focal_plane_mask);
CREATE INDEX ix_gpi_header_id ON gpi (header_id);
CREATE INDEX ix_gpi_prism ON gpi (prism);
CREATE INDEX ix_gpi_pupil_mask ON gpi (pupil_mask);
CREATE INDEX ix_gpi_wollaston ON gpi (wollaston);
CREATE INDEX ix_gsaoi_filter_name ON gsaoi (filter_name);
CREATE INDEX ix_gsaoi_header_id ON gsaoi (header_id);
CREATE INDEX ix_gsaoi_read_mode ON gsaoi (read_mode);
CREATE INDEX ix_michelle_disperser ON michelle (disperser);
CREATE INDEX ix_michelle_filter_name ON michelle (filter_name);
CREATE INDEX ix_michelle_focal_plane_mask ON michelle (focal_plane_mask);
CREATE INDEX ix_michelle_header_id ON michelle (header_id);
CREATE INDEX ix_michelle_read_mode ON michelle (read_mode);
CREATE INDEX ix_nici_disperser ON nici (disperser);
CREATE INDEX ix_nici_filter_name ON nici (filter_name);
CREATE INDEX ix_nici_focal_plane_mask ON nici (focal_plane_mask);
CREATE INDEX ix_nici_header_id ON nici (header_id);
CREATE INDEX ix_nifs_disperser ON nifs (disperser);
CREATE INDEX ix_nifs_filter_name ON nifs (filter_name);
CREATE INDEX ix_nifs_header_id ON nifs (header_id);
CREATE INDEX ix_nifs_read_mode ON nifs (read_mode);
CREATE INDEX ix_niri_camera ON niri (camera);
CREATE INDEX ix_niri_data_section ON niri (data_section);
CREATE INDEX ix_niri_disperser ON niri (disperser);
CREATE INDEX ix_niri_filter_name ON niri (filter_name);
CREATE INDEX ix_niri_header_id ON niri (header_id);
CREATE INDEX ix_niri_read_mode ON niri (read_mode);
CREATE INDEX ix_niri_well_depth_setting ON niri (well_depth_setting);
