package ingest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/fits"
	"github.com/fitsarchive/agentd/internal/header"
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
	var buf bytes.Buffer
	if err := fits.WriteHDU(&buf, []fits.Card{
		{Keyword: "SIMPLE", Value: true}, {Keyword: "BITPIX", Value: int64(16)}, {Keyword: "NAXIS", Value: int64(0)},
		{Keyword: "TELESCOP", Value: "Keck II"}, {Keyword: "OBSTYPE", Value: "SKYFLAT"}, {Keyword: "OBSCLASS", Value: "science"},
		{Keyword: "GRATING", Value: "R400+_G5325"}, {Keyword: "CENTWAVE", Value: 1e7}, {Keyword: "EXPTIME", Value: 1e9},
		{Keyword: "RA", Value: 83.8221}, {Keyword: "RAWGEMQA", Value: "USABLE"}, {Keyword: "RAWPIREQ", Value: "YES"},
		{Keyword: "DATE-OBS", Value: "2020-01-01"}, {Keyword: "TIME-OBS", Value: "01:02:03"},
		{Keyword: "GEMPRGID", Value: "GN-2020A-SV-12"}, {Keyword: "AZIMUTH", Value: 1e5}, {Keyword: "ELEVATIO", Value: 9999.9999999999998},
	}, nil); err != nil {
		t.Fatal(err)
	}
	writeFile(t, b.root, "N20200101S0042.fits", buf.String(), time.Now().Add(-48*time.Hour))
	b.enqueueAll(t)
	if errs := b.drain(t); len(errs) > 0 {
		t.Fatalf("ingest errors: %v", errs)
	}
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
