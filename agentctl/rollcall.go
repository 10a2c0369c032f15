package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/connstr"
	"github.com/fitsarchive/agentd/internal/rollcall"
)

func rollcallCommands() []*command {
	var (
		opt         rollcall.Options
		storageRoot string
		allAbsent   bool
	)
	return []*command{{
		name:    "rollcall",
		summary: "mark diskfiles that are no longer in storage as not present",
		args:    "[flags]",
		help: `Checks every present diskfile, oldest first, for STORAGE_ROOT/path/filename. A file that
does not exist is marked present=false (canonical is never touched; nothing is ever set
present again). A file that cannot be read for another reason (permissions, I/O) is
reported, not marked. Nothing is written when the storage root is missing, empty or lacks
its sentinel file ([rollcall] sentinel in the config), or when more than --max-missing
percent of the checked files are missing (unless --yes): an unmounted disk looks exactly
like every file gone.

--all-absent marks every diskfile not present without looking at the disk (the first step
of a summit's history from the archive's backup); it asks for confirmation unless --yes.

Exit codes: 5 refused by a guard (nothing written), 6 finished but some files could not be
checked or their md5 differs (listed).

examples:
  agentctl rollcall --limit 25000 --storage-root /data/fits
  agentctl rollcall --file-pre N2020 --dry-run --json`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&storageRoot, "storage-root", "", "the storage root (default: config storage_root, $AGENTD_STORAGE_ROOT)")
			fs.IntVar(&opt.Limit, "limit", 0, "check at most this many files, oldest lastmod first (0 = all)")
			fs.StringVar(&opt.FilePre, "file-pre", "", "only file names starting with this")
			fs.BoolVar(&opt.CheckMD5, "checkmd5", false, "also report files whose md5 differs from the database (no change made)")
			fs.Float64Var(&opt.MaxMissing, "max-missing", rollcall.DefaultMaxMissing, "write nothing when more than this percent of the checked files are missing")
			fs.StringVar(&opt.Sentinel, "sentinel", "", "a file that must exist under the storage root (default: config [rollcall] sentinel)")
			fs.BoolVar(&allAbsent, "all-absent", false, "mark every diskfile not present, without checking the disk")
			fs.BoolVar(&opt.DryRun, "dry-run", false, "check and report; write nothing")
			fs.BoolVar(&opt.Force, "yes", false, "go on past --max-missing, or confirm --all-absent")
			fs.IntVar(&opt.Workers, "workers", 4, "files checked at once")
		},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			db, err := a.pool(ctx, "rollcall")
			if err != nil {
				return err
			}
			defer db.Close()
			target := connstr.Describe(&db.Config().ConnConfig.Config)
			if allAbsent {
				var n int64
				if err := db.QueryRow(ctx, `SELECT count(*) FROM diskfile WHERE present`).Scan(&n); err != nil {
					return err
				}
				what := fmt.Sprintf("mark all %d present diskfiles of database %s not present", n, target)
				if opt.DryRun {
					a.out.Result(map[string]any{"would_mark": n, "dry_run": true, "database": target}, func(w io.Writer) {
						fmt.Fprintf(w, "would %s (dry run)\n", what)
					})
					return nil
				}
				if !opt.Force && !a.confirm(what) {
					return cli.WithCode(cli.ExitRefused, fmt.Errorf("--all-absent would %s; it needs confirmation: type yes at the prompt, or give --yes", what))
				}
				n, err := rollcall.AllAbsent(ctx, db)
				if err != nil {
					return err
				}
				a.out.Result(map[string]any{"marked": n, "database": target}, func(w io.Writer) {
					fmt.Fprintf(w, "marked %d diskfiles of database %s not present\n", n, target)
				})
				return nil
			}
			opt.Root = a.cfg.StorageRoot
			if storageRoot != "" {
				opt.Root = storageRoot
			}
			if opt.Sentinel == "" {
				opt.Sentinel = a.cfg.Rollcall.Sentinel
			}
			meter := a.meter("rollcall", "files checked")
			opt.Progress = func(checked, total int64) {
				meter.Total(total, false)
				meter.Set(checked)
			}
			sum, err := rollcall.Run(ctx, db, opt)
			meter.Finish()
			if err == nil && (sum.Errors > 0 || sum.MD5Mismatches > 0) {
				err = cli.WithCode(cli.ExitProblems, fmt.Errorf("%d files could not be checked, %d differ in md5 (listed)", sum.Errors, sum.MD5Mismatches))
			}
			if err != nil {
				if sum.Checked == 0 {
					return err
				}
				if !a.out.JSON {
					printRollcall(a.out.Stdout, sum)
				}
				return &failureWith{err: err, extra: map[string]any{"summary": sum}}
			}
			a.out.Result(sum, func(w io.Writer) { printRollcall(w, sum) })
			return nil
		},
	}}
}

func printRollcall(w io.Writer, s rollcall.Summary) {
	for _, p := range s.MissingFirst {
		fmt.Fprintf(w, "missing: %s\n", p)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "problem: %s: %s\n", p.Path, p.Error)
	}
	marked := fmt.Sprintf("%d marked not present", s.Marked)
	if s.DryRun {
		marked = fmt.Sprintf("%d would be marked not present: dry run", s.Missing)
	}
	fmt.Fprintf(w, "checked %d, missing %d (%s), errors %d, md5 mismatches %d, in %.1f s\n",
		s.Checked, s.Missing, marked, s.Errors, s.MD5Mismatches, s.Seconds)
}

// confirm asks on the terminal; without one the answer is no.
func (a *app) confirm(what string) bool {
	if !cli.IsTerminal(os.Stdin) || !cli.IsTerminal(a.out.Stderr) {
		return false
	}
	fmt.Fprintf(a.out.Stderr, "%s? type yes: ", what)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}
