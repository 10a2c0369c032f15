// Command transferbench measures agentctl transfer's engine (package pgsync) against what
// operators did by hand: pg_dump -Fc -t … | pg_restore --data-only of the same tables, on the
// same machine. The source has the 2020 shapes (usagelog.id and every usagelog_id integer),
// the targets the current archive schema (bigint, with its indexes and foreign keys), so the
// transfer maps columns while the baseline lets COPY convert. A second comparison reads the
// same tables from a pg_dump -Fc backup file: agentctl transfer --from FILE against
// pg_restore --data-only FILE (-backup=false skips it). Both sides run interleaved; every
// run is printed as a Markdown table row, with the medians.
//
//	eval "$(scripts/pg.sh start)" && export TEST_DATABASE_URL && go run ./bench/transferbench
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/bench/internal/benchdb"
	"github.com/fitsarchive/agentd/pgsync"
)

func main() {
	usage := flag.Int("usagelog", 3000000, "usagelog rows in the source (querylog gets half as many)")
	rounds := flag.Int("rounds", 5, "runs of each side, interleaved (the medians are compared)")
	flag.Parse()
	if err := run(context.Background(), *usage, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "transferbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, usage, rounds int) error {
	src, err := benchdb.NewEmpty(ctx)
	if err != nil {
		return err
	}
	defer src.Drop(ctx)
	ddl, err := os.ReadFile("pgsync/testdata/fs2020.sql")
	if err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	sconn, err := pgx.Connect(ctx, src.URL)
	if err != nil {
		return err
	}
	defer sconn.Close(ctx)
	if _, err := sconn.Exec(ctx, string(ddl)); err != nil {
		return fmt.Errorf("load the 2020 schema: %w", err)
	}
	fmt.Fprintf(os.Stderr, "filling the source: %d usagelog, %d querylog rows...\n", usage, usage/2)
	if _, err := sconn.Exec(ctx, fmt.Sprintf(`SET search_path = public;
		INSERT INTO usagelog (utdatetime, ip_address, user_agent, referer, method, uri, this, bytes, status)
		SELECT now() - i * interval '1 second', '10.0.' || (i %% 256) || '.' || (i %% 97), 'Mozilla/5.0 (X11; Linux x86_64)',
		       'https://archive.gemini.edu/searchform', 'GET', '/searchform/GMOS/20200101-' || i, 'searchform', i * 13, 200
		FROM generate_series(1, %d) i;
		INSERT INTO querylog (usagelog_id, summarytype, selection, numresults, numcalresults, query_started, query_completed)
		SELECT 2 * i, 'searchresults', 'GMOS-N 20200101', i %% 500, i %% 50, now(), now()
		FROM generate_series(1, %d) i;
		ANALYZE;`, usage, usage/2)); err != nil {
		return err
	}

	ours, err := benchdb.New(ctx)
	if err != nil {
		return err
	}
	defer ours.Drop(ctx)
	base, err := benchdb.New(ctx)
	if err != nil {
		return err
	}
	defer base.Drop(ctx)

	rows := float64(usage + usage/2)
	sv, _ := pgx.Connect(ctx, src.URL)
	fmt.Printf("%d usagelog + %d querylog rows (2020 shapes → current schema), %d interleaved runs; PostgreSQL %s\n\n",
		usage, usage/2, rounds, benchdb.ServerVersion(ctx, sv))
	sv.Close(ctx)

	fmt.Printf("From the live database:\n\n")
	err = compare(rounds, rows, "agentctl transfer", "pg_dump -Fc \\| pg_restore --data-only",
		func() (time.Duration, error) {
			return runOurs(ctx, ours.URL, func() (pgsync.Source, error) { return pgsync.OpenLive(ctx, src.URL) })
		},
		func() (time.Duration, error) { return runBaseline(ctx, src.URL, base.URL) })
	if err != nil || !*backup {
		return err
	}

	// The nightly backup: the same tables from one -Fc file (made once, not timed).
	file := filepath.Join(os.TempDir(), fmt.Sprintf("transferbench-%d.pg_dump", os.Getpid()))
	defer os.Remove(file)
	if out, err := exec.CommandContext(ctx, "pg_dump", "-Fc", "-t", "usagelog", "-t", "querylog", "-f", file, src.URL).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_dump the backup: %v: %s", err, out)
	}
	fmt.Printf("\nFrom a pg_dump -Fc backup of it (staged in temporary tables, then written):\n\n")
	return compare(rounds, rows, "agentctl transfer --from FILE", "pg_restore --data-only FILE",
		func() (time.Duration, error) {
			return runOurs(ctx, ours.URL, func() (pgsync.Source, error) { return pgsync.OpenDump(ctx, file, nil) })
		},
		func() (time.Duration, error) { return runRestore(ctx, file, base.URL) })
}

// compare runs both sides interleaved, the order swapped every round so that a slow spell
// of the machine falls on both alike, prints every run and compares the medians.
func compare(rounds int, rows float64, oursName, baseName string, ours, base func() (time.Duration, error)) error {
	fmt.Printf("| run | %s | %s | ratio |\n|---:|---:|---:|---:|\n", oursName, baseName)
	var oursRuns, baseRuns []time.Duration
	for r := 0; r < rounds; r++ {
		var d, b time.Duration
		first := func() (err error) { d, err = ours(); return wrap("ours", err) }
		second := func() (err error) { b, err = base(); return wrap("baseline", err) }
		if r%2 == 1 {
			first, second = second, first
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		oursRuns, baseRuns = append(oursRuns, d), append(baseRuns, b)
		fmt.Printf("| %d | %.1f s (%.0f rows/s) | %.1f s (%.0f rows/s) | %.2f× |\n", r+1, d.Seconds(), rows/d.Seconds(),
			b.Seconds(), rows/b.Seconds(), b.Seconds()/d.Seconds())
	}
	mo, mb := median(oursRuns), median(baseRuns)
	fmt.Printf("| **median** | **%.1f s** (%.0f rows/s) | **%.1f s** (%.0f rows/s) | **%.2f×** |\n", mo.Seconds(), rows/mo.Seconds(),
		mb.Seconds(), rows/mb.Seconds(), mb.Seconds()/mo.Seconds())
	return nil
}

func wrap(side string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", side, err)
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runRestore loads the backup's two tables with pg_restore, in foreign-key order.
func runRestore(ctx context.Context, file, dstURL string) (time.Duration, error) {
	dst, err := pgx.Connect(ctx, dstURL)
	if err != nil {
		return 0, err
	}
	defer dst.Close(ctx)
	if _, err := dst.Exec(ctx, `TRUNCATE usagelog, querylog CASCADE; CHECKPOINT`); err != nil {
		return 0, err
	}
	start := time.Now()
	for _, table := range []string{"usagelog", "querylog"} {
		cmd := exec.CommandContext(ctx, "pg_restore", "--data-only", "--exit-on-error", "-t", table, "-d", dstURL, file)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("pg_restore %s: %w", table, err)
		}
	}
	return time.Since(start), nil
}

var (
	backup          = flag.Bool("backup", true, "also compare both sides reading a pg_dump -Fc backup file")
	verbose         = flag.Bool("v", false, "print the transfer's phases with their times")
	disableTriggers = flag.Bool("disable-triggers", false, "baseline: one dump of both tables restored with --disable-triggers (no foreign-key checks)")
)

func runOurs(ctx context.Context, dstURL string, open func() (pgsync.Source, error)) (time.Duration, error) {
	dst, err := pgx.Connect(ctx, dstURL)
	if err != nil {
		return 0, err
	}
	defer dst.Close(ctx)
	if _, err := dst.Exec(ctx, `TRUNCATE usagelog, querylog CASCADE; CHECKPOINT`); err != nil {
		return 0, err
	}
	start := time.Now()
	src, err := open()
	if err != nil {
		return 0, err
	}
	defer src.Close(ctx)
	_, err = pgsync.Transfer(ctx, src, dst, pgsync.Options{Request: pgsync.Request{
		Tables: []string{"usagelog", "querylog"}, Map: pgsync.DefaultMap(), Mode: pgsync.ModeEmpty},
		Progress: func(e pgsync.Event) {
			if *verbose && (e.Start || e.Done) {
				fmt.Fprintf(os.Stderr, "%6.2f s  %s %s %d done=%v\n", time.Since(start).Seconds(), e.Phase, e.Table, e.Rows, e.Done)
			}
		}})
	return time.Since(start), err
}

func runBaseline(ctx context.Context, srcURL, dstURL string) (time.Duration, error) {
	dst, err := pgx.Connect(ctx, dstURL)
	if err != nil {
		return 0, err
	}
	defer dst.Close(ctx)
	if _, err := dst.Exec(ctx, `TRUNCATE usagelog, querylog CASCADE; CHECKPOINT`); err != nil {
		return 0, err
	}
	start := time.Now()
	// One table at a time in foreign-key order, as operators did it: a single dump of both
	// restores querylog first and fails on its foreign key (unless --disable-triggers,
	// which skips the checks; -disable-triggers measures that variant).
	script := `pg_dump -Fc -t usagelog "$1" | pg_restore --data-only --exit-on-error -d "$2" &&
		pg_dump -Fc -t querylog "$1" | pg_restore --data-only --exit-on-error -d "$2"`
	if *disableTriggers {
		script = `pg_dump -Fc -t usagelog -t querylog "$1" | pg_restore --data-only --disable-triggers --exit-on-error -d "$2"`
	}
	sh := exec.CommandContext(ctx, "sh", "-c", script, "sh", srcURL, dstURL)
	sh.Stderr = os.Stderr
	if err := sh.Run(); err != nil {
		return 0, err
	}
	d := time.Since(start)
	var n int64
	if err := dst.QueryRow(ctx, `SELECT (SELECT count(*) FROM usagelog) + (SELECT count(*) FROM querylog)`).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("pg_restore loaded nothing")
	}
	return d, nil
}
