// Package rollcall finds the diskfiles the database says are present but that are no longer
// in storage, and marks them not present. Nothing undoes a wrong rollcall, so it is guarded:
// it refuses an empty or unmounted storage root, marks a file absent only when the file
// system says it does not exist (other errors are reported), and writes nothing when more
// than a set share of the checked files is missing. It never touches canonical and never
// sets present back.
package rollcall

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sys/unix"

	"github.com/fitsarchive/agentd/internal/ctxio"
)

var (
	// ErrBadRoot is returned when the storage root is missing, empty or lacks its sentinel.
	ErrBadRoot = errors.New("storage root refused")
	// ErrTooManyMissing is returned when more files are missing than allowed; nothing was
	// written.
	ErrTooManyMissing = errors.New("too many files missing")
)

// DefaultMaxMissing is the share of checked files (percent) that may be missing before the
// rollcall refuses to write.
const DefaultMaxMissing = 1.0

// Options say what to check.
type Options struct {
	Root       string
	Sentinel   string  // a file that must exist under Root ("" = only "not empty")
	Limit      int     // check at most this many (oldest lastmod first); 0 = all
	FilePre    string  // only filenames starting with this
	CheckMD5   bool    // also compare each present file's md5 (report only)
	MaxMissing float64 // percent; ≤ 0 means DefaultMaxMissing
	Force      bool    // write even above MaxMissing (--yes)
	DryRun     bool    // check and report, write nothing
	Workers    int     // files checked at once (default 4)
	// Progress, when set, hears of the files checked so far and the total to check.
	Progress func(checked, total int64)
}

// Problem is a file that could not be checked, or whose md5 differs.
type Problem struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Summary is what a rollcall found and did.
type Summary struct {
	Checked       int64     `json:"checked"`
	Missing       int64     `json:"missing"`
	Marked        int64     `json:"marked"` // set present=false
	Errors        int64     `json:"errors"`
	MD5Mismatches int64     `json:"md5_mismatches"`
	Problems      []Problem `json:"problems,omitempty"` // the first MaxProblems errors and mismatches
	MissingFirst  []string  `json:"missing_first,omitempty"`
	DryRun        bool      `json:"dry_run"`
	Seconds       float64   `json:"seconds"`
}

// MaxProblems bounds the problems and missing paths a summary lists (counts are complete).
const MaxProblems = 100

// CheckRoot refuses a storage root that is missing, not a directory, empty, or without its
// sentinel file: an unmounted file system looks exactly like every file gone.
func CheckRoot(root, sentinel string) error {
	if root == "" {
		return fmt.Errorf("%w: no storage root configured; give --storage-root or set storage_root in the config", ErrBadRoot)
	}
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRoot, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrBadRoot, root)
	}
	f, err := os.Open(root)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRoot, err)
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if len(names) == 0 {
		return fmt.Errorf("%w: %s is empty (not mounted?); nothing checked", ErrBadRoot, root)
	}
	if sentinel != "" {
		if _, err := os.Stat(filepath.Join(root, sentinel)); err != nil {
			return fmt.Errorf("%w: sentinel %s not found under %s (not mounted?); nothing checked", ErrBadRoot, sentinel, root)
		}
	}
	return nil
}

type row struct {
	id             int64
	path, filename string
	md5            string
}

type verdict struct {
	row
	missing  bool
	problem  string
	mismatch bool
}

// Run checks the present diskfiles and marks the missing ones not present.
func Run(ctx context.Context, db *pgxpool.Pool, opt Options) (Summary, error) {
	start := time.Now()
	sum := Summary{DryRun: opt.DryRun}
	if err := CheckRoot(opt.Root, opt.Sentinel); err != nil {
		return sum, err
	}
	root, err := os.OpenRoot(opt.Root)
	if err != nil {
		return sum, fmt.Errorf("%w: %v", ErrBadRoot, err)
	}
	defer root.Close()
	if opt.MaxMissing <= 0 {
		opt.MaxMissing = DefaultMaxMissing
	}
	if opt.Workers <= 0 {
		opt.Workers = 4
	}

	// The missing ids wait in a temporary table on their own connection: memory stays
	// constant however many there are, and nothing is written before the guard is passed.
	wconn, err := db.Acquire(ctx)
	if err != nil {
		return sum, fmt.Errorf("connect: %w", err)
	}
	defer wconn.Release()
	if _, err := wconn.Exec(ctx, `DROP TABLE IF EXISTS pg_temp.rollcall_missing;
		CREATE TEMP TABLE rollcall_missing (id integer PRIMARY KEY)`); err != nil {
		return sum, fmt.Errorf("create the list of missing files: %w", err)
	}
	defer wconn.Exec(context.Background(), `DROP TABLE IF EXISTS pg_temp.rollcall_missing`) //nolint:errcheck

	where := `WHERE present`
	args := []any{}
	if opt.FilePre != "" {
		args = append(args, escapeLike(opt.FilePre)+"%")
		where += fmt.Sprintf(` AND filename LIKE $%d`, len(args))
	}
	limit := ""
	if opt.Limit > 0 {
		limit = fmt.Sprintf(` LIMIT %d`, opt.Limit)
	}
	var total int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM diskfile `+where+limit+`) x`, args...).Scan(&total); err != nil {
		return sum, fmt.Errorf("count present diskfiles: %w", err)
	}
	rows, err := db.Query(ctx, `SELECT id, path, filename, file_md5 FROM diskfile `+where+` ORDER BY lastmod, id`+limit, args...)
	if err != nil {
		return sum, fmt.Errorf("read present diskfiles: %w", err)
	}

	// Rows stream from the query to the checkers in chunks; verdicts come back in any order.
	const chunk = 512
	todo := make(chan []row, 2*opt.Workers)
	verdicts := make(chan []verdict, 2*opt.Workers)
	var wg sync.WaitGroup
	for i := 0; i < opt.Workers; i++ {
		wg.Add(1)
		go func() { // owner: Run; ends when todo is closed
			defer wg.Done()
			for rs := range todo {
				vs := make([]verdict, len(rs))
				for i, r := range rs {
					vs[i] = check(ctx, root, opt, r)
				}
				verdicts <- vs
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() { // owner: Run; ends when the rows are read or ctx ends
		defer close(todo)
		defer rows.Close()
		rs := make([]row, 0, chunk)
		send := func() bool {
			select {
			case todo <- rs:
				rs = make([]row, 0, chunk)
				return true
			case <-ctx.Done():
				readErr <- ctx.Err()
				return false
			}
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.path, &r.filename, &r.md5); err != nil {
				readErr <- err
				return
			}
			if rs = append(rs, r); len(rs) == chunk && !send() {
				return
			}
		}
		if len(rs) > 0 && !send() {
			return
		}
		readErr <- rows.Err()
	}()
	go func() { wg.Wait(); close(verdicts) }() // owner: Run

	var batch [][]any
	var flushErr error
	flush := func() {
		if len(batch) == 0 || flushErr != nil {
			return
		}
		if _, err := wconn.Conn().CopyFrom(ctx, pgx.Identifier{"rollcall_missing"}, []string{"id"}, pgx.CopyFromRows(batch)); err != nil {
			flushErr = fmt.Errorf("note missing files: %w", err)
		}
		batch = batch[:0]
	}
	lastProgress := time.Now()
	for vs := range verdicts {
		for _, v := range vs {
			sum.Checked++
			full := filepath.Join(opt.Root, v.path, v.filename)
			switch {
			case v.missing:
				sum.Missing++
				if len(sum.MissingFirst) < MaxProblems {
					sum.MissingFirst = append(sum.MissingFirst, full)
				}
				batch = append(batch, []any{v.id})
				if len(batch) == 10000 {
					flush()
				}
			case v.problem != "":
				sum.Errors++
				if len(sum.Problems) < MaxProblems {
					sum.Problems = append(sum.Problems, Problem{Path: full, Error: v.problem})
				}
			case v.mismatch:
				sum.MD5Mismatches++
				if len(sum.Problems) < MaxProblems {
					sum.Problems = append(sum.Problems, Problem{Path: full, Error: "md5 differs from the database's file_md5"})
				}
			}
		}
		if opt.Progress != nil && time.Since(lastProgress) > 200*time.Millisecond {
			opt.Progress(sum.Checked, total)
			lastProgress = time.Now()
		}
	}
	flush()
	if err := <-readErr; err != nil {
		return sum, fmt.Errorf("read present diskfiles: %w", err)
	}
	if flushErr != nil {
		return sum, flushErr
	}
	if opt.Progress != nil {
		opt.Progress(sum.Checked, total)
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Checked > 0 && !opt.Force && float64(sum.Missing)*100 > opt.MaxMissing*float64(sum.Checked) {
		return sum, fmt.Errorf("%w: %d of %d checked files (%.1f%%) are missing, more than --max-missing %.1f%%; nothing was marked. Check the storage root, then give --yes to mark them",
			ErrTooManyMissing, sum.Missing, sum.Checked, 100*float64(sum.Missing)/float64(sum.Checked), opt.MaxMissing)
	}
	if opt.DryRun {
		return sum, nil
	}
	// Mark in batches, each its own transaction; present only ever goes to false.
	for {
		tag, err := wconn.Exec(ctx, `WITH b AS (
				DELETE FROM rollcall_missing WHERE id IN (SELECT id FROM rollcall_missing LIMIT 10000) RETURNING id)
			UPDATE diskfile d SET present = false FROM b WHERE d.id = b.id AND d.present`)
		if err != nil {
			return sum, fmt.Errorf("mark missing files not present (%d marked so far): %w", sum.Marked, err)
		}
		sum.Marked += tag.RowsAffected()
		var left bool
		if err := wconn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rollcall_missing)`).Scan(&left); err != nil {
			return sum, err
		}
		if !left {
			break
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

// check looks at one file through the storage root (no "..", no symlink out of it):
// missing only when the file system says it does not exist. The file is opened
// non-blocking (a FIFO in its place must not hang the check) and closed at once; with
// --checkmd5 it must be a regular file (fstat) and its bytes are hashed.
func check(ctx context.Context, root *os.Root, opt Options, r row) verdict {
	v := verdict{row: r}
	full := filepath.Join(opt.Root, r.path, r.filename)
	rel := filepath.Join(r.path, r.filename)
	if !filepath.IsLocal(rel) {
		v.problem = fmt.Sprintf("%s: the recorded path is not inside the storage root; not checked", full)
		return v
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.missing = true
		return v
	case err != nil:
		v.problem = fmt.Sprintf("%s: %v", full, err)
		return v
	}
	defer f.Close()
	if !opt.CheckMD5 {
		return v
	}
	st, err := f.Stat()
	if err != nil {
		v.problem = fmt.Sprintf("%s: %v", full, err)
		return v
	}
	if !st.Mode().IsRegular() {
		v.problem = fmt.Sprintf("%s: not a regular file (%s)", full, st.Mode().Type())
		return v
	}
	h := md5.New()
	if _, err := io.Copy(h, ctxio.Reader(ctx, f)); err != nil {
		v.problem = fmt.Sprintf("%s: %v", full, err)
		return v
	}
	v.mismatch = hex.EncodeToString(h.Sum(nil)) != r.md5
	return v
}

// AllAbsent marks every present diskfile not present (the summit-history shortcut) and
// returns how many.
func AllAbsent(ctx context.Context, db *pgxpool.Pool) (int64, error) {
	tag, err := db.Exec(ctx, `UPDATE diskfile SET present = false WHERE present`)
	if err != nil {
		return 0, fmt.Errorf("mark every diskfile not present: %w", err)
	}
	return tag.RowsAffected(), nil
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}
