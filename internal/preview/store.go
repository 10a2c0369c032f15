package preview

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	dsbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/ctxio"
	"github.com/fitsarchive/agentd/internal/fits"
	"github.com/fitsarchive/agentd/queue"
)

// Name is the preview of a stored file, relative to the previews directory, as FitsStorage
// names it: the file's path and name without .bz2 and .fits, then .jpg.
func Name(dir, filename string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(filename, ".bz2"), ".fits")
	return path.Join(dir, base+".jpg")
}

// Store writes previews into the previews directory.
type Store struct {
	Storage  *os.Root // the storage root: the FITS files are read through it
	Previews *os.Root // the previews directory: previews are written through it
	Options  Options
}

// Write makes the preview of the stored file dir/filename (a .bz2 is read as a stream) and
// writes it under Name(dir, filename), whole or not at all: into a temporary file, synced,
// then renamed over the old preview. It returns the name written.
func (s *Store) Write(ctx context.Context, dir, filename string) (string, Result, error) {
	rel := path.Join(dir, filename)
	f, err := s.Storage.Open(rel)
	if err != nil {
		return "", Result{}, fmt.Errorf("read %s: %w", rel, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", Result{}, fmt.Errorf("read %s: not a regular file", rel)
	}
	var data io.Reader = bufio.NewReaderSize(ctxio.Reader(ctx, f), 1<<20)
	if strings.HasSuffix(filename, ".bz2") {
		bz, err := dsbzip2.NewReader(data, nil)
		if err != nil {
			return "", Result{}, fmt.Errorf("read %s: %w", rel, err)
		}
		defer bz.Close()
		data = bz
	}
	b := NewBuilder(s.Options)
	if _, err := fits.Visit(data, b.Visit); err != nil {
		return "", Result{}, fmt.Errorf("%s: %w", rel, err)
	}
	name := Name(dir, filename)
	res, err := s.Put(name, b)
	return name, res, err
}

// Put writes the preview b built under name (see Write): whole or not at all.
func (s *Store) Put(name string, b *Builder) (Result, error) {
	var res Result
	err := s.writeFile(name, func(w io.Writer) error {
		var err error
		res, err = b.Encode(w)
		return err
	})
	return res, err
}

// TempDir is the directory, in the previews directory, where previews are written before
// they are renamed into place: what a killed writer leaves is there, and only there.
const TempDir = ".tmp"

// writeFile writes name through fill, atomically: nothing is left when fill fails, and a
// writer killed mid-write leaves only a file in TempDir (see CleanTemp).
func (s *Store) writeFile(name string, fill func(io.Writer) error) error {
	if d := path.Dir(name); d != "." {
		if err := s.Previews.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create the previews directory %s: %w", d, err)
		}
	}
	if err := s.Previews.MkdirAll(TempDir, 0o755); err != nil {
		return fmt.Errorf("create the previews' temporary directory: %w", err)
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	tmp := path.Join(TempDir, hex.EncodeToString(suffix[:])+"-"+path.Base(name))
	f, err := s.Previews.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write preview %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			_ = s.Previews.Remove(tmp)
		}
	}()
	w := bufio.NewWriter(f)
	if err := fill(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write preview %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write preview %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write preview %s: %w", name, err)
	}
	if err := s.Previews.Rename(tmp, name); err != nil {
		_ = s.Previews.Remove(tmp)
		return fmt.Errorf("write preview %s: %w", name, err)
	}
	done = true
	return nil
}

// CleanTemp removes what killed writers left in TempDir: files last modified before
// olderThan (a writer on another host may be filling a younger one). It returns how many it
// removed.
func (s *Store) CleanTemp(olderThan time.Time) (int, error) {
	dir, err := s.Previews.Open(TempDir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("clean the previews' temporary directory: %w", err)
	}
	defer dir.Close()
	removed := 0
	for {
		entries, err := dir.ReadDir(1024)
		for _, e := range entries {
			info, ierr := e.Info()
			if ierr != nil || !info.Mode().IsRegular() || !info.ModTime().Before(olderThan) {
				continue
			}
			if rerr := s.Previews.Remove(path.Join(TempDir, e.Name())); rerr == nil {
				removed++
			} else if !errors.Is(rerr, fs.ErrNotExist) {
				return removed, fmt.Errorf("clean the previews' temporary directory: %w", rerr)
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(entries) == 0) {
			return removed, nil
		}
		if err != nil {
			return removed, fmt.Errorf("clean the previews' temporary directory: %w", err)
		}
	}
}

// Record makes name the preview of the diskfile, in tx: its preview rows are replaced.
func Record(ctx context.Context, tx pgx.Tx, diskfileID int64, name string) error {
	b := &pgx.Batch{}
	QueueRecord(b, diskfileID, name)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record the preview of diskfile %d: %w", diskfileID, err)
	}
	return nil
}

// QueueRecord adds Record's statements to b, for a caller that sends them with others.
func QueueRecord(b *pgx.Batch, diskfileID int64, name string) {
	b.Queue(`DELETE FROM preview WHERE diskfile_id = $1`, diskfileID)
	b.Queue(`INSERT INTO preview (diskfile_id, filename) VALUES ($1, $2)`, diskfileID, name)
}

// Worker services the preview queue: one FITS diskfile per item.
type Worker struct {
	DB     *pgxpool.Pool
	Store  *Store
	Logger *slog.Logger
}

// Handle makes and records the preview of the item's diskfile (a queue.Handler). A
// diskfile that is gone or no longer present ends the item with nothing to do; a file with
// no image to show ends it with the reason logged; a file that cannot be read or decoded
// fails it (the file's fault: queue.Permanent).
func (w *Worker) Handle(ctx context.Context, it queue.Item) (queue.Result, error) {
	id := it.Int("diskfile_id")
	var dir, filename string
	var present bool
	err := w.DB.QueryRow(ctx, `SELECT path, filename, present FROM diskfile WHERE id = $1`, id).Scan(&dir, &filename, &present)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && !present):
		w.Logger.Info("no preview: the file is no longer in storage", "item", it.Label, "diskfile", id)
		return queue.Complete, nil
	case err != nil:
		return queue.Result{}, fmt.Errorf("look up diskfile %d: %w", id, err)
	}
	name, res, err := w.Store.Write(ctx, dir, filename)
	switch {
	case errors.Is(err, ErrNoImage):
		w.Logger.Warn("no preview: nothing to show", "item", it.Label, "why", err.Error())
		return queue.Complete, nil
	case ctx.Err() != nil:
		return queue.Result{}, ctx.Err() // stopping: the item is released
	case errors.Is(err, fs.ErrNotExist):
		return queue.Result{}, queue.Permanent(fmt.Errorf("%s is not in storage: %w", path.Join(dir, filename), err))
	case err != nil:
		return queue.Result{}, queue.Permanent(err)
	}
	if len(res.Skipped) > 0 {
		w.Logger.Info("preview made without some images", "item", it.Label, "skipped", strings.Join(res.Skipped, "; "))
	}
	err = pgx.BeginFunc(ctx, w.DB, func(tx pgx.Tx) error {
		if err := Record(ctx, tx, id, name); err != nil {
			return err
		}
		return it.CompleteTx(ctx, tx)
	})
	if err != nil {
		return queue.Result{}, err
	}
	return queue.CompletedTx, nil
}

// Requeued counts what Requeue did.
type Requeued struct {
	Files          int64   `json:"files"`           // present, canonical FITS diskfiles selected
	Queued         int64   `json:"queued"`          // preview items added
	AlreadyPending int64   `json:"already_pending"` // of the files, those already in the preview queue
	Seconds        float64 `json:"seconds"`
}

// Requeue adds a preview item (made even when a preview exists) for every present,
// canonical FITS diskfile modified at or after since (zero: all), in batches of batch files
// (one transaction each), calling progress after each.
func Requeue(ctx context.Context, db *pgxpool.Pool, since time.Time, batch int, progress func(Requeued)) (Requeued, error) {
	start := time.Now()
	var sum Requeued
	var sinceArg any
	if !since.IsZero() {
		sinceArg = since
	}
	var ins queue.Inserter[queue.PreviewItem]
	last := int64(0)
	for {
		rows, err := db.Query(ctx, `SELECT id, filename FROM diskfile
			WHERE id > $1 AND present AND canonical AND isfits AND ($2::timestamptz IS NULL OR lastmod >= $2)
			ORDER BY id LIMIT $3`, last, sinceArg, batch)
		if err != nil {
			return sum, fmt.Errorf("select the files to preview: %w", err)
		}
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue.PreviewItem, error) {
			it := queue.PreviewItem{Force: true}
			return it, r.Scan(&it.DiskfileID, &it.Filename)
		})
		if err != nil {
			return sum, fmt.Errorf("select the files to preview: %w", err)
		}
		if len(items) == 0 {
			break
		}
		var added int64
		err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			added, err = ins.InsertTx(ctx, tx, items)
			return err
		})
		if err != nil {
			return sum, err
		}
		last = items[len(items)-1].DiskfileID
		sum.Files += int64(len(items))
		sum.Queued += added
		sum.AlreadyPending += int64(len(items)) - added
		if progress != nil {
			progress(sum)
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}
