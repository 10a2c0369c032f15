// Command ingestbench measures a rebuild's ingest: the real agentd binary with --fast-rebuild
// over a tree of FITS files of 10 MB, plain and .bz2, side by side with the command-line tools
// doing the least work that reads the same data: md5sum of each plain file, and
// bzip2 -dc | md5sum of each compressed one, with as many of them running at once as agentd
// has workers. It checks that agentd recorded the md5s the tools printed, then prints a
// Markdown table for docs/benchmarks.md.
//
//	eval "$(scripts/pg.sh start)" && export TEST_DATABASE_URL && go run ./bench/ingestbench
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/bench/internal/benchdb"
	"github.com/fitsarchive/agentd/internal/fits"
)

type options struct {
	files, mb, workers, rounds int
	dir                        string
}

func main() {
	var o options
	flag.IntVar(&o.files, "files", 200, "files in the tree, half of them .bz2")
	flag.IntVar(&o.mb, "mb", 10, "size of each file before compression, in MB")
	flag.IntVar(&o.workers, "workers", 2, "agentd workers, and baseline commands running at once")
	flag.IntVar(&o.rounds, "rounds", 2, "runs of each side (best kept)")
	flag.StringVar(&o.dir, "dir", "", "keep the generated tree here and reuse it on the next run (default: a temporary directory)")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	bdb, err := benchdb.New(ctx)
	if err != nil {
		return err
	}
	defer bdb.Drop(ctx)
	db, err := pgxpool.New(ctx, bdb.URL)
	if err != nil {
		return err
	}
	defer db.Close()

	work, err := os.MkdirTemp("", "ingestbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "./agentd", "./agentctl")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build agentd and agentctl (run from the repository root): %w", err)
	}

	root := o.dir
	if root == "" {
		root = filepath.Join(work, "tree")
	}
	kinds := []kind{
		{name: "plain", dir: "plain", baseline: "md5sum"},
		{name: ".bz2", dir: "bz2", baseline: "bzip2 -dc | md5sum"},
	}
	for _, k := range kinds {
		if err := generate(filepath.Join(root, k.dir), o.files/2, o.mb, k.dir == "bz2"); err != nil {
			return err
		}
	}

	fmt.Printf("%d files of %d MB (half .bz2), %d workers, best of %d runs; PostgreSQL %s\n\n",
		o.files, o.mb, o.workers, o.rounds, benchdb.ServerVersion(ctx, db))
	fmt.Printf("| files | agentd --fast-rebuild | baseline | baseline time | ratio |\n|---|---:|---|---:|---:|\n")
	for _, k := range kinds {
		dir := filepath.Join(root, k.dir)
		names, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil {
			return err
		}
		if err := warm(names); err != nil {
			return err
		}
		var bestOurs, bestBase time.Duration
		for r := 0; r < o.rounds; r++ {
			sums, base, err := baseline(ctx, names, k, o.workers)
			if err != nil {
				return fmt.Errorf("baseline %s: %w", k.baseline, err)
			}
			ours, err := ingest(ctx, db, bdb.URL, bin, root, k.dir, work, o.workers)
			if err != nil {
				return fmt.Errorf("agentd on %s files: %w", k.name, err)
			}
			if err := check(ctx, db, sums); err != nil {
				return err
			}
			if r == 0 || ours < bestOurs {
				bestOurs = ours
			}
			if r == 0 || base < bestBase {
				bestBase = base
			}
		}
		fmt.Printf("| %d × %s | %.2f s | `%s` | %.2f s | %.2f× |\n", len(names), k.name,
			bestOurs.Seconds(), k.baseline, bestBase.Seconds(), bestBase.Seconds()/bestOurs.Seconds())
	}
	return nil
}

type kind struct{ name, dir, baseline string }

// generate writes n FITS files of about mb MB into dir (skipping it when it already holds
// them): a primary header and one 16-bit image of sky-like noise, which bzip2 shrinks to
// about half, as it does real frames.
func generate(dir string, n, mb int, compress bool) error {
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) == n {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "writing %d files of %d MB into %s...\n", n, mb, dir)
	side := 1
	for 2*(side+1)*(side+1) <= mb*1000*1000 {
		side++
	}
	old := time.Now().Add(-time.Hour) // older than the ingest's deferral window
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() { // owner: generate; exits when jobs is closed
			defer wg.Done()
			for i := range jobs {
				errs <- writeFrame(dir, i, side, compress, old)
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func writeFrame(dir string, i, side int, compress bool, mtime time.Time) error {
	name := fmt.Sprintf("N20201001S%04d.fits", i+1)
	if compress {
		name = fmt.Sprintf("N20201002S%04d.fits", i+1)
	}
	rng := rand.New(rand.NewPCG(uint64(i), 1))
	data := make([]byte, 2*side*side)
	for p := 0; p < side*side; p++ {
		binary.BigEndian.PutUint16(data[2*p:], uint16(1000+rng.NormFloat64()*12))
	}
	var buf bytes.Buffer
	cards := []fits.Card{
		{Keyword: "SIMPLE", Value: true},
		{Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(2)},
		{Keyword: "NAXIS1", Value: int64(side)},
		{Keyword: "NAXIS2", Value: int64(side)},
		{Keyword: "TELESCOP", Value: "Gemini-North"},
		{Keyword: "INSTRUME", Value: "GMOS-N"},
		{Keyword: "OBSTYPE", Value: "OBJECT"},
		{Keyword: "DATE-OBS", Value: "2020-10-01"},
	}
	if err := fits.WriteHDU(&buf, cards, data); err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	if compress {
		cmd := exec.Command("bzip2", "-9", "-c")
		cmd.Stdin = &buf
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("bzip2 (apt-get install bzip2): %w", err)
		}
		buf = out
		path += ".bz2"
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Chtimes(path, mtime, mtime)
}

// warm reads every file once so both sides find them in the page cache.
func warm(names []string) error {
	for _, n := range names {
		if _, err := os.ReadFile(n); err != nil {
			return err
		}
	}
	return nil
}

// baseline runs the tool on every file, workers at a time, and returns the md5 each printed.
func baseline(ctx context.Context, names []string, k kind, workers int) (map[string]string, time.Duration, error) {
	sums := make(map[string]string, len(names))
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan string)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() { // owner: baseline; exits when jobs is closed
			defer wg.Done()
			for name := range jobs {
				var cmd *exec.Cmd
				if k.dir == "bz2" {
					cmd = exec.CommandContext(ctx, "sh", "-c", `bzip2 -dc "$1" | md5sum`, "sh", name)
				} else {
					cmd = exec.CommandContext(ctx, "md5sum", name)
				}
				out, err := cmd.Output()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if f := strings.Fields(string(out)); len(f) > 0 {
					sums[filepath.Base(name)] = f[0]
				}
				mu.Unlock()
			}
		}()
	}
	for _, n := range names {
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	return sums, time.Since(start), firstErr
}

// ingest empties the archive, fills the queue (not timed) and times agentd until the queue
// is empty.
func ingest(ctx context.Context, db *pgxpool.Pool, url, bin, root, sub, work string, workers int) (time.Duration, error) {
	if _, err := db.Exec(ctx, `TRUNCATE file, diskfile, header, preview, ingestqueue, calcachequeue, calcache CASCADE`); err != nil {
		return 0, err
	}
	enq := exec.CommandContext(ctx, filepath.Join(bin, "agentctl"), "enqueue", "ingest",
		"--database-url", url, "--storage-root", root, "--path", sub)
	enq.Stderr = os.Stderr
	if err := enq.Run(); err != nil {
		return 0, fmt.Errorf("agentctl enqueue ingest: %w", err)
	}
	state := filepath.Join(work, "state")
	os.RemoveAll(state)
	if err := os.MkdirAll(state, 0o755); err != nil {
		return 0, err
	}
	agent := exec.CommandContext(ctx, filepath.Join(bin, "agentd"),
		"--database-url", url, "--storage-root", root, "--name", "bench",
		"--queue", fmt.Sprintf("ingest:%d", workers), "--empty", "--fast-rebuild",
		"--lock-dir", state, "--state", filepath.Join(state, "bench.db"),
		"--socket", filepath.Join(state, "bench.sock"), "--log-level", "warn")
	var stderr bytes.Buffer
	agent.Stderr = &stderr
	start := time.Now()
	if err := agent.Run(); err != nil {
		return 0, fmt.Errorf("%w: %s", err, lastLine(stderr.String()))
	}
	return time.Since(start), nil
}

// check compares the data md5 agentd recorded with the baseline's, file by file.
func check(ctx context.Context, db *pgxpool.Pool, sums map[string]string) error {
	rows, err := db.Query(ctx, `SELECT filename, data_md5 FROM diskfile WHERE present`)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, md5 string
		if err := rows.Scan(&name, &md5); err != nil {
			return err
		}
		if want := sums[name]; md5 != want {
			return fmt.Errorf("%s: agentd recorded data md5 %s, baseline printed %q", name, md5, want)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != len(sums) {
		return fmt.Errorf("agentd recorded %d files, the baseline read %d", n, len(sums))
	}
	return nil
}

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			last = t
		}
	}
	return last
}
