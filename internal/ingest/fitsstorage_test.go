package ingest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/fits"
	"github.com/fitsarchive/agentd/internal/header"
	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/sample"
	"github.com/fitsarchive/agentd/internal/schema"
	"github.com/fitsarchive/agentd/queue"
)

// The enum values package header conforms to are those of the database's types.
func TestHeaderEnumsAreTheSchemas(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	for typ, want := range header.Enums {
		var got []string
		if err := b.db.QueryRow(context.Background(), `SELECT enum_range(NULL::`+typ+`)::text[]`).Scan(&got); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("enum %s: the database has %v, package header %v", typ, got, want)
		}
	}
}

// A header whose values FitsStorage cannot hold (a foreign telescope, an unknown
// OBSTYPE, a wavelength of 10 km, an exposure of 1e9 s) is ingested with those values
// NULL: never a failed item.
func TestOutlandishHeaderValuesAreNULL(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	b.ingestFrame(t, "N20200101S0042.fits", false, []fits.Card{
		{Keyword: "TELESCOP", Value: "Keck II"}, {Keyword: "OBSTYPE", Value: "SKYFLAT"}, {Keyword: "OBSCLASS", Value: "science"},
		{Keyword: "GRATING", Value: "R400+_G5325"}, {Keyword: "CENTWAVE", Value: 1e7}, {Keyword: "EXPTIME", Value: 1e9},
		{Keyword: "RA", Value: 83.8221}, {Keyword: "RAWGEMQA", Value: "USABLE"}, {Keyword: "RAWPIREQ", Value: "YES"},
		{Keyword: "DATE-OBS", Value: "2020-01-01"}, {Keyword: "TIME-OBS", Value: "01:02:03"},
		{Keyword: "GEMPRGID", Value: "GN-2020A-SV-12"}, {Keyword: "AZIMUTH", Value: 1e5}, {Keyword: "ELEVATIO", Value: 9999.9999999999998},
	})
	var tel, obstype, obsclass, qa *string
	var cw, exptime, ra *float64
	var secs *int64
	if err := b.db.QueryRow(context.Background(), `SELECT telescope::text, observation_type::text, observation_class::text,
		qa_state::text, central_wavelength::float8, exposure_time::float8, ra::float8, ut_datetime_secs FROM header`).Scan(
		&tel, &obstype, &obsclass, &qa, &cw, &exptime, &ra, &secs); err != nil {
		t.Fatal(err)
	}
	if obstype != nil || cw != nil || exptime != nil {
		t.Errorf("values FitsStorage cannot hold were stored: obstype %v, central_wavelength %v, exposure_time %v", obstype, cw, exptime)
	}
	// TELESCOP names no Gemini telescope: the name N2020… gives it, as in FitsStorage.
	if tel == nil || *tel != "Gemini-North" {
		t.Errorf("telescope %v; want Gemini-North from the file name", tel)
	}
	if obsclass == nil || *obsclass != "science" || qa == nil || *qa != "Pass" || ra == nil || *ra != 83.8221 {
		t.Errorf("good values lost: obsclass %v, qa_state %v, ra %v", obsclass, qa, ra)
	}
	if want := time.Date(2020, 1, 1, 1, 2, 3, 0, time.UTC).Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Milliseconds() / 1000; secs == nil || *secs != want {
		t.Errorf("ut_datetime_secs %v, want %d", secs, want)
	}
	var az, el *float64
	if err := b.db.QueryRow(context.Background(), `SELECT azimuth::float8, elevation::float8 FROM header`).Scan(&az, &el); err != nil {
		t.Fatal(err)
	}
	if az != nil || el != nil {
		t.Errorf("azimuth %v, elevation %v: values numeric(16,12) cannot hold were stored", az, el)
	}
	var eng, sv, cal, site *bool
	if err := b.db.QueryRow(context.Background(), `SELECT engineering, science_verification, calibration_program,
		site_monitoring FROM header`).Scan(&eng, &sv, &cal, &site); err != nil {
		t.Fatal(err)
	}
	if eng == nil || *eng || sv == nil || !*sv || cal == nil || *cal || site == nil || *site {
		t.Errorf("program flags: engineering %v, sv %v, calibration %v, site monitoring %v; want false, true, false, false",
			eng, sv, cal, site)
	}
}

// A database FitsStorage's own software made, adopted (agentctl db adopt), is ingested into
// like one of ours: every file recorded, its header in FitsStorage's columns, calcache work
// queued, the queue empty.
func TestIngestIntoAnAdoptedFitsStorageDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewEmptyDB(t)
	conn := pgtest.Conn(t, url)
	pgtest.RunSQLFile(t, conn, "../schema/fitsstorage/fscore.sql")
	if err := schema.Adopt(ctx, conn); err != nil {
		t.Fatal(err)
	}
	db := pgtest.Pool(t, url)
	root := t.TempDir()
	q := queue.New(db, queue.Ingest(), queue.Options{Owner: owner, Lease: time.Minute})
	ing, err := New(Config{DB: db, Root: root, Archive: true, CalcacheRules: loadRules(t, db)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ing.Close() })
	b := testBundle{db: db, root: root, q: q, ing: ing}
	m, err := sample.Tree(root, sample.Options{Nights: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.enqueueAll(t)
	if errs := b.drain(t); len(errs) > 0 {
		t.Fatalf("ingest errors: %v", errs)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile WHERE present AND canonical`); n != len(m.Ingestable) {
		t.Errorf("%d present canonical diskfiles, want %d", n, len(m.Ingestable))
	}
	if n := b.count(t, `SELECT count(*) FROM header WHERE telescope IS NOT NULL AND qa_state IS NOT NULL`); n != len(m.FITS) {
		t.Errorf("%d header rows with FitsStorage's telescope and qa_state, want %d", n, len(m.FITS))
	}
	if n := b.count(t, `SELECT count(*) FROM calcachequeue WHERE NOT inprogress AND fail_dt = '9999-12-31 23:59:59.999999'`); n != len(m.FITS) {
		t.Errorf("%d calcache items pending, want %d", n, len(m.FITS))
	}
	if n := b.count(t, `SELECT count(*) FROM ingestqueue`); n != 0 {
		t.Errorf("%d ingest rows left", n)
	}
	// The sample frames are GMOS-N: one gmos row each, tied to its header.
	if n := b.count(t, `SELECT count(*) FROM gmos g JOIN header h ON h.id = g.header_id
		WHERE h.instrument = 'GMOS-N' AND g.detector_x_bin IS NOT NULL`); n != len(m.FITS) {
		t.Errorf("%d gmos rows with a binning, want one per GMOS frame (%d)", n, len(m.FITS))
	}
	if n := b.count(t, `SELECT count(*) FROM header WHERE mode IS NOT NULL AND camera = 'GMOS-N'`); n != len(m.FITS) {
		t.Errorf("%d headers with mode and camera, want %d", n, len(m.FITS))
	}
}

// A NIRI frame gets its niri row and NIRI's header values.
func TestIngestNIRIFrame(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	b.ingestFrame(t, "N20200101S0077.fits", true, []fits.Card{
		{Keyword: "INSTRUME", Value: "NIRI"}, {Keyword: "TELESCOP", Value: "Gemini-North"}, {Keyword: "OBSTYPE", Value: "OBJECT"},
		{Keyword: "FILTER1", Value: "J_G0202"}, {Keyword: "FILTER2", Value: "open"}, {Keyword: "FILTER3", Value: "Jgrism_G5202"},
		{Keyword: "CAMERA", Value: "f6"}, {Keyword: "FPMASK", Value: "f6-2pix_G5211"}, {Keyword: "LNRS", Value: int64(16)},
		{Keyword: "NDAVGS", Value: int64(16)}, {Keyword: "A_VDDUC", Value: -1.3}, {Keyword: "A_VDET", Value: -0.7},
		{Keyword: "EXPTIME", Value: 30.0}, {Keyword: "COADDS", Value: int64(2)},
	})
	if n := b.count(t, `SELECT count(*) FROM niri n JOIN header h ON h.id = n.header_id
		WHERE n.disperser = 'Jgrism_G5202' AND n.read_mode = 'Low Background' AND n.well_depth_setting = 'Shallow'
		  AND n.camera = 'f6' AND n.data_section = 'None' AND h.mode = 'LS' AND h.central_wavelength = 1.233
		  AND h.exposure_time = 60 AND h.filter_name = 'J' AND h.detector_readmode_setting = 'Low_Background'
		  AND h.wavelength_band = 'J' AND h.reduction = 'RAW'`); n != 1 {
		t.Fatalf("the NIRI frame's rows are not as NIRI's rules say:\n%s", b.rowsOf(t, "niri"))
	}
}

// A GNIRS frame gets its gnirs row and GNIRS's header values.
func TestIngestGNIRSFrame(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	b.ingestFrame(t, "N20200101S0078.fits", false, []fits.Card{
		{Keyword: "INSTRUME", Value: "GNIRS"}, {Keyword: "TELESCOP", Value: "Gemini-North"}, {Keyword: "OBSTYPE", Value: "OBJECT"},
		{Keyword: "ACQMIR", Value: "Out"}, {Keyword: "SLIT", Value: "0.30arcsec_G5531"}, {Keyword: "DECKER", Value: "SCLong_G5532"},
		{Keyword: "GRATING", Value: "32/mmSB_G5533"}, {Keyword: "PRISM", Value: "MIR_G5511"}, {Keyword: "GRATWAVE", Value: 2.2},
		{Keyword: "FILTER1", Value: "Open"}, {Keyword: "FILTER2", Value: "X_G0518"}, {Keyword: "CAMERA", Value: "ShortBlue_G5540"},
		{Keyword: "LNRS", Value: int64(16)}, {Keyword: "NDAVGS", Value: int64(16)}, {Keyword: "DETBIAS", Value: -0.3},
	})
	if n := b.count(t, `SELECT count(*) FROM gnirs g JOIN header h ON h.id = g.header_id
		WHERE g.disperser = '32/mm_G5533' AND g.read_mode = 'Faint Objects' AND g.well_depth_setting = 'Shallow'
		  AND g.focal_plane_mask = '0.30arcsec_G5531&SCLong_G5532' AND h.mode = 'LS' AND h.central_wavelength = 2.2
		  AND h.disperser = '32_mm' AND h.camera = 'ShortBlue' AND h.filter_name = 'X'`); n != 1 {
		t.Fatalf("the GNIRS frame's rows are not as GNIRS's rules say:\n%s", b.rowsOf(t, "gnirs"))
	}
}

// A FLAMINGOS-2 frame gets its f2 row and F2's header values.
func TestIngestF2Frame(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	b.ingestFrame(t, "S20200101S0079.fits", false, []fits.Card{
		{Keyword: "INSTRUME", Value: "F2"}, {Keyword: "TELESCOP", Value: "Gemini-South"}, {Keyword: "OBSTYPE", Value: "OBJECT"},
		{Keyword: "FILTER1", Value: "Open"}, {Keyword: "FILTER2", Value: "JH_G0809"}, {Keyword: "LYOT", Value: "f/16_G5830"},
		{Keyword: "GRISM", Value: "JH_G5801"}, {Keyword: "DECKER", Value: "Long_slit"}, {Keyword: "MOSPOS", Value: "4pix-slit"},
		{Keyword: "MASKNAME", Value: "4pix-slit"}, {Keyword: "WAVELENG", Value: 14000.0}, {Keyword: "LNRS", Value: int64(8)},
	})
	if n := b.count(t, `SELECT count(*) FROM f2 f JOIN header h ON h.id = f.header_id
		WHERE f.disperser = 'JH_G5801' AND f.filter_name = 'Open&JH_G0809' AND f.lyot_stop = 'f/16_G5830' AND f.read_mode = '8'
		  AND f.focal_plane_mask = '4pix-slit' AND h.mode = 'LS' AND h.central_wavelength = 1.4 AND h.camera = 'f/16'
		  AND h.filter_name = 'JH' AND h.disperser = 'JH' AND h.detector_readmode_setting = '8'`); n != 1 {
		t.Fatalf("the F2 frame's rows are not as F2's rules say:\n%s", b.rowsOf(t, "f2"))
	}
}

// ingestFrame writes a FITS file of the primary header cards (after SIMPLE, BITPIX and NAXIS)
// and, with ext, a small image extension; then enqueues and ingests it, failing the test on
// any ingest error.
func (b testBundle) ingestFrame(t *testing.T, name string, ext bool, cards []fits.Card) {
	t.Helper()
	var buf bytes.Buffer
	phu := append([]fits.Card{{Keyword: "SIMPLE", Value: true}, {Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(0)}}, cards...)
	if err := fits.WriteHDU(&buf, phu, nil); err != nil {
		t.Fatal(err)
	}
	if ext {
		if err := fits.WriteHDU(&buf, []fits.Card{
			{Keyword: "XTENSION", Value: "IMAGE"}, {Keyword: "BITPIX", Value: int64(16)}, {Keyword: "NAXIS", Value: int64(2)},
			{Keyword: "NAXIS1", Value: int64(2)}, {Keyword: "NAXIS2", Value: int64(2)},
		}, make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, b.root, name, buf.String(), time.Now().Add(-48*time.Hour))
	b.enqueueAll(t)
	if errs := b.drain(t); len(errs) > 0 {
		t.Fatalf("ingest errors: %v", errs)
	}
}

// rowsOf shows the rows of an instrument table and of header, for a failure message.
func (b testBundle) rowsOf(t *testing.T, table string) string {
	t.Helper()
	var rows string
	b.db.QueryRow(context.Background(), `SELECT coalesce((SELECT json_agg(x)::text FROM `+table+` x), 'no `+table+` row') || ' ' ||
		coalesce((SELECT json_agg(h)::text FROM header h), 'no header')`).Scan(&rows)
	return rows
}
