package calcache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/queue"
)

// frame is a GMOS-N header and its gmos row, as ingest would write them.
type frame struct {
	name, obstype, class, object, reduction, qa string
	spect                                       bool
	xbin, ybin                                  int
	filter, disperser, mask                     string
	cw                                          float64 // µm; 0: NULL
	at                                          time.Duration
	amps                                        string // gmos.amp_read_area ("" = EEV1, EEV2)
	engineering                                 bool
}

var t0 = time.Date(2020, 3, 1, 6, 0, 0, 0, time.UTC)

// spectrum is a science long-slit spectrum; the others change what they need.
func spectrum(name string) frame {
	return frame{name: name, obstype: "OBJECT", class: "science", object: "NGC 1068", reduction: "RAW", qa: "Pass", spect: true,
		xbin: 2, ybin: 2, filter: "open1-6&open2-8", disperser: "B600+_G5307", mask: "1.0arcsec", cw: 0.52}
}

func (f frame) with(change func(*frame)) frame { change(&f); return f }

// insert writes the frames and returns their header ids by name.
func insert(t *testing.T, db *pgxpool.Pool, frames ...frame) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	for i, f := range frames {
		var cw any
		if f.cw != 0 {
			cw = f.cw
		}
		spectMode := "imaging"
		if f.spect {
			spectMode = "spectroscopy"
		}
		var id int64
		err := db.QueryRow(ctx, `WITH fi AS (INSERT INTO file (name) VALUES ($1) RETURNING id),
			df AS (INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5, data_size, data_md5,
				compressed, lastmod, isfits, entrytime)
				SELECT id, $1, '', true, true, 1, 'x', 1, 'x', false, now(), true, now() + $15 * interval '1 second' FROM fi RETURNING id),
			h AS (INSERT INTO header (diskfile_id, instrument, telescope, observation_type, observation_class, object, reduction,
				qa_state, spectroscopy, mode, central_wavelength, ut_datetime, ut_datetime_secs, detector_binning,
				detector_roi_setting, engineering, processing)
				SELECT df.id, 'GMOS-N', 'Gemini-North', $2::obstype, $3::obsclass, $4, $5::reduction_state, $6::qa_state, $7, $8::mode,
					$9, $10::timestamp, extract(epoch FROM $10::timestamp - '2000-01-01')::bigint, $17,
					'Full Frame', $19, 'Raw' FROM df RETURNING id)
			INSERT INTO gmos (header_id, disperser, filter_name, detector_x_bin, detector_y_bin, amp_read_area,
				read_speed_setting, gain_setting, focal_plane_mask)
			SELECT h.id, $13, $14, $11, $12, $18, 'slow', 'low', $16 FROM h RETURNING header_id`,
			f.name, f.obstype, f.class, f.object, f.reduction, f.qa, f.spect, spectMode, cw, t0.Add(f.at),
			f.xbin, f.ybin, f.disperser, f.filter, i, f.mask, fmt.Sprintf("%dx%d", f.xbin, f.ybin), cmp.Or(f.amps, "EEV1, EEV2"),
			f.engineering).Scan(&id)
		if err != nil {
			t.Fatalf("insert %s: %v", f.name, err)
		}
		ids[f.name] = id
	}
	return ids
}

// cache reads the calcache rows of the observation as "caltype: name name …" by rank.
func cache(t *testing.T, db *pgxpool.Pool, obs int64) map[string]string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT c.caltype::text, f.name FROM calcache c
		JOIN header h ON h.id = c.cal_hid JOIN diskfile d ON d.id = h.diskfile_id JOIN file f ON f.id = d.file_id
		WHERE c.obs_hid = $1 ORDER BY c.caltype, c.rank`, obs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			t.Fatal(err)
		}
		out[typ] = strings.TrimSpace(out[typ] + " " + name)
	}
	return out
}

// loaded holds the built-in rules loaded for each test database (Load plans every rule: a
// second a database).
var loaded sync.Map // *pgxpool.Pool → *Rules

// rulesOf is the built-in rules, loaded for db.
func rulesOf(t *testing.T, db *pgxpool.Pool) *Rules {
	t.Helper()
	if rs, ok := loaded.Load(db); ok {
		return rs.(*Rules)
	}
	rs, err := Load(context.Background(), db, "")
	if err != nil {
		t.Fatal(err)
	}
	loaded.Store(db, rs)
	t.Cleanup(func() { loaded.Delete(db) })
	return rs
}

func recompute(t *testing.T, db *pgxpool.Pool, ids ...int64) {
	t.Helper()
	if err := pgx.BeginFunc(context.Background(), db, func(tx pgx.Tx) error {
		_, err := rulesOf(t, db).Recompute(context.Background(), tx, ids)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// sortedIDs are the header ids of insert's answer, in order.
func sortedIDs(ids map[string]int64) []int64 {
	all := make([]int64, 0, len(ids))
	for _, id := range ids {
		all = append(all, id)
	}
	slices.Sort(all)
	return all
}

// dumpCache is the whole calcache table, a line per row in a fixed order.
func dumpCache(t *testing.T, db *pgxpool.Pool) string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT obs_hid, caltype::text, rank, cal_hid FROM calcache ORDER BY 1, 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var o, c int64
		var typ string
		var rank int
		if err := rows.Scan(&o, &typ, &rank, &c); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d %s %d %d\n", o, typ, rank, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The calibrations of a GMOS long-slit spectrum and an image, worked out by hand from
// FitsStorage's rules (docs/calcache-rules.md §3.1).
func TestGMOSCalibrationsByHand(t *testing.T) {
	t.Parallel()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	h := time.Hour
	day := 24 * h
	bias := func(name string, at time.Duration) frame {
		return spectrum(name).with(func(f *frame) {
			f.obstype, f.class, f.object, f.spect, f.disperser, f.mask, f.cw, f.at = "BIAS", "dayCal", "Bias", false, "MIRROR", "", 0, at
		})
	}
	flat := func(name string, at time.Duration) frame {
		return spectrum(name).with(func(f *frame) { f.obstype, f.class, f.object, f.at = "FLAT", "partnerCal", "GCALflat", at })
	}
	ids := insert(t, db,
		spectrum("S"),
		bias("B1", -day), bias("B2", -2*day),
		bias("B3", -h).with(func(f *frame) { f.xbin, f.ybin = 1, 1 }), // another binning
		bias("B4", -100*day), // outside 90 days
		bias("B5", -3*h).with(func(f *frame) { f.qa = "Fail" }), // failed QA
		bias("PB1", -10*day).with(func(f *frame) { f.reduction = "PROCESSED_BIAS" }),
		flat("F1", h).with(func(f *frame) { f.cw = 0.5205 }),            // within 0.001 µm
		flat("F2", 30*time.Minute).with(func(f *frame) { f.cw = 0.53 }), // not
		flat("F3", -5*h),
		flat("F4", 10*time.Minute).with(func(f *frame) { f.disperser = "R400+_G5305" }),
		spectrum("A1").with(func(f *frame) { f.obstype, f.class, f.object, f.at = "ARC", "dayCal", "CuAr", 2*day }),
		spectrum("A2").with(func(f *frame) { f.obstype, f.class, f.object, f.at, f.xbin = "ARC", "dayCal", "CuAr", day, 1 }),
		spectrum("I").with(func(f *frame) {
			f.spect, f.disperser, f.mask, f.cw, f.filter, f.at = false, "MIRROR", "Imaging", 0, "g_G0301&open2-8", 3*day
		}),
		spectrum("TW1").with(func(f *frame) {
			f.class, f.object, f.spect, f.disperser, f.mask, f.cw, f.filter, f.at = "dayCal", "Twilight", false, "MIRROR", "Imaging", 0, "g_G0301&open2-8", 2*day
		}),
		spectrum("TW2").with(func(f *frame) { // another filter
			f.class, f.object, f.spect, f.disperser, f.mask, f.cw, f.filter, f.at = "dayCal", "Twilight", false, "MIRROR", "Imaging", 0, "r_G0303&open2-8", 2*day
		}),
	)
	recompute(t, db, ids["S"], ids["I"], ids["B1"])
	want := map[string]map[string]string{
		"S": {"bias": "B1 B2", "processed_bias": "PB1", "flat": "F1 F3", "arc": "A1"},
		// The image's biases: B1, B2 and B4 are within 90 days of it (B4 is 97 days before: no).
		"I":  {"bias": "B1 B2", "processed_bias": "PB1", "flat": "TW1"},
		"B1": {}, // a bias needs no calibration
	}
	for obs, w := range want {
		got := cache(t, db, ids[obs])
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: %v\nwant %v", obs, got, w)
		}
	}
}

// The same rules over a batch of observations (a bulk rebuild) give the rows the worker
// gives one observation at a time, and recomputing replaces rows instead of adding any.
func TestBatchEqualsOneAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	var frames []frame
	for n := 0; n < 120; n++ { // more than bulkFrom: the batch takes the bulk form
		at := time.Duration(n) * 7 * time.Hour
		f := spectrum(fmt.Sprintf("X%02d", n)).with(func(f *frame) { f.at = at })
		switch n % 5 {
		case 0:
			f.obstype, f.class, f.object, f.spect, f.cw = "BIAS", "dayCal", "Bias", false, 0
		case 1:
			f.obstype, f.class = "FLAT", "partnerCal"
		case 2:
			f.obstype, f.class = "ARC", "dayCal"
		case 3:
			f.xbin = 1 + n%2
		}
		frames = append(frames, f)
	}
	all := sortedIDs(insert(t, db, frames...))
	dump := func() string { return dumpCache(t, db) }
	for _, id := range all {
		recompute(t, db, id)
	}
	one := dump()
	if strings.Count(one, "\n") < 120 {
		t.Fatalf("only %d rows: the data should give more", strings.Count(one, "\n"))
	}
	recompute(t, db, all...)
	if batch := dump(); batch != one {
		t.Fatalf("the batch differs from one at a time:\n%s\nvs\n%s", batch, one)
	}

	// The bulk rebuild, in small batches (the per-observation form) that split the data,
	// from an empty cache and with every observation queued: the same rows, and the queue
	// emptied.
	if _, err := db.Exec(ctx, `TRUNCATE calcache;
		INSERT INTO calcachequeue (obs_hid, filename, sortkey) SELECT id, 'x', 'x' FROM header`); err != nil {
		t.Fatal(err)
	}
	var seen []Rebuilt
	sum, err := rulesOf(t, db).Rebuild(ctx, db, RebuildOptions{Batch: 7, Progress: func(r Rebuilt) { seen = append(seen, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if bulk := dump(); bulk != one {
		t.Fatalf("the bulk rebuild differs from one at a time:\n%s\nvs\n%s", bulk, one)
	}
	if sum.Total != 120 || sum.Observations != 120 || sum.Dequeued != 120 || sum.Rows != int64(strings.Count(one, "\n")) || len(seen) != 1+18 {
		t.Fatalf("summary %+v after %d progress calls; want 120 observations in 18 batches, 120 items dequeued, every row counted", sum, len(seen))
	}
	var runs int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM agentd_calcache_rebuild WHERE observations = 120`).Scan(&runs); err != nil || runs != 1 {
		t.Fatalf("the rebuild was not recorded: %d, %v", runs, err)
	}
	// A slice of it: one instrument that has no frames here, then a date.
	if sum, err := rulesOf(t, db).Rebuild(ctx, db, RebuildOptions{Instrument: "NIRI"}); err != nil || sum.Observations != 0 {
		t.Fatalf("NIRI: %+v, %v; want nothing", sum, err)
	}
	if sum, err := rulesOf(t, db).Rebuild(ctx, db, RebuildOptions{Since: t0.Add(20 * 7 * time.Hour)}); err != nil || sum.Observations != 100 {
		t.Fatalf("since: %+v, %v; want the 100 later observations", sum, err)
	}
	if again := dump(); again != one {
		t.Fatal("a partial rebuild changed the rows")
	}
}

// The set-based form of a batch gives the per-observation search's rows, on data made to
// test its argument: hundreds of biases of two binnings and two amplifier sets interleaved
// (the amplifiers are a conditional match, outside the key, so a level of the right key
// can hold no candidate that passes), frames at the same time (levels of several rows),
// central wavelengths just inside and outside the tolerance, QA Fail and engineering
// frames, over more than a year (the day limits). Both forms must be exercised: most
// observations settled set-based, some left to the per-observation search.
func TestSetBasedEqualsPerObservation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	rng := rand.New(rand.NewPCG(13, 1))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	var frames []frame
	for n := 0; n < 700; n++ {
		f := spectrum(fmt.Sprintf("R%03d", n))
		f.at = time.Duration(rng.IntN(450*2)) * 12 * time.Hour // half-day slots: many frames share a time
		f.xbin = 1 + rng.IntN(2)
		f.ybin = f.xbin
		f.amps = pick("EEV1, EEV2", "EEV1, EEV2", "EEV2")
		f.cw = []float64{0.52, 0.5205, 0.5212, 0.6}[rng.IntN(4)]
		f.engineering = rng.IntN(20) == 0
		if rng.IntN(20) == 0 {
			f.qa = "Fail"
		}
		switch x := rng.IntN(100); {
		case x < 45:
			f.obstype, f.class, f.object, f.spect, f.disperser, f.mask, f.cw = "BIAS", "dayCal", "Bias", false, "MIRROR", "", 0
		case x < 57:
			f.obstype, f.class, f.object = "FLAT", "partnerCal", "GCALflat"
		case x < 67:
			f.obstype, f.class, f.object = "ARC", "dayCal", "CuAr"
		case x < 75:
			f.obstype, f.class, f.object, f.spect, f.disperser, f.mask, f.cw = "OBJECT", "dayCal", "Twilight", false, "MIRROR", "Imaging", 0
			f.filter = pick("g_G0301", "r_G0303")
		case x < 87:
			f.spect, f.disperser, f.mask, f.cw = false, "MIRROR", "Imaging", 0
			f.filter = pick("g_G0301", "r_G0303")
		}
		frames = append(frames, f)
	}
	all := sortedIDs(insert(t, db, frames...))
	dump := func() string { return dumpCache(t, db) }
	for _, id := range all {
		recompute(t, db, id)
	}
	one := dump()
	if _, err := db.Exec(ctx, `TRUNCATE calcache`); err != nil {
		t.Fatal(err)
	}
	var done recomputed
	if err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		done, err = rulesOf(t, db).recomputeIDs(ctx, tx, all)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if set := dump(); set != one {
		a, b := strings.Split(set, "\n"), strings.Split(one, "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("the set-based form differs from the per-observation search at row %d: %q, want %q (%d rows vs %d)", i, a[i], b[i], len(a), len(b))
			}
		}
		t.Fatalf("the set-based form gave %d rows, the per-observation search %d", len(a), len(b))
	}
	if done.rows != int64(strings.Count(one, "\n")) || done.rows < 5000 {
		t.Fatalf("%d rows counted, %d in the table: the data should give thousands", done.rows, strings.Count(one, "\n"))
	}
	if done.oneByOne == 0 || done.oneByOne >= int64(len(all)) {
		t.Fatalf("%d (observation, rule) pairs left to the per-observation search: want some, and few", done.oneByOne)
	}
	t.Logf("%d rows; %d (observation, rule) pairs searched one by one", done.rows, done.oneByOne)
}

// Workers and batches that recompute the same observations at once serialise on their
// locks: no duplicate row, no unique violation, no deadlock, and the rows are the same.
func TestConcurrentRecomputeIsSerialised(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	var frames []frame
	for n := 0; n < 12; n++ {
		f := spectrum(fmt.Sprintf("C%02d", n)).with(func(f *frame) { f.at = time.Duration(n) * time.Hour })
		if n%3 == 0 {
			f.obstype, f.class, f.object, f.spect, f.cw = "BIAS", "dayCal", "Bias", false, 0
		}
		frames = append(frames, f)
	}
	all := sortedIDs(insert(t, db, frames...))
	recompute(t, db, all...)
	rs := rulesOf(t, db)
	var want int
	db.QueryRow(ctx, `SELECT count(*) FROM calcache`).Scan(&want)
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		go func() {
			subset := all
			if g%2 == 1 {
				subset = []int64{all[g%len(all)], all[(g+5)%len(all)]} // a worker's item, out of order
			}
			var err error
			for i := 0; i < 5 && err == nil; i++ {
				err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
					_, err := rs.Recompute(ctx, tx, subset)
					return err
				})
			}
			errs <- err
		}()
	}
	for g := 0; g < 16; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var got int
	db.QueryRow(ctx, `SELECT count(*) FROM calcache`).Scan(&got)
	if got != want || want == 0 {
		t.Fatalf("%d rows after concurrent recomputes, want %d", got, want)
	}
}

// A new calibration queues the observations it could serve, within its rule's days; a
// science frame queues none.
func TestNewCalibrationRequeuesWhatItServes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	day := 24 * time.Hour
	insert(t, db,
		spectrum("S"),
		spectrum("I").with(func(f *frame) { f.spect, f.disperser, f.mask, f.cw = false, "MIRROR", "Imaging", 0 }),
		spectrum("OLD").with(func(f *frame) { f.at = -400 * day }),
		spectrum("B").with(func(f *frame) {
			f.obstype, f.class, f.object, f.spect, f.cw, f.at = "BIAS", "dayCal", "Bias", false, 0, 10*day
		}),
		spectrum("A").with(func(f *frame) { f.obstype, f.class, f.object, f.at = "ARC", "dayCal", "CuAr", 100*day }),
	)
	queued := func(name string, at time.Duration, f Frame) []string {
		t.Helper()
		ut := t0.Add(at)
		f.UT = &ut
		var items []queue.CalcacheItem
		b := &pgx.Batch{}
		rulesOf(t, db).QueueServed(b, f, name, &items)
		if b.Len() > 0 {
			if err := db.SendBatch(ctx, b).Close(); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		for _, it := range items {
			names = append(names, it.Filename)
		}
		slices.Sort(names)
		return names
	}
	// A new bias and arc (the frames B and A are their files' older versions: left out).
	if got := queued("B", 10*day, Frame{Instrument: "GMOS-N", Reduction: "RAW", ObsType: "BIAS", ObsClass: "dayCal", Object: "Bias"}); fmt.Sprint(got) != "[I S]" {
		t.Errorf("a new bias queued %v; want the spectrum and the image within 90 days", got)
	}
	if got := queued("A", 100*day, Frame{Instrument: "GMOS-N", Reduction: "RAW", ObsType: "ARC", ObsClass: "dayCal", Object: "CuAr"}); fmt.Sprint(got) != "[S]" {
		t.Errorf("a new arc queued %v; want the spectrum within 365 days (not the one 500 days away, not the image)", got)
	}
	if got := queued("B2", 10*day, Frame{Instrument: "GMOS-S", Reduction: "RAW", ObsType: "BIAS", ObsClass: "dayCal", Object: "Bias"}); len(got) != 0 {
		t.Errorf("a bias of another instrument queued %v", got)
	}
	if got := queued("S2", 0, Frame{Instrument: "GMOS-N", Reduction: "RAW", ObsType: "OBJECT", ObsClass: "science", Object: "NGC 1068"}); len(got) != 0 {
		t.Errorf("a science frame queued %v", got)
	}
	// A new version of file S that is a bias: S's own older header is left out (the new
	// version's transaction makes it not canonical), the image is not.
	if got := queued("S", 10*day, Frame{Instrument: "GMOS-N", Reduction: "RAW", ObsType: "BIAS", ObsClass: "dayCal", Object: "Bias"}); fmt.Sprint(got) != "[I]" {
		t.Errorf("a bias that is a new version of S queued %v; want the image alone", got)
	}
}

// F2's rules find an F2 spectrum its dark, flat and arc, and an arc its dark and flat. The
// rules of one caltype are split by observation into groups that never overlap: were two to
// apply, calcache's unique (obs_hid, caltype, rank) would refuse the second's rows.
func TestF2Calibrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	h := time.Hour
	f2 := func(name, obstype string, spect bool, at time.Duration) frame {
		return spectrum(name).with(func(f *frame) { f.obstype, f.spect, f.at = obstype, spect, at })
	}
	ids := insert(t, db, f2("S", "OBJECT", true, 0), f2("D", "DARK", false, h), f2("F", "FLAT", true, 2*h), f2("A", "ARC", true, 3*h),
		f2("I", "OBJECT", false, 4*h))
	if _, err := db.Exec(ctx, `UPDATE header SET instrument = 'F2', exposure_time = 10;
		UPDATE header SET central_wavelength = NULL WHERE NOT spectroscopy;
		INSERT INTO f2 (header_id, disperser, filter_name, lyot_stop, read_mode, focal_plane_mask)
		SELECT header_id, 'JH_G5801', 'Open&JH_G0809', 'f/16_G5830', '8', '4pix-slit' FROM gmos; DELETE FROM gmos`); err != nil {
		t.Fatal(err)
	}
	recompute(t, db, sortedIDs(ids)...)
	if got := cache(t, db, ids["S"]); fmt.Sprint(got) != "map[arc:A dark:D flat:F]" {
		t.Errorf("F2 spectrum: %v", got)
	}
	if got := cache(t, db, ids["A"]); fmt.Sprint(got) != "map[dark:D flat:F]" {
		t.Errorf("F2 arc: %v", got)
	}
}

// NIRI's rules, worked by hand: a science image gets the dark of its exposure (within
// 0.01 s) and the lamp-on flat of its filter; through a thermal filter, no flat (although
// F3 is one of its filter); a lamp-on flat gets its lamp-off flats.
func TestNIRICalibrationsByHand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	h := time.Hour
	image := func(name, obstype string, at time.Duration) frame {
		return spectrum(name).with(func(f *frame) { f.obstype, f.spect, f.cw, f.at = obstype, false, 0, at })
	}
	ids := insert(t, db, image("S", "OBJECT", 0), image("T", "OBJECT", h), image("D1", "DARK", 2*h), image("D2", "DARK", 3*h),
		image("F1", "FLAT", 4*h), image("F2", "FLAT", 5*h), image("F3", "FLAT", 6*h))
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE header SET instrument = 'NIRI', exposure_time = 10, coadds = 1, gcal_lamp = 'IRhigh'`, nil},
		{`UPDATE header SET exposure_time = 10.005 WHERE id = $1`, []any{ids["D1"]}},
		{`UPDATE header SET exposure_time = 10.5 WHERE id = $1`, []any{ids["D2"]}},
		{`UPDATE header SET gcal_lamp = 'Off' WHERE id = $1`, []any{ids["F2"]}},
		{`INSERT INTO niri (header_id, disperser, filter_name, read_mode, well_depth_setting, data_section, camera, focal_plane_mask)
			SELECT header_id, NULL, CASE WHEN header_id IN ($1, $2) THEN 'Lprime_G0207' ELSE 'J_G0202' END, 'Medium Background',
				'Shallow', 'Section(x1=0, x2=1024, y1=0, y2=1024)', 'f6', 'f6-cam_G5208' FROM gmos`, []any{ids["T"], ids["F3"]}},
		{`DELETE FROM gmos`, nil},
	} {
		if _, err := db.Exec(ctx, stmt.sql, stmt.args...); err != nil {
			t.Fatalf("%s: %v", stmt.sql, err)
		}
	}
	recompute(t, db, sortedIDs(ids)...)
	for obs, want := range map[string]string{"S": "map[dark:D1 flat:F1]", "T": "map[dark:D1]", "F1": "map[lampoff_flat:F2]"} {
		if got := fmt.Sprint(cache(t, db, ids[obs])); got != want {
			t.Errorf("NIRI %s: %s, want %s", obs, got, want)
		}
	}
}

// Every rule of every set, in both forms, is SQL the server accepts (the tests with data
// run the rules of the instruments they have; this one plans them all).
func TestEveryRuleIsValidSQLInBothForms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	rs, err := Load(ctx, db, "") // plans every rule in both forms
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "EXPLAIN "+rs.applicableSQL(), []int64{1}); err != nil {
		t.Errorf("which rules apply: %v", err)
	}
}

// GMOS darks serve nod-and-shuffle science taken before 2020: the same nod count and
// pixels, exposure within 50 s, the 15 nearest; not a frame without nod-and-shuffle, nor
// one of 2020.
func TestGMOSNodAndShuffleDarks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	h := time.Hour
	dark := func(name string, at time.Duration) frame {
		return spectrum(name).with(func(f *frame) { f.obstype, f.class, f.object, f.at = "DARK", "dayCal", "Dark", at })
	}
	ids := insert(t, db, spectrum("NS").with(func(f *frame) { f.at = -300 * 24 * h }),
		spectrum("PLAIN").with(func(f *frame) { f.at = -300*24*h + h }),
		spectrum("NS2020").with(func(f *frame) { f.at = 0 }),
		dark("D1", -300*24*h-2*h), dark("D2", -300*24*h+5*h), dark("LONG", -300*24*h+3*h), dark("OTHERNOD", -300*24*h+4*h))
	for _, q := range []struct {
		sql string
		id  int64
	}{
		{`UPDATE gmos SET nodandshuffle = true, nod_count = 20, nod_pixels = 1536 WHERE header_id <> $1`, 0},
		{`UPDATE header SET exposure_time = 900 WHERE id <> $1`, 0},
		{`UPDATE header SET exposure_time = 1000 WHERE id = $1`, ids["LONG"]},
		{`UPDATE gmos SET nodandshuffle = false, nod_count = NULL, nod_pixels = NULL WHERE header_id = $1`, ids["PLAIN"]},
		{`UPDATE gmos SET nod_count = 10 WHERE header_id = $1`, ids["OTHERNOD"]},
	} {
		if _, err := db.Exec(ctx, q.sql, q.id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range sortedIDs(ids) {
		recompute(t, db, id)
	}
	if got := cache(t, db, ids["NS"])["dark"]; got != "D1 D2" {
		t.Errorf("nod-and-shuffle science of 2019: darks %q, want D1 D2 (nearest first; not the 1000 s one, not another nod count)", got)
	}
	for _, name := range []string{"PLAIN", "NS2020"} {
		if got := cache(t, db, ids[name])["dark"]; got != "" {
			t.Errorf("%s: darks %q, want none", name, got)
		}
	}
}

// Rules that name a column the database lacks (an archive older than the rules) are found
// by Load before any work, the rule and the column named: a descriptor, and a column a
// conditional match reads (found by planning). The database of db init passes.
func TestLoadNamesARuleThatDoesNotFit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	if _, err := Load(ctx, db, ""); err != nil {
		t.Fatalf("a fresh database: %v", err)
	}
	if _, err := db.Exec(ctx, `ALTER TABLE gmos DROP COLUMN nod_pixels`); err != nil {
		t.Fatal(err)
	}
	_, err := Load(ctx, db, "")
	if !errors.Is(err, ErrRules) || !strings.Contains(err.Error(), `gmos.yml: rule 5 (dark): unknown descriptor "nod_pixels"`) {
		t.Fatalf("without gmos.nod_pixels: %v; want ErrRules naming the file, the dark rule and the descriptor", err)
	}
	if _, err := db.Exec(ctx, `ALTER TABLE gmos ADD COLUMN nod_pixels integer; ALTER TABLE gmos DROP COLUMN prepared`); err != nil {
		t.Fatal(err)
	}
	_, err = Load(ctx, db, "")
	if !errors.Is(err, ErrRules) || !strings.Contains(err.Error(), "gmos.yml rule 1, processed (processed_bias, per observation)") ||
		!strings.Contains(err.Error(), "prepared") {
		t.Fatalf("without gmos.prepared: %v; want ErrRules naming the processed bias rule and the column", err)
	}
}
