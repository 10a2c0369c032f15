package pgsync

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotDump is returned for a file or directory that is not a pg_dump backup.
var ErrNotDump = errors.New("not a pg_dump backup")

// Dump kinds.
const (
	DumpCustom    = "custom"    // pg_dump -Fc, what the nightly backup makes
	DumpDirectory = "directory" // pg_dump -Fd
	DumpTar       = "tar"       // pg_dump -Ft
	DumpPlain     = "plain"     // pg_dump's SQL script
	DumpPlainGzip = "plain, gzip-compressed"
)

// Dump is a pg_dump backup read as a source. Custom, directory and tar archives are read
// through pg_restore (one table at a time); plain SQL, gzip-compressed or not, is read as a
// stream in one pass. Rows are in COPY text format.
type Dump struct {
	path string
	kind string
	cat  Catalog
	seqs map[string]int64 // sequence (qualified) → last value handed out
}

// OpenDump recognises the backup at path and reads its table definitions.
func OpenDump(ctx context.Context, path string) (*Dump, error) {
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
	d := &Dump{path: path, kind: kind, seqs: map[string]int64{}}
	var seqs map[string]int64
	switch kind {
	case DumpPlain, DumpPlainGzip:
		r, closeFn, err := d.openPlain()
		if err != nil {
			return nil, err
		}
		d.cat, seqs, err = ReadDumpSchema(r)
		closeFn()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrNotDump, path, err)
		}
	default:
		var schemaSQL bytes.Buffer
		if err := d.restore(ctx, &schemaSQL, "--schema-only"); err != nil {
			return nil, err
		}
		if d.cat, seqs, err = ReadDumpSchema(&schemaSQL); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrNotDump, path, err)
		}
		if err := d.readSequences(ctx); err != nil {
			return nil, err
		}
	}
	for s, v := range seqs {
		d.seqs[qualifiedSeq(s)] = v
	}
	if len(d.cat) == 0 {
		return nil, fmt.Errorf("%w: %s holds no table of schema public", ErrNotDump, path)
	}
	return d, nil
}

// dumpKind looks at the first bytes.
func dumpKind(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrConnect, err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "toc.dat")); err != nil {
			return "", fmt.Errorf("%w: directory %s has no toc.dat", ErrNotDump, path)
		}
		return DumpDirectory, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrConnect, err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PGDMP")):
		return DumpCustom, nil
	case len(head) > 262 && string(head[257:262]) == "ustar":
		return DumpTar, nil
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
		return DumpPlainGzip, nil
	case looksLikeSQLDump(head):
		return DumpPlain, nil
	}
	return "", fmt.Errorf("%w: %s is neither a pg_dump archive (-Fc, -Fd, -Ft) nor a pg_dump SQL script", ErrNotDump, path)
}

func looksLikeSQLDump(head []byte) bool {
	return bytes.Contains(head, []byte("-- PostgreSQL database dump"))
}

func (d *Dump) openPlain() (io.Reader, func(), error) {
	f, err := os.Open(d.path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	if d.kind != DumpPlainGzip {
		return f, func() { f.Close() }, nil
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrNotDump, d.path, err)
	}
	return zr, func() { zr.Close(); f.Close() }, nil
}

// restore runs pg_restore on the archive with args, its SQL going to w.
func (d *Dump) restore(ctx context.Context, w io.Writer, args ...string) error {
	bin, err := exec.LookPath("pg_restore")
	if err != nil {
		return fmt.Errorf("%w: reading a %s dump needs pg_restore; install it: apt-get install postgresql-client", ErrConnect, d.kind)
	}
	if !filepath.IsAbs(bin) {
		return fmt.Errorf("%w: pg_restore found at %s, a relative path; fix PATH", ErrConnect, bin)
	}
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"--no-owner", "--no-privileges", "-f", "-"}, args...), d.path)...)
	// pg_restore only writes SQL to stdout here: it needs no connection settings, and gets
	// none (no DATABASE_URL, PGPASSWORD or PGSERVICE from the operator's environment).
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "HOME=" + os.Getenv("HOME")}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "unsupported version") {
			version := exec.CommandContext(ctx, bin, "--version")
			version.Env = cmd.Env
			have, _ := version.Output()
			made := dumpMadeBy(d.path, d.kind)
			return fmt.Errorf("%w: %s cannot read %s (%s): the dump was made by a newer pg_dump%s; install the matching postgresql-client (same major version) and make sure pg_restore is found first in PATH",
				ErrNotDump, strings.TrimSpace(string(have)), d.path, msg, made)
		}
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%w: pg_restore %s: %s", ErrNotDump, d.path, msg)
	}
	return nil
}

// readSequences reads the SEQUENCE SET entries of an archive.
func (d *Dump) readSequences(ctx context.Context) error {
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
	return readDumpData(&sql, dataHandler{
		want:   func(string) bool { return false },
		setval: func(seq string, last int64) { d.seqs[qualifiedSeq(seq)] = last },
	})
}

// Describe implements Source.
func (d *Dump) Describe() string { return fmt.Sprintf("%s (pg_dump, %s)", d.path, d.kind) }

// Catalog implements Source.
func (d *Dump) Catalog(context.Context) (Catalog, error) { return d.cat, nil }

// Count implements Source: a dump's rows are known once read.
func (d *Dump) Count(context.Context, string) (int64, error) { return -1, nil }

// SequenceLast implements Source. A plain dump's values are known after its data was read.
func (d *Dump) SequenceLast(_ context.Context, seq string) (int64, bool, error) {
	v, ok := d.seqs[seq]
	return v, ok, nil
}

// Format implements Source.
func (d *Dump) Format(string) string { return "text" }

// CopyOut implements Source for archives: pg_restore writes the one table's data.
func (d *Dump) CopyOut(ctx context.Context, table string, cols []Column, w io.Writer) error {
	if d.onePass() {
		return errors.New("a plain dump is read in one pass (streamStage)")
	}
	found := false
	rerr, err := pipe(false, func(pw io.Writer) error { return d.restore(ctx, pw, "--data-only", "-t", table) },
		func(pr io.Reader) error {
			return readDumpData(pr, dataHandler{
				want: func(t string) bool { return t == table },
				copy: func(t string, got []string, data io.Reader) error {
					if err := sameColumns(t, got, cols); err != nil {
						return err
					}
					found = true
					_, err := io.Copy(w, data)
					return err
				},
			})
		})
	if rerr != nil {
		return rerr
	}
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s holds no data of table %s", ErrNotDump, d.path, table)
	}
	return nil
}

// onePass says whether the dump is read in one pass (plain SQL) rather than a table at a
// time through pg_restore.
func (d *Dump) onePass() bool { return d.kind == DumpPlain || d.kind == DumpPlainGzip }

// streamStage reads a plain dump once and hands each wanted table's rows to stage.
func (d *Dump) streamStage(ctx context.Context, tables map[string]TablePlan, stage func(TablePlan, io.Reader) error) error {
	if !d.onePass() {
		return errors.New("only plain dumps are read in one pass")
	}
	r, closeFn, err := d.openPlain()
	if err != nil {
		return err
	}
	defer closeFn()
	seen := map[string]bool{}
	err = readDumpData(r, dataHandler{
		want: func(t string) bool {
			_, ok := tables[t]
			return ok && ctx.Err() == nil
		},
		copy: func(t string, got []string, data io.Reader) error {
			tp := tables[t]
			if err := sameColumns(t, got, tp.srcCols); err != nil {
				return err
			}
			seen[t] = true
			return stage(tp, data)
		},
		setval: func(seq string, last int64) { d.seqs[qualifiedSeq(seq)] = last },
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", d.path, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for t := range tables {
		if !seen[t] {
			return fmt.Errorf("%w: %s holds no data of table %s (a schema-only dump?)", ErrNotDump, d.path, t)
		}
	}
	return nil
}

// Close implements Source.
func (d *Dump) Close(context.Context) {}

func sameColumns(table string, got []string, want []Column) error {
	names := make([]string, len(want))
	for i, c := range want {
		names[i] = c.Name
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		return fmt.Errorf("%w: the data of %s has columns (%s), its definition (%s)", ErrNotDump, table, strings.Join(got, ", "), strings.Join(names, ", "))
	}
	return nil
}
