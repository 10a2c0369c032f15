package main

import (
	"context"
	"fmt"
	"io"

	"github.com/fitsarchive/agentd/internal/connstr"
	"github.com/fitsarchive/agentd/internal/schema"
)

func dbCommands() []*command {
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
