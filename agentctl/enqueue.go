package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/connstr"
	"github.com/fitsarchive/agentd/internal/enqueue"
)

func enqueueCommands() []*command {
	var (
		storageRoot, path, fileRE, after string
		newFiles, batch                  int
		force, forceMD5                  bool
	)
	return []*command{{
		name:    "enqueue ingest",
		summary: "add the files of the storage tree to the ingest queue",
		args:    "[flags]",
		help: `Walks the storage root (or --path under it) recursively. Names containing "tmp" or
"tiled", .jpg previews and names without .fits, _obslog.txt or miscfile_ are skipped,
and so are names that are not valid UTF-8 (not-utf8: the database cannot store them;
rename the file). Files already pending are counted, not added twice. Without filters
("unconstrained") every file is enqueued: the first step of a rebuild.

The queue is analyzed (ANALYZE) after the first batch that adds names and at the end, so
that agents plan their claims for a queue with rows in it; run the command as the table's
owner role (another role's ANALYZE is skipped by the server). A failed ANALYZE is a
warning on stderr and in --json's "warnings", not a failure: the names are in.

--file-re takes a regular expression searched in the file name, or one of the words
today, twoday, fourday, tenday, twentyday (files whose name holds a UTC date of the
last 1, 2, 4, 10 or 20 days).

examples:
  agentctl enqueue ingest --storage-root /data/fits
  agentctl enqueue ingest --file-re twoday --force --json`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&storageRoot, "storage-root", "", "the storage root (default: config storage_root, $AGENTD_STORAGE_ROOT)")
			fs.StringVar(&path, "path", "", "start at this directory, relative to the storage root")
			fs.StringVar(&fileRE, "file-re", "", "only names matching this regular expression or day word")
			fs.IntVar(&newFiles, "newfiles", 0, "only files modified within this many days")
			fs.BoolVar(&force, "force", false, "ingest even files that are unchanged")
			fs.BoolVar(&forceMD5, "force-md5", false, "compare checksums even when the modification time is unchanged")
			fs.StringVar(&after, "after", "", "do not ingest before this time (RFC 3339, 'YYYY-MM-DD HH:MM' UTC, or a delay like 2h)")
			fs.IntVar(&batch, "batch", enqueue.DefaultBatch, "names per transaction")
		},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			opt := enqueue.Options{Path: path, NewFiles: newFiles, Force: force, ForceMD5: forceMD5, BatchSize: batch}
			opt.Root = a.cfg.StorageRoot
			if storageRoot != "" {
				opt.Root = storageRoot
			}
			if fileRE != "" {
				re, err := enqueue.FileRE(fileRE, time.Now())
				if err != nil {
					return cli.WithCode(cli.ExitUsage, err)
				}
				opt.FileRE = re
			}
			if after != "" {
				t, err := parseWhen(after, time.Now())
				if err != nil {
					return cli.WithCode(cli.ExitUsage, err)
				}
				opt.After = t
			}
			pool, err := a.pool(ctx, "enqueue")
			if err != nil {
				return err
			}
			defer pool.Close()
			meter := a.meter("enqueue", "files seen")
			opt.Progress = func(s enqueue.Summary) { meter.Set(s.Seen) }
			sum, err := enqueue.Ingest(ctx, pool, opt)
			meter.Finish()
			if errors.Is(err, enqueue.ErrNoStorageRoot) {
				return cli.WithCode(cli.ExitConnect, err)
			}
			if errors.Is(err, enqueue.ErrBadPath) {
				return cli.WithCode(cli.ExitUsage, err)
			}
			if err != nil && sum.Added > 0 {
				return fmt.Errorf("%w (%d files were added before that; running the same command again adds the rest, names already pending are skipped)", err, sum.Added)
			}
			if err != nil {
				return err
			}
			for _, w := range sum.Warnings {
				fmt.Fprintf(a.out.Stderr, "agentctl enqueue: warning: %s\n", w)
			}
			a.out.Result(sum, func(w io.Writer) {
				fmt.Fprintf(w, "seen %d files: %d added to the ingest queue of %s, %d already pending, %d skipped%s in %.1f s\n",
					sum.Seen, sum.Added, connstr.Describe(&pool.Config().ConnConfig.Config), sum.AlreadyPending, total(sum.Skipped),
					describe(sum.Skipped), sum.Seconds)
			})
			return nil
		},
	}}
}

func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// describe renders {"temporary": 2} as " (temporary 2)".
func describe(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	return " (" + counts(m) + ")"
}

// parseWhen reads an absolute time or a delay from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--after %q: give RFC 3339 (2026-01-02T15:04:05Z), 'YYYY-MM-DD HH:MM' (UTC) or a delay (2h)", s)
}
