// Command calcachebench measures the calibration cache: the bulk rebuild (agentctl calcache
// rebuild) of every observation, and the per-item service (agentd --queue calcache, one
// worker per CPU) in observations per second, on header rows generated straight into a
// scratch database (TEST_DATABASE_URL's cluster), then vacuumed.
//
// The data: two instruments (GMOS-N, GMOS-S), -nights nights each (default 1826: five
// years). Per night and instrument: 60 biases (binnings 1x1 and 2x2 × read speeds slow and
// fast, 15 each), 24 flats (4 filters × 2 binnings, imaging, 3 each) and 12 twilight flats, 16
// arcs (2 gratings × 2 central wavelengths × 2 binnings, 2 each), 10 spectroscopic flats and
// 150 science frames (100 images in 4 filters, 50 long-slit spectra in 2 gratings × 2
// central wavelengths), 2 % of everything qa_state Fail, 1 % engineering: 272 headers per
// night and instrument, 993,344 in all with the default nights.
//
//	go run ./bench/calcachebench [-nights 1826] [-items 4000]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/bench/internal/benchdb"
	"github.com/fitsarchive/agentd/internal/calcache"
	"github.com/fitsarchive/agentd/queue"
)

func main() {
	nights := flag.Int("nights", 1826, "nights per instrument")
	items := flag.Int("items", 4000, "observations the per-item service recomputes")
	keep := flag.Bool("keep", false, "keep the database (print its name) instead of dropping it")
	workers := flag.Int("workers", 0, "bulk rebuild: batches side by side (0: the CPUs)")
	batch := flag.Int("batch", 0, "bulk rebuild: observations per batch (0: calcache.DefaultBatch)")
	generateOnly := flag.Bool("generate-only", false, "generate the data and stop (with -keep: a database to study)")
	skipBulk := flag.Bool("skip-bulk", false, "measure the per-item service only")
	flag.Parse()
	if err := run(context.Background(), *nights, *items, *keep || *generateOnly, *generateOnly, *skipBulk, calcache.RebuildOptions{Workers: *workers, Batch: *batch}); err != nil {
		fmt.Fprintln(os.Stderr, "calcachebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, nights, items int, keep, generateOnly, skipBulk bool, opt calcache.RebuildOptions) error {
	bdb, err := benchdb.New(ctx)
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "database", bdb.Name)
	} else {
		defer bdb.Drop(ctx)
	}
	cfg, err := pgxpool.ParseConfig(bdb.URL)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(runtime.NumCPU() + 4)
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	start := time.Now()
	n, err := generate(ctx, db, nights)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generated %d headers in %.0f s\n", n, time.Since(start).Seconds())
	if generateOnly {
		return nil
	}

	rs, err := calcache.Load(ctx, db, "")
	if err != nil {
		return err
	}
	// Per item: a sample of science observations spread over the years, through the real
	// worker pool, one worker per CPU.
	if _, err := db.Exec(ctx, `INSERT INTO calcachequeue (obs_hid, filename, sortkey)
		SELECT h.id, d.filename, d.filename FROM header h JOIN diskfile d ON d.id = h.diskfile_id
		WHERE h.observation_class = 'science' ORDER BY h.id % 997, h.id LIMIT $1`, items); err != nil {
		return err
	}
	pool := queue.NewPool(queue.PoolConfig{
		DB: db, Owner: "00000000-0000-0000-0000-00000000b0b0", Holder: "bench", Lease: time.Minute, Poll: 5 * time.Millisecond,
		Empty: true, Logger: slog.New(slog.DiscardHandler),
		Queues: []queue.Workers{{Spec: queue.Calcache(), Count: runtime.NumCPU(), Handler: (&calcache.Worker{DB: db, Rules: rs}).Handle}},
	})
	start = time.Now()
	if err := pool.Run(ctx); err != nil {
		return err
	}
	perItem := time.Since(start)

	if skipBulk {
		fmt.Printf("per item (agentd's worker pool, %d workers): %d observations in %.1f s, %.0f observations/s\n",
			runtime.NumCPU(), items, perItem.Seconds(), float64(items)/perItem.Seconds())
		return nil
	}
	if _, err := db.Exec(ctx, `VACUUM ANALYZE calcache`); err != nil {
		return err
	}
	var done calcache.Rebuilt
	start = time.Now()
	opt.Progress = func(r calcache.Rebuilt) {
		if r.Observations/100000 != done.Observations/100000 {
			fmt.Fprintf(os.Stderr, "  %d / %d observations, %.0f s\n", r.Observations, r.Total, time.Since(start).Seconds())
		}
		done = r
	}
	sum, err := rs.Rebuild(ctx, db, opt)
	if err != nil {
		return err
	}
	bulk := time.Since(start)
	fmt.Printf("%d headers (%d nights × 2 instruments); PostgreSQL %s; %d CPUs\n\n", n, nights, benchdb.ServerVersion(ctx, db), runtime.NumCPU())
	fmt.Printf("| what | observations | seconds | observations/s | calcache rows |\n|---|---:|---:|---:|---:|\n")
	fmt.Printf("| per item (agentd's worker pool, %d workers) | %d | %.1f | %.0f | |\n", runtime.NumCPU(), items, perItem.Seconds(), float64(items)/perItem.Seconds())
	fmt.Printf("| bulk rebuild (every header) | %d | %.1f | %.0f | %d |\n", sum.Observations, bulk.Seconds(), float64(sum.Observations)/bulk.Seconds(), sum.Rows)
	fmt.Printf("\nbulk: %d (observation, rule) pairs left to the per-observation search\n", sum.OneByOne)
	return nil
}

// generate writes the headers (and their file, diskfile and gmos rows) night by night.
func generate(ctx context.Context, db *pgxpool.Pool, nights int) (int64, error) {
	var total int64
	for _, inst := range []string{"GMOS-N", "GMOS-S"} {
		site := inst[len(inst)-1:]
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, generateSQL, inst, site, nights)
			if err == nil {
				total += tag.RowsAffected()
			}
			return err
		})
		if err != nil {
			return total, fmt.Errorf("generate %s: %w", inst, err)
		}
	}
	// Vacuumed as autovacuum keeps a live archive's tables: a million rows just written
	// without their hint bits and visibility map make every search several times slower
	// (a twilight-flat search, EXPLAIN ANALYZE: 24 ms before, 8 ms after).
	if _, err := db.Exec(ctx, `VACUUM (ANALYZE) file, diskfile, header, gmos`); err != nil {
		return total, err
	}
	return total, nil
}

// generateSQL makes one instrument's frames: $1 instrument, $2 site letter, $3 nights. Each
// frame is a row of kinds (obstype, class, object, spectroscopy, filter, grating, cw,
// binning, read speed, count per night), numbered within its night.
const generateSQL = `
WITH kinds(obstype, class, object, spect, filter, grating, cw, xbin, speed, per) AS (VALUES
	('BIAS', 'dayCal', 'Bias', false, 'open1-6&open2-8', 'MIRROR', NULL::numeric, 1, 'slow', 15),
	('BIAS', 'dayCal', 'Bias', false, 'open1-6&open2-8', 'MIRROR', NULL, 2, 'slow', 15),
	('BIAS', 'dayCal', 'Bias', false, 'open1-6&open2-8', 'MIRROR', NULL, 1, 'fast', 15),
	('BIAS', 'dayCal', 'Bias', false, 'open1-6&open2-8', 'MIRROR', NULL, 2, 'fast', 15),
	('FLAT', 'dayCal', 'GCALflat', false, 'g_G0301&open2-8', 'MIRROR', NULL, 2, 'slow', 3),
	('FLAT', 'dayCal', 'GCALflat', false, 'r_G0303&open2-8', 'MIRROR', NULL, 2, 'slow', 3),
	('FLAT', 'dayCal', 'GCALflat', false, 'i_G0302&open2-8', 'MIRROR', NULL, 2, 'slow', 3),
	('FLAT', 'dayCal', 'GCALflat', false, 'z_G0304&open2-8', 'MIRROR', NULL, 2, 'slow', 3),
	('FLAT', 'dayCal', 'GCALflat', false, 'g_G0301&open2-8', 'MIRROR', NULL, 1, 'slow', 3),
	('FLAT', 'dayCal', 'GCALflat', false, 'r_G0303&open2-8', 'MIRROR', NULL, 1, 'slow', 3),
	('FLAT', 'dayCal', 'GCALflat', false, 'i_G0302&open2-8', 'MIRROR', NULL, 1, 'slow', 3),
	('FLAT', 'dayCal', 'GCALflat', false, 'z_G0304&open2-8', 'MIRROR', NULL, 1, 'slow', 3),
	('OBJECT', 'dayCal', 'Twilight', false, 'g_G0301&open2-8', 'MIRROR', NULL, 2, 'slow', 3),
	('OBJECT', 'dayCal', 'Twilight', false, 'r_G0303&open2-8', 'MIRROR', NULL, 2, 'slow', 3),
	('OBJECT', 'dayCal', 'Twilight', false, 'i_G0302&open2-8', 'MIRROR', NULL, 2, 'slow', 3),
	('OBJECT', 'dayCal', 'Twilight', false, 'z_G0304&open2-8', 'MIRROR', NULL, 2, 'slow', 3),
	('ARC', 'dayCal', 'CuAr', true, 'open1-6&open2-8', 'B600+_G5307', 0.52, 2, 'slow', 2),
	('ARC', 'dayCal', 'CuAr', true, 'open1-6&open2-8', 'B600+_G5307', 0.60, 2, 'slow', 2),
	('ARC', 'dayCal', 'CuAr', true, 'open1-6&open2-8', 'R400+_G5305', 0.70, 2, 'slow', 2),
	('ARC', 'dayCal', 'CuAr', true, 'open1-6&open2-8', 'R400+_G5305', 0.80, 2, 'slow', 2),
	('ARC', 'dayCal', 'CuAr', true, 'open1-6&open2-8', 'B600+_G5307', 0.52, 1, 'slow', 2),
	('ARC', 'dayCal', 'CuAr', true, 'open1-6&open2-8', 'B600+_G5307', 0.60, 1, 'slow', 2),
	('ARC', 'dayCal', 'CuAr', true, 'open1-6&open2-8', 'R400+_G5305', 0.70, 1, 'slow', 2),
	('ARC', 'dayCal', 'CuAr', true, 'open1-6&open2-8', 'R400+_G5305', 0.80, 1, 'slow', 2),
	('FLAT', 'partnerCal', 'GCALflat', true, 'open1-6&open2-8', 'B600+_G5307', 0.52, 2, 'slow', 3),
	('FLAT', 'partnerCal', 'GCALflat', true, 'open1-6&open2-8', 'R400+_G5305', 0.70, 2, 'slow', 3),
	('FLAT', 'partnerCal', 'GCALflat', true, 'open1-6&open2-8', 'B600+_G5307', 0.60, 2, 'slow', 2),
	('FLAT', 'partnerCal', 'GCALflat', true, 'open1-6&open2-8', 'R400+_G5305', 0.80, 2, 'slow', 2),
	('OBJECT', 'science', 'NGC 1068', false, 'g_G0301&open2-8', 'MIRROR', NULL, 2, 'slow', 25),
	('OBJECT', 'science', 'NGC 1068', false, 'r_G0303&open2-8', 'MIRROR', NULL, 2, 'slow', 25),
	('OBJECT', 'science', 'M 31', false, 'i_G0302&open2-8', 'MIRROR', NULL, 1, 'slow', 25),
	('OBJECT', 'science', 'M 31', false, 'z_G0304&open2-8', 'MIRROR', NULL, 1, 'fast', 25),
	('OBJECT', 'science', 'M 87', true, 'open1-6&open2-8', 'B600+_G5307', 0.52, 2, 'slow', 13),
	('OBJECT', 'science', 'M 87', true, 'open1-6&open2-8', 'B600+_G5307', 0.60, 2, 'slow', 12),
	('OBJECT', 'science', 'M 87', true, 'open1-6&open2-8', 'R400+_G5305', 0.70, 2, 'slow', 13),
	('OBJECT', 'science', 'M 87', true, 'open1-6&open2-8', 'R400+_G5305', 0.80, 2, 'slow', 12)),
frames AS (
	SELECT n, k.*, row_number() OVER (PARTITION BY n ORDER BY k.obstype, k.class, k.filter, k.grating, k.cw, k.xbin, k.speed, i) AS num,
		'2020-01-01'::timestamp + n * interval '1 day' + random() * interval '10 hours' AS ut
	FROM generate_series(0, $3 - 1) n CROSS JOIN kinds k CROSS JOIN LATERAL generate_series(1, k.per) i),
named AS (
	SELECT f.*, $2 || to_char('2020-01-01'::date + n, 'YYYYMMDD') || 'S' || lpad(num::text, 4, '0') || '.fits' AS name FROM frames f),
fi AS (INSERT INTO file (name) SELECT name FROM named RETURNING id, name),
df AS (INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5, data_size, data_md5, compressed, lastmod, isfits)
	SELECT id, name, '', true, true, 1, 'x', 1, 'x', false, now(), true FROM fi RETURNING id, filename),
h AS (INSERT INTO header (diskfile_id, instrument, telescope, observation_type, observation_class, object, reduction, qa_state,
		spectroscopy, mode, central_wavelength, ut_datetime, ut_datetime_secs, detector_binning, detector_roi_setting,
		engineering, processing, data_label)
	SELECT df.id, $1, (CASE $2 WHEN 'N' THEN 'Gemini-North' ELSE 'Gemini-South' END)::telescope, nm.obstype::obstype, nm.class::obsclass,
		nm.object, 'RAW', CASE WHEN random() < 0.02 THEN 'Fail' ELSE 'Pass' END::qa_state, nm.spect,
		CASE WHEN nm.spect THEN 'spectroscopy' ELSE 'imaging' END::mode, nm.cw, nm.ut,
		extract(epoch FROM nm.ut - '2000-01-01')::bigint, nm.xbin || 'x' || nm.xbin, 'Full Frame', random() < 0.01, 'Raw', df.filename
	FROM df JOIN named nm ON nm.name = df.filename RETURNING id, data_label)
INSERT INTO gmos (header_id, disperser, filter_name, detector_x_bin, detector_y_bin, amp_read_area, read_speed_setting,
	gain_setting, focal_plane_mask)
SELECT h.id, nm.grating, nm.filter, nm.xbin, nm.xbin, 'EEV1, EEV2, EEV3', nm.speed::gmos_read_speed_setting, 'low',
	CASE WHEN nm.spect THEN '1.0arcsec' ELSE 'Imaging' END
FROM h JOIN named nm ON nm.name = h.data_label`
