-- The tables a software upgrade carries over (domain brief §7), in the shapes of the current
-- archive software: pg_dump --schema-only of its models, ownership and session settings removed.

CREATE TABLE public.downloadlog (
    id integer NOT NULL,
    usagelog_id bigint NOT NULL,
    selection text,
    numresults integer,
    sending_files boolean,
    numdenied integer,
    query_started timestamp without time zone,
    query_completed timestamp without time zone,
    download_completed timestamp without time zone,
    notes text
);

CREATE SEQUENCE public.downloadlog_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.downloadlog_id_seq OWNED BY public.downloadlog.id;

CREATE TABLE public.filedownloadlog (
    id integer NOT NULL,
    usagelog_id bigint NOT NULL,
    diskfile_filename text,
    diskfile_file_md5 text,
    diskfile_file_size bigint,
    ut_datetime timestamp without time zone,
    released boolean,
    pi_access boolean,
    staff_access boolean,
    magic_access boolean,
    eng_access boolean,
    inst_team_access boolean,
    canhaveit boolean,
    notes text
);

CREATE SEQUENCE public.filedownloadlog_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.filedownloadlog_id_seq OWNED BY public.filedownloadlog.id;

CREATE TABLE public.fileuploadlog (
    id integer NOT NULL,
    usagelog_id bigint NOT NULL,
    ut_transfer_start timestamp without time zone,
    ut_transfer_complete timestamp without time zone,
    filename text,
    path text,
    size bigint,
    md5 text,
    processed_cal boolean,
    destination text,
    s3_ut_start timestamp without time zone,
    s3_ut_end timestamp without time zone,
    s3_ok boolean,
    file_ok boolean,
    notes text
);

CREATE SEQUENCE public.fileuploadlog_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.fileuploadlog_id_seq OWNED BY public.fileuploadlog.id;

CREATE TABLE public.glacier (
    id integer NOT NULL,
    filename text NOT NULL,
    path text,
    md5 text NOT NULL,
    when_uploaded timestamp without time zone,
    last_inventory timestamp without time zone
);

CREATE SEQUENCE public.glacier_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.glacier_id_seq OWNED BY public.glacier.id;

CREATE TABLE public.notification (
    id integer NOT NULL,
    label text,
    selection text,
    piemail text,
    ngoemail text,
    csemail text,
    internal boolean
);

CREATE SEQUENCE public.notification_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.notification_id_seq OWNED BY public.notification.id;

CREATE TABLE public.qametriciq (
    id integer NOT NULL,
    qareport_id integer,
    datalabel text,
    filename text,
    detector text,
    fwhm numeric(6,3),
    fwhm_std numeric(6,3),
    isofwhm numeric(6,3),
    isofwhm_std numeric(6,3),
    ee50d numeric(6,3),
    ee50d_std numeric(6,3),
    elip numeric(5,3),
    elip_std numeric(5,3),
    pa numeric(6,3),
    pa_std numeric(6,3),
    adaptive_optics boolean,
    ao_seeing numeric(6,3),
    strehl numeric(6,3),
    strehl_std numeric(6,3),
    nsamples integer,
    percentile_band text,
    comment text
);

CREATE SEQUENCE public.qametriciq_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.qametriciq_id_seq OWNED BY public.qametriciq.id;

CREATE TABLE public.qametricpe (
    id integer NOT NULL,
    qareport_id integer,
    datalabel text,
    filename text,
    detector text,
    dra numeric(9,3),
    dra_std numeric(9,3),
    ddec numeric(9,3),
    ddec_std numeric(9,3),
    astref text,
    nsamples integer,
    comment text
);

CREATE SEQUENCE public.qametricpe_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.qametricpe_id_seq OWNED BY public.qametricpe.id;

CREATE TABLE public.qametricsb (
    id integer NOT NULL,
    qareport_id integer,
    datalabel text,
    filename text,
    detector text,
    mag numeric(5,3),
    mag_std numeric(5,3),
    electrons numeric(9,2),
    electrons_std numeric(7,2),
    nsamples integer,
    percentile_band text,
    comment text
);

CREATE SEQUENCE public.qametricsb_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.qametricsb_id_seq OWNED BY public.qametricsb.id;

CREATE TABLE public.qametriczp (
    id integer NOT NULL,
    qareport_id integer,
    datalabel text,
    filename text,
    detector text,
    mag numeric(5,3),
    mag_std numeric(5,3),
    cloud numeric(5,3),
    cloud_std numeric(5,3),
    photref text,
    nsamples integer,
    percentile_band text,
    comment text
);

CREATE SEQUENCE public.qametriczp_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.qametriczp_id_seq OWNED BY public.qametriczp.id;

CREATE TABLE public.qareport (
    id integer NOT NULL,
    hostname text,
    userid text,
    processid integer,
    executable text,
    software text,
    software_version text,
    context text,
    submit_time timestamp without time zone,
    submit_host text
);

CREATE SEQUENCE public.qareport_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.qareport_id_seq OWNED BY public.qareport.id;

CREATE TABLE public.querylog (
    id integer NOT NULL,
    usagelog_id bigint NOT NULL,
    summarytype text,
    selection text,
    numresults integer,
    numcalresults integer,
    query_started timestamp without time zone,
    query_completed timestamp without time zone,
    cals_completed timestamp without time zone,
    summary_completed timestamp without time zone,
    notes text
);

CREATE SEQUENCE public.querylog_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.querylog_id_seq OWNED BY public.querylog.id;

CREATE TABLE public.usagelog (
    id bigint NOT NULL,
    utdatetime timestamp without time zone,
    user_id integer,
    ip_address text,
    user_agent text,
    referer text,
    method text,
    uri text,
    this text,
    bytes bigint,
    status integer,
    notes text
);

CREATE SEQUENCE public.usagelog_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.usagelog_id_seq OWNED BY public.usagelog.id;

CREATE TABLE public.userprogram (
    id integer NOT NULL,
    user_id integer NOT NULL,
    program_id text,
    observation_id text,
    filename text,
    path text
);

CREATE SEQUENCE public.userprogram_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.userprogram_id_seq OWNED BY public.userprogram.id;

CREATE TABLE public.users (
    id integer NOT NULL,
    orcid_id character varying(20),
    noirlab_id text,
    username text NOT NULL,
    fullname text,
    password text,
    salt text,
    email text,
    gemini_staff boolean,
    misc_upload boolean,
    user_admin boolean,
    file_permission_admin boolean,
    instrument_team text,
    superuser boolean,
    reset_token text,
    reset_token_expires timestamp without time zone,
    cookie text,
    account_created timestamp without time zone,
    password_changed timestamp without time zone,
    last_login timestamp without time zone,
    last_login_by text
);

CREATE SEQUENCE public.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;

ALTER TABLE ONLY public.downloadlog ALTER COLUMN id SET DEFAULT nextval('public.downloadlog_id_seq'::regclass);

ALTER TABLE ONLY public.filedownloadlog ALTER COLUMN id SET DEFAULT nextval('public.filedownloadlog_id_seq'::regclass);

ALTER TABLE ONLY public.fileuploadlog ALTER COLUMN id SET DEFAULT nextval('public.fileuploadlog_id_seq'::regclass);

ALTER TABLE ONLY public.glacier ALTER COLUMN id SET DEFAULT nextval('public.glacier_id_seq'::regclass);

ALTER TABLE ONLY public.notification ALTER COLUMN id SET DEFAULT nextval('public.notification_id_seq'::regclass);

ALTER TABLE ONLY public.qametriciq ALTER COLUMN id SET DEFAULT nextval('public.qametriciq_id_seq'::regclass);

ALTER TABLE ONLY public.qametricpe ALTER COLUMN id SET DEFAULT nextval('public.qametricpe_id_seq'::regclass);

ALTER TABLE ONLY public.qametricsb ALTER COLUMN id SET DEFAULT nextval('public.qametricsb_id_seq'::regclass);

ALTER TABLE ONLY public.qametriczp ALTER COLUMN id SET DEFAULT nextval('public.qametriczp_id_seq'::regclass);

ALTER TABLE ONLY public.qareport ALTER COLUMN id SET DEFAULT nextval('public.qareport_id_seq'::regclass);

ALTER TABLE ONLY public.querylog ALTER COLUMN id SET DEFAULT nextval('public.querylog_id_seq'::regclass);

ALTER TABLE ONLY public.usagelog ALTER COLUMN id SET DEFAULT nextval('public.usagelog_id_seq'::regclass);

ALTER TABLE ONLY public.userprogram ALTER COLUMN id SET DEFAULT nextval('public.userprogram_id_seq'::regclass);

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);

ALTER TABLE ONLY public.downloadlog
    ADD CONSTRAINT downloadlog_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.filedownloadlog
    ADD CONSTRAINT filedownloadlog_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.fileuploadlog
    ADD CONSTRAINT fileuploadlog_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.glacier
    ADD CONSTRAINT glacier_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.notification
    ADD CONSTRAINT notification_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.qametriciq
    ADD CONSTRAINT qametriciq_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.qametricpe
    ADD CONSTRAINT qametricpe_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.qametricsb
    ADD CONSTRAINT qametricsb_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.qametriczp
    ADD CONSTRAINT qametriczp_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.qareport
    ADD CONSTRAINT qareport_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.querylog
    ADD CONSTRAINT querylog_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.usagelog
    ADD CONSTRAINT usagelog_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.userprogram
    ADD CONSTRAINT userprogram_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE INDEX ix_downloadlog_usagelog_id ON public.downloadlog USING btree (usagelog_id);

CREATE INDEX ix_filedownloadlog_diskfile_filename ON public.filedownloadlog USING btree (diskfile_filename);

CREATE INDEX ix_filedownloadlog_usagelog_id ON public.filedownloadlog USING btree (usagelog_id);

CREATE INDEX ix_filedownloadlog_ut_datetime ON public.filedownloadlog USING btree (ut_datetime);

CREATE INDEX ix_fileuploadlog_filename ON public.fileuploadlog USING btree (filename);

CREATE INDEX ix_fileuploadlog_usagelog_id ON public.fileuploadlog USING btree (usagelog_id);

CREATE INDEX ix_fileuploadlog_ut_transfer_start ON public.fileuploadlog USING btree (ut_transfer_start);

CREATE INDEX ix_glacier_filename ON public.glacier USING btree (filename);

CREATE INDEX ix_glacier_md5 ON public.glacier USING btree (md5);

CREATE INDEX ix_qametriciq_datalabel ON public.qametriciq USING btree (datalabel);

CREATE INDEX ix_qametriciq_qareport_id ON public.qametriciq USING btree (qareport_id);

CREATE INDEX ix_qametricpe_datalabel ON public.qametricpe USING btree (datalabel);

CREATE INDEX ix_qametricpe_qareport_id ON public.qametricpe USING btree (qareport_id);

CREATE INDEX ix_qametricsb_datalabel ON public.qametricsb USING btree (datalabel);

CREATE INDEX ix_qametricsb_qareport_id ON public.qametricsb USING btree (qareport_id);

CREATE INDEX ix_qametriczp_datalabel ON public.qametriczp USING btree (datalabel);

CREATE INDEX ix_qametriczp_qareport_id ON public.qametriczp USING btree (qareport_id);

CREATE INDEX ix_querylog_summarytype ON public.querylog USING btree (summarytype);

CREATE INDEX ix_querylog_usagelog_id ON public.querylog USING btree (usagelog_id);

CREATE INDEX ix_usagelog_ip_address ON public.usagelog USING btree (ip_address);

CREATE INDEX ix_usagelog_status ON public.usagelog USING btree (status);

CREATE INDEX ix_usagelog_this ON public.usagelog USING btree (this);

CREATE INDEX ix_usagelog_user_id ON public.usagelog USING btree (user_id);

CREATE INDEX ix_usagelog_utdatetime ON public.usagelog USING btree (utdatetime);

CREATE INDEX ix_userprogram_filename ON public.userprogram USING btree (filename);

CREATE INDEX ix_userprogram_observation_id ON public.userprogram USING btree (observation_id);

CREATE INDEX ix_userprogram_path ON public.userprogram USING btree (path);

CREATE INDEX ix_userprogram_program_id ON public.userprogram USING btree (program_id);

CREATE INDEX ix_userprogram_user_id ON public.userprogram USING btree (user_id);

CREATE INDEX ix_users_cookie ON public.users USING btree (cookie);

CREATE INDEX ix_users_noirlab_id ON public.users USING btree (noirlab_id);

CREATE INDEX ix_users_orcid_id ON public.users USING btree (orcid_id);

CREATE INDEX ix_users_username ON public.users USING btree (username);

ALTER TABLE ONLY public.downloadlog
    ADD CONSTRAINT downloadlog_usagelog_id_fkey FOREIGN KEY (usagelog_id) REFERENCES public.usagelog(id);

ALTER TABLE ONLY public.filedownloadlog
    ADD CONSTRAINT filedownloadlog_usagelog_id_fkey FOREIGN KEY (usagelog_id) REFERENCES public.usagelog(id);

ALTER TABLE ONLY public.fileuploadlog
    ADD CONSTRAINT fileuploadlog_usagelog_id_fkey FOREIGN KEY (usagelog_id) REFERENCES public.usagelog(id);

ALTER TABLE ONLY public.qametriciq
    ADD CONSTRAINT qametriciq_qareport_id_fkey FOREIGN KEY (qareport_id) REFERENCES public.qareport(id);

ALTER TABLE ONLY public.qametricpe
    ADD CONSTRAINT qametricpe_qareport_id_fkey FOREIGN KEY (qareport_id) REFERENCES public.qareport(id);

ALTER TABLE ONLY public.qametricsb
    ADD CONSTRAINT qametricsb_qareport_id_fkey FOREIGN KEY (qareport_id) REFERENCES public.qareport(id);

ALTER TABLE ONLY public.qametriczp
    ADD CONSTRAINT qametriczp_qareport_id_fkey FOREIGN KEY (qareport_id) REFERENCES public.qareport(id);

ALTER TABLE ONLY public.querylog
    ADD CONSTRAINT querylog_usagelog_id_fkey FOREIGN KEY (usagelog_id) REFERENCES public.usagelog(id);

ALTER TABLE ONLY public.usagelog
    ADD CONSTRAINT usagelog_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);

ALTER TABLE ONLY public.userprogram
    ADD CONSTRAINT userprogram_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);

