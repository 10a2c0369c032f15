package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/preview"
)

func previewsCommands() []*command {
	var since string
	var batch int
	return []*command{{
		name:    "previews rebuild",
		summary: "queue the previews of the archive's FITS files to be made again",
		help: `Adds an item to the preview queue for every present, canonical FITS file (modified on
or after --since when given), to be made again even where a preview exists; agentd
--queue preview makes them, writing each under the previews directory (previews_dir,
default <storage_root>/previews) and recording it in the preview table. Files already in
the preview queue are counted, not added twice.

examples:
  agentctl previews rebuild
  agentctl previews rebuild --since 2024-01-01 --json`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&since, "since", "", "only files modified on or after this date (YYYY-MM-DD, UTC, or RFC 3339)")
			fs.IntVar(&batch, "batch", 10000, "files per transaction")
		},
		run: func(ctx context.Context, a *app, _ []string) error {
			var from time.Time
			if since != "" {
				t, err := parseWhen(since, time.Now())
				if err != nil {
					return cli.WithCode(cli.ExitUsage, fmt.Errorf("--since: %w", err))
				}
				from = t
			}
			if batch < 1 {
				return cli.Usagef("--batch must be at least 1")
			}
			pool, err := a.pool(ctx, "previews-rebuild")
			if err != nil {
				return err
			}
			defer pool.Close()
			meter := a.meter("queue previews", "files")
			sum, err := preview.Requeue(ctx, pool, from, batch, func(s preview.Requeued) { meter.Set(s.Files) })
			meter.Finish()
			if err != nil {
				return err
			}
			a.out.Result(sum, func(w io.Writer) {
				fmt.Fprintf(w, "%d FITS files: %d previews queued, %d already pending, in %.1f s\n",
					sum.Files, sum.Queued, sum.AlreadyPending, sum.Seconds)
			})
			return nil
		},
	}}
}
