package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/connstr"
	"github.com/fitsarchive/agentd/internal/schema"
)

func dbCommands() []*command {
	var adoptDryRun, adoptYes bool
	var index indexOptions
	return []*command{
		{
			name:    "db init",
			summary: "create the archive schema in an empty database",
			help: `The database must exist and be empty (createdb it first). A database that already
holds tables is refused (exit 5 when it is ours, 4 when it is not an archive database).

example:
  createdb fitsdata && agentctl db init --database-url postgresql:///fitsdata`,
			run: func(ctx context.Context, a *app, _ []string) error {
				conn, err := a.connect(ctx, "db-init")
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				applied, err := schema.Init(ctx, conn)
				if err != nil {
					return err
				}
				return a.reportMigrations(applied, connstr.Describe(&conn.Config().Config))
			},
		},
		{
			name:    "db migrate",
			summary: "apply the migrations an archive database lacks",
			help: `Each migration runs in its own transaction. Stop the agents first.

example:
  agentctl db migrate --database-url postgresql:///fitsdata`,
			run: func(ctx context.Context, a *app, _ []string) error {
				conn, err := a.connect(ctx, "db-migrate")
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				applied, err := schema.Migrate(ctx, conn)
				if err != nil {
					return err
				}
				return a.reportMigrations(applied, connstr.Describe(&conn.Config().Config))
			},
		},
		{
			name:    "db adopt",
			summary: "make a database FitsStorage's software created one agentd serves",
			help: `Checks that the database has every FitsStorage table, column, type and constraint
agentd relies on (exit 4 naming what is missing when not), then adds agentd's own functions,
columns (claims, leases, attempts), column defaults and indexes, and records this program's
schema version, in one transaction. Nothing of FitsStorage's tables, columns or rows is
changed; FitsStorage's software goes on using the database. --dry-run prints the SQL and
changes nothing. Without a terminal it needs --yes (exit 5). A database of ours is refused
(exit 5: use db migrate), an empty one too (exit 4: use db init).

example:
  agentctl db adopt --database-url postgresql:///fitsdata --dry-run
  agentctl db adopt --database-url postgresql:///fitsdata --yes`,
			flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&adoptDryRun, "dry-run", false, "print the SQL; change nothing")
				fs.BoolVar(&adoptYes, "yes", false, "adopt without asking")
			},
			run: func(ctx context.Context, a *app, _ []string) error {
				if adoptDryRun {
					a.out.Result(map[string]any{"dry_run": true, "sql": schema.AdoptSQL()}, func(w io.Writer) {
						fmt.Fprint(w, schema.AdoptSQL())
					})
					return nil
				}
				conn, err := a.connect(ctx, "db-adopt")
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				target := connstr.Describe(&conn.Config().Config)
				what := fmt.Sprintf("add agentd's columns, indexes and functions to FitsStorage's tables in database %s", target)
				if !adoptYes && !a.confirm(what) {
					return cli.WithCode(cli.ExitRefused, fmt.Errorf("db adopt would %s; it needs confirmation: type yes at the prompt, or give --yes", what))
				}
				if err := schema.Adopt(ctx, conn); err != nil {
					return err
				}
				a.out.Result(map[string]any{"adopted": true, "database": target, "version": schema.Latest()}, func(w io.Writer) {
					fmt.Fprintf(w, "%s: adopted; agentd's schema version %d recorded\n", target, schema.Latest())
				})
				return nil
			},
		},
		{
			name:    "db index",
			summary: "build FitsStorage's search indexes after a rebuild (or drop them before one)",
			help: `db init leaves out the 39 secondary indexes FitsStorage's models put on header, diskfile,
preview and calcache (ix_header_ut_datetime, ix_diskfile_filename, ...): a rebuild ingests
faster without them, but FitsStorage's web search and calibration lookups need them. Run this
when the rebuild is done. Each index is built with CREATE INDEX CONCURRENTLY, one at a time:
agentd and FitsStorage go on reading and writing meanwhile. Indexes already there are left
alone; an invalid one (left by an interrupted build) is dropped and built again, so an
interrupted run is finished by running it again.

--drop drops them (before a rebuild of an archive that has them); it asks for confirmation,
or needs --yes without a terminal (exit 5). --dry-run prints the SQL and changes nothing.
FitsStorage's indexes on its queue tables are not built: agentd's claim indexes serve them.

example:
  agentctl db index --database-url postgresql:///fitsdata
  agentctl db index --drop --yes --json`,
			flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&index.drop, "drop", false, "drop the search indexes instead")
				fs.BoolVar(&index.dryRun, "dry-run", false, "print the SQL; change nothing")
				fs.BoolVar(&index.yes, "yes", false, "with --drop: drop without asking")
			},
			run: func(ctx context.Context, a *app, _ []string) error { return a.dbIndex(ctx, index) },
		},
		{
			name:    "db version",
			summary: "print the database's schema version and this program's",
			help: `Exit 4 when the database is not an archive database or its version differs.

example:
  agentctl db version --json`,
			run: func(ctx context.Context, a *app, _ []string) error {
				conn, err := a.connect(ctx, "db-version")
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				v, err := schema.Version(ctx, conn)
				if err != nil {
					return err
				}
				versions := map[string]any{"database": v, "program": schema.Latest()}
				line := fmt.Sprintf("database schema version %d, program schema version %d\n", v, schema.Latest())
				if err := schema.Check(ctx, conn); err != nil {
					// One JSON object: the error, with the versions in it.
					if !a.out.JSON {
						fmt.Fprint(a.out.Stdout, line)
					}
					return &failureWith{err: err, extra: versions}
				}
				a.out.Result(versions, func(w io.Writer) { fmt.Fprint(w, line) })
				return nil
			},
		},
	}
}

func (a *app) reportMigrations(applied []schema.Migration, target string) error {
	type mig struct {
		Version int    `json:"version"`
		Name    string `json:"name"`
	}
	list := make([]mig, len(applied))
	for i, m := range applied {
		list[i] = mig{m.Version, m.Name}
	}
	a.out.Result(map[string]any{"applied": list, "version": schema.Latest(), "database": target}, func(w io.Writer) {
		if len(list) == 0 {
			fmt.Fprintf(w, "%s: schema already at version %d\n", target, schema.Latest())
		}
		for _, m := range list {
			fmt.Fprintf(w, "%s: applied migration %d (%s)\n", target, m.Version, m.Name)
		}
	})
	return nil
}

type indexOptions struct{ drop, dryRun, yes bool }

// dbIndex builds (or drops) FitsStorage's search indexes, one at a time, with progress.
func (a *app) dbIndex(ctx context.Context, o indexOptions) error {
	if o.dryRun {
		var sql strings.Builder
		for _, ix := range schema.SearchIndexes() {
			stmt := ix.CreateSQL()
			if o.drop {
				stmt = ix.DropSQL()
			}
			sql.WriteString(stmt + ";\n")
		}
		a.out.Result(map[string]any{"dry_run": true, "sql": sql.String()}, func(w io.Writer) { fmt.Fprint(w, sql.String()) })
		return nil
	}
	conn, err := a.connect(ctx, "db-index")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	target := connstr.Describe(&conn.Config().Config)
	if o.drop {
		what := fmt.Sprintf("drop FitsStorage's search indexes in database %s (its web search slows down until db index builds them again)", target)
		if !o.yes && !a.confirm(what) {
			return cli.WithCode(cli.ExitRefused, fmt.Errorf("db index --drop would %s; it needs confirmation: type yes at the prompt, or give --yes", what))
		}
	}
	verb, run := "build", schema.BuildSearchIndexes
	if o.drop {
		verb, run = "drop", schema.DropSearchIndexes
	}
	started := time.Now()
	m := a.meter(verb+" search indexes", "indexes")
	m.Total(int64(len(schema.SearchIndexes())), false)
	steps, err := run(ctx, conn, func(s schema.IndexStep) {
		if s.Action != "present" && s.Action != "absent" {
			m.Println(fmt.Sprintf("%s %s on %s", s.Action, s.Index.Name, s.Index.Table))
		}
		m.Add(1)
	})
	m.Finish()
	if err != nil {
		return err
	}
	by := map[string][]string{}
	for _, s := range steps {
		by[s.Action] = append(by[s.Action], s.Index.Name)
	}
	result := map[string]any{"database": target, "seconds": time.Since(started).Seconds()}
	for action, names := range by {
		result[action] = names
	}
	a.out.Result(result, func(w io.Writer) {
		if o.drop {
			fmt.Fprintf(w, "%s: dropped %d search indexes (%d were absent) in %.1f s\n", target,
				len(by["dropped"]), len(by["absent"]), time.Since(started).Seconds())
			return
		}
		fmt.Fprintf(w, "%s: built %d search indexes, rebuilt %d invalid, %d already there, in %.1f s\n", target,
			len(by["created"]), len(by["rebuilt"]), len(by["present"]), time.Since(started).Seconds())
	})
	return nil
}
