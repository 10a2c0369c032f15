// Command rollcallbench measures agentctl rollcall over a large archive: the real binary
// checking every present diskfile (with 0.1% of the files gone, which it marks) against a
// find-based baseline that lists the disk and the database and compares the lists
// (find … | sort, psql … | sort, comm). It also reports the binary's peak memory at two
// sizes, to show it does not grow with the rows.
//
//	eval "$(scripts/pg.sh start)" && export TEST_DATABASE_URL && go run ./bench/rollcallbench
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/bench/internal/benchdb"
)

func main() {
	sizes := flag.String("files", "100000,1000000", "archive sizes to measure (files on disk and diskfile rows)")
	flag.Parse()
	if err := run(context.Background(), *sizes); err != nil {
		fmt.Fprintln(os.Stderr, "rollcallbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, sizes string) error {
	work, err := os.MkdirTemp("", "rollcallbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "agentctl")
	if out, err := exec.Command("go", "build", "-o", bin, "./agentctl").CombinedOutput(); err != nil {
		return fmt.Errorf("build agentctl (run from the repository root): %v\n%s", err, out)
	}
	fmt.Printf("| diskfiles | agentctl rollcall | rows/s | peak RSS | find + psql + sort + comm | rows/s | ratio |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		if err := measure(ctx, bin, work, n); err != nil {
			return err
		}
	}
	return nil
}

func measure(ctx context.Context, bin, work string, n int) error {
	db, err := benchdb.New(ctx)
	if err != nil {
		return err
	}
	defer db.Drop(ctx)
	root := filepath.Join(work, fmt.Sprintf("root%d", n))
	fmt.Fprintf(os.Stderr, "writing %d files...\n", n)
	perDir := 1000
	for i := 0; i < n; i++ {
		dir := filepath.Join(root, fmt.Sprintf("%04d", i/perDir))
		if i%perDir == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		if i%1000 == 999 {
			continue // 0.1% gone from the disk
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("N%07d.fits", i)))
		if err != nil {
			return err
		}
		f.Close()
	}
	defer os.RemoveAll(root)
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`
		INSERT INTO file (name) SELECT 'N' || lpad(i::text, 7, '0') || '.fits' FROM generate_series(0, %d) i;
		INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5, data_size, data_md5, compressed, lastmod)
		SELECT f.id, f.name, lpad((substr(f.name, 2, 7)::int / 1000)::text, 4, '0'), true, true, 0, 'd41d8cd98f00b204e9800998ecf8427e', 0,
		       'd41d8cd98f00b204e9800998ecf8427e', false, now() - (f.id || ' seconds')::interval
		FROM file f; ANALYZE diskfile`, n-1)); err != nil {
		return err
	}
	exec.Command("sync").Run()

	// Baseline first (read-only), then ours (marks the missing).
	start := time.Now()
	script := `cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort > "$2/disk" &&
		psql -XAt -d "$3" -c "SELECT path || '/' || filename FROM diskfile WHERE present" | LC_ALL=C sort > "$2/db" &&
		LC_ALL=C comm -13 "$2/disk" "$2/db" | wc -l`
	out, err := exec.Command("sh", "-c", script, "sh", root, work, db.URL).Output()
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	base := time.Since(start)
	baseMissing, _ := strconv.Atoi(strings.TrimSpace(string(out)))

	start = time.Now()
	cmd := exec.Command(bin, "rollcall", "--storage-root", root, "--json")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+db.URL)
	cmd.Stderr = os.Stderr
	res, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("agentctl rollcall: %w\n%s", err, res)
	}
	ours := time.Since(start)
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
	var marked int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM diskfile WHERE NOT present`).Scan(&marked); err != nil {
		return err
	}
	if marked != n/1000 || baseMissing != n/1000 {
		return fmt.Errorf("rollcall marked %d, baseline found %d missing; want %d", marked, baseMissing, n/1000)
	}
	fmt.Printf("| %d | %.2f s | %.0f | %.1f MiB | %.2f s | %.0f | %.2f× |\n", n, ours.Seconds(), float64(n)/ours.Seconds(),
		float64(rss)/1024, base.Seconds(), float64(n)/base.Seconds(), base.Seconds()/ours.Seconds())
	return nil
}
