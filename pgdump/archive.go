// Package pgdump reads PostgreSQL backups made by pg_dump for what a data transfer needs:
// the tables of schema public with their columns, the last value of each sequence, and each
// table's rows in COPY text format. Custom (-Fc, the archive's nightly backup), directory
// (-Fd) and tar (-Ft) archives are read through pg_restore, a table at a time; plain SQL
// scripts, gzip-compressed or not, are read as a stream in one pass. A dump is data: its
// text is parsed, never run, and the lines outside COPY data are read with a bounded buffer.
package pgdump

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fitsarchive/agentd/internal/hostexec"
)

// Errors of reading a backup.
var (
	// ErrNotDump is a file or directory that is not a usable pg_dump backup (or that this
	// pg_restore cannot read).
	ErrNotDump = errors.New("not a pg_dump backup")
	// ErrInserts is a dump whose data is INSERT statements (pg_dump --inserts).
	ErrInserts = errors.New("dump made with --inserts")
	// ErrUnreadable is a backup that cannot be read at all: missing, no permission, no
	// pg_restore installed.
	ErrUnreadable = errors.New("cannot read the backup")
)

// Dump kinds.
const (
	Custom    = "custom"    // pg_dump -Fc, what the nightly backup makes
	Directory = "directory" // pg_dump -Fd
	Tar       = "tar"       // pg_dump -Ft
	Plain     = "plain"     // pg_dump's SQL script
	PlainGzip = "plain, gzip-compressed"
)

// Archive is an opened pg_dump backup. Its methods are not safe for concurrent use.
type Archive struct {
	path   string
	kind   string
	tables map[string]*Table
	seqs   map[string]int64 // sequence (qualified) → last value handed out
}

// Open recognises the backup at path (a file or a directory) and reads its table
// definitions.
func Open(ctx context.Context, path string) (*Archive, error) {
	// Absolute, so that a name starting with "-" never reaches pg_restore as an option.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotDump, path, err)
	}
	path = abs
	kind, err := dumpKind(path)
	if err != nil {
		return nil, err
	}
	d := &Archive{path: path, kind: kind, seqs: map[string]int64{}}
	var seqs map[string]int64
	switch kind {
	case Plain, PlainGzip:
		r, closeFn, err := d.openPlain()
		if err != nil {
			return nil, err
		}
		d.tables, seqs, err = ReadSchema(r)
		closeFn()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrNotDump, path, err)
		}
	default:
		var schemaSQL bytes.Buffer
		if err := d.restore(ctx, &schemaSQL, "--schema-only"); err != nil {
			return nil, err
		}
		if d.tables, seqs, err = ReadSchema(&schemaSQL); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrNotDump, path, err)
		}
		if err := d.readSequences(ctx); err != nil {
			return nil, err
		}
	}
	for s, v := range seqs {
		d.seqs[QualifiedSequence(s)] = v
	}
	if len(d.tables) == 0 {
		return nil, fmt.Errorf("%w: %s holds no table of schema public", ErrNotDump, path)
	}
	return d, nil
}

// dumpKind looks at the first bytes.
func dumpKind(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "toc.dat")); err != nil {
			return "", fmt.Errorf("%w: directory %s has no toc.dat", ErrNotDump, path)
		}
		return Directory, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PGDMP")):
		return Custom, nil
	case len(head) > 262 && string(head[257:262]) == "ustar":
		return Tar, nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrNotDump, path, err)
		}
		inner := make([]byte, 4096)
		m, _ := io.ReadFull(zr, inner)
		if !looksLikeSQLDump(inner[:m]) {
			return "", fmt.Errorf("%w: %s is gzip-compressed but not a pg_dump SQL script", ErrNotDump, path)
		}
		return PlainGzip, nil
	case looksLikeSQLDump(head):
		return Plain, nil
	}
	return "", fmt.Errorf("%w: %s is neither a pg_dump archive (-Fc, -Fd, -Ft) nor a pg_dump SQL script", ErrNotDump, path)
}

func looksLikeSQLDump(head []byte) bool {
	return bytes.Contains(head, []byte("-- PostgreSQL database dump"))
}

func (d *Archive) openPlain() (io.Reader, func(), error) {
	f, err := os.Open(d.path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if d.kind != PlainGzip {
		return f, func() { f.Close() }, nil
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrNotDump, d.path, err)
	}
	return zr, func() { zr.Close(); f.Close() }, nil
}

// restore runs pg_restore on the archive with args, its SQL streamed to w. It runs through
// the one runner (hostexec): the system's pg_restore (Debian's /usr/bin/pg_restore picks
// the newest installed client, which reads older dumps), LC_ALL=C, and no connection
// settings (no DATABASE_URL, PGPASSWORD or PGSERVICE from the operator's environment: it
// only writes SQL).
func (d *Archive) restore(ctx context.Context, w io.Writer, args ...string) error {
	run := hostexec.Exec{}
	err := run.Stream(ctx, w, "pg_restore", append(append([]string{"--no-owner", "--no-privileges", "-f", "-"}, args...), d.path)...)
	var e *hostexec.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, hostexec.ErrNotFound):
		return fmt.Errorf("%w: reading a %s dump needs pg_restore; install it: apt-get install postgresql-client", ErrUnreadable, d.kind)
	case ctx.Err() != nil: // stopped (Ctrl-C, a deadline), not a bad dump
		return fmt.Errorf("pg_restore %s: %w", d.path, context.Cause(ctx))
	case errors.As(err, &e) && strings.Contains(e.Stderr, "unsupported version"):
		have, _, _ := run.Run(ctx, "pg_restore", "--version")
		made := dumpMadeBy(d.path, d.kind)
		return fmt.Errorf("%w: %s cannot read %s (%s): the dump was made by a newer pg_dump%s; install the matching postgresql-client (same major version or newer)",
			ErrNotDump, strings.TrimSpace(string(have)), d.path, e.Stderr, made)
	case errors.As(err, &e) && e.Stderr != "":
		return fmt.Errorf("%w: pg_restore %s: %s", ErrNotDump, d.path, e.Stderr)
	}
	return fmt.Errorf("%w: pg_restore %s: %v", ErrNotDump, d.path, err)
}

// readSequences reads the SEQUENCE SET entries of an archive.
func (d *Archive) readSequences(ctx context.Context) error {
	var toc bytes.Buffer
	if err := d.restore(ctx, &toc, "-l"); err != nil {
		return err
	}
	var list strings.Builder
	for _, line := range strings.Split(toc.String(), "\n") {
		if strings.Contains(line, " SEQUENCE SET ") && !strings.HasPrefix(line, ";") {
			list.WriteString(line + "\n")
		}
	}
	if list.Len() == 0 {
		return nil
	}
	f, err := os.CreateTemp("", "agentctl-seqlist")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(list.String()); err != nil {
		f.Close()
		return err
	}
	f.Close()
	var sql bytes.Buffer
	if err := d.restore(ctx, &sql, "--data-only", "-L", f.Name()); err != nil {
		return err
	}
	return readData(&sql, dataHandler{
		want:   func(string) bool { return false },
		setval: func(seq string, last int64) { d.seqs[QualifiedSequence(seq)] = last },
	})
}

// Path is the backup's absolute path.
func (d *Archive) Path() string { return d.path }

// Kind is the backup's format: Custom, Directory, Tar, Plain or PlainGzip.
func (d *Archive) Kind() string { return d.kind }

// Describe names the backup for messages: its path and format.
func (d *Archive) Describe() string { return fmt.Sprintf("%s (pg_dump, %s)", d.path, d.kind) }

// Tables are the backup's tables of schema public, by name. The caller may annotate them
// but not rename them.
func (d *Archive) Tables() map[string]*Table { return d.tables }

// SequenceLast is the last value a sequence (qualified as QualifiedSequence writes it)
// handed out, as the backup records it; a plain dump's are known once Data has read it.
func (d *Archive) SequenceLast(seq string) (int64, bool) {
	v, ok := d.seqs[seq]
	return v, ok
}

// Want names a table to read and the columns its data must have, in order.
type Want struct {
	Table   string
	Columns []string
}

// Data hands the rows of each wanted table (COPY text format, one row a line) to fn: an
// archive's one table at a time through pg_restore, in the order given; a plain dump's in
// one pass, in the order the dump holds them. Data whose columns differ from the wanted
// ones, a wanted table without data, and rows written as INSERT statements are errors.
func (d *Archive) Data(ctx context.Context, want []Want, fn func(table string, rows io.Reader) error) error {
	if d.onePass() {
		return d.streamData(ctx, want, fn)
	}
	for _, w := range want {
		if err := d.tableData(ctx, w, fn); err != nil {
			return err
		}
	}
	return nil
}

// tableData reads one table of an archive through pg_restore.
func (d *Archive) tableData(ctx context.Context, want Want, fn func(string, io.Reader) error) error {
	found := false
	err := pipe(func(pw io.Writer) error { return d.restore(ctx, pw, "--data-only", "-t", want.Table) },
		func(pr io.Reader) error {
			return readData(pr, dataHandler{
				want: func(t string) bool { return t == want.Table },
				copy: func(t string, got []string, data io.Reader) error {
					if err := sameColumns(t, got, want.Columns); err != nil {
						return err
					}
					found = true
					return fn(t, data)
				},
			})
		})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s holds no data of table %s", ErrNotDump, d.path, want.Table)
	}
	return nil
}

// onePass says whether the dump is read in one pass (plain SQL) rather than a table at a
// time through pg_restore.
func (d *Archive) onePass() bool { return d.kind == Plain || d.kind == PlainGzip }

// streamData reads a plain dump once and hands each wanted table's rows to fn.
func (d *Archive) streamData(ctx context.Context, want []Want, fn func(string, io.Reader) error) error {
	cols := map[string][]string{}
	for _, w := range want {
		cols[w.Table] = w.Columns
	}
	r, closeFn, err := d.openPlain()
	if err != nil {
		return err
	}
	defer closeFn()
	seen := map[string]bool{}
	err = readData(r, dataHandler{
		want: func(t string) bool {
			_, ok := cols[t]
			return ok && ctx.Err() == nil
		},
		copy: func(t string, got []string, data io.Reader) error {
			if err := sameColumns(t, got, cols[t]); err != nil {
				return err
			}
			seen[t] = true
			return fn(t, data)
		},
		setval: func(seq string, last int64) { d.seqs[QualifiedSequence(seq)] = last },
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", d.path, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, w := range want {
		if !seen[w.Table] {
			return fmt.Errorf("%w: %s holds no data of table %s (a schema-only dump?)", ErrNotDump, d.path, w.Table)
		}
	}
	return nil
}

func sameColumns(table string, got, want []string) error {
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("%w: the data of %s has columns (%s), its definition (%s)", ErrNotDump, table, strings.Join(got, ", "), strings.Join(want, ", "))
	}
	return nil
}

// pipe runs produce in a goroutine writing into consume's reader and, once both have ended,
// returns the error that came first: produce's when it ended first with one (consume's is
// then its echo: a COPY fed by a failed pg_restore fails too), else consume's (produce's is
// then the echo: nobody reads its output any more), else produce's.
func pipe(produce func(io.Writer) error, consume func(io.Reader) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { // owner: pipe; ends when produce returns
		err := produce(pw)
		done <- err // before the close that consume sees: the select below then finds it
		pw.CloseWithError(err)
	}()
	consumeErr := consume(pr)
	var produceErr error
	select {
	case produceErr = <-done:
		if produceErr != nil {
			return produceErr
		}
		return consumeErr
	default:
	}
	pr.CloseWithError(errors.New("the reader stopped")) // unblocks produce if consume quit early
	produceErr = <-done
	if consumeErr != nil {
		return consumeErr
	}
	return produceErr
}
