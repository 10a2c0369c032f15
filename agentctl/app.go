package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/progress"
	"github.com/fitsarchive/agentd/internal/schema"
)

// command is one agentctl command ("db init"). The command line itself is cobra's (see
// root.go); a command only says what it is and does.
type command struct {
	name    string
	summary string
	args    string // synopsis of positional arguments and command flags
	help    string // longer text and an example
	flags   func(fs *flag.FlagSet)
	run     func(ctx context.Context, a *app, args []string) error
	noDB    bool // never touches the database: no --database-url, no --config
	maxArgs int  // positional arguments it takes (more is a usage error)
}

// app is what a command gets: the resolved settings and where to write.
type app struct {
	out        cli.Output
	getenv     func(string) string
	configPath string
	dbURL      string
	cfg        config.Config
	ran        bool // a command's run began: errors from here on are the command's own
}

func commands() []*command {
	var cmds []*command
	cmds = append(cmds, dbCommands()...)
	cmds = append(cmds, enqueueCommands()...)
	cmds = append(cmds, queueCommands()...)
	cmds = append(cmds, statusCommands()...)
	cmds = append(cmds, transferCommands()...)
	cmds = append(cmds, rollcallCommands()...)
	cmds = append(cmds, previewsCommands()...)
	cmds = append(cmds, calcacheCommands()...)
	cmds = append(cmds, storageCommands()...)
	cmds = append(cmds, configCommands()...)
	cmds = append(cmds, unitsCommands()...)
	cmds = append(cmds, fleetCommands()...)
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func (a *app) loadConfig() error {
	path, explicit := a.configPath, a.configPath != ""
	if !explicit {
		if p := a.getenv("AGENTD_CONFIG"); p != "" {
			path, explicit = p, true
		}
	}
	cfg, err := config.Load(path, explicit, a.getenv)
	if err != nil {
		return err
	}
	if a.dbURL != "" {
		cfg.DatabaseURL = a.dbURL
	}
	a.cfg = cfg
	return nil
}

// meter shows the progress of long work on stderr: a live line on a terminal, a log line
// every 30 s elsewhere.
func (a *app) meter(what, unit string) *progress.Meter {
	return progress.Start(a.out.Stderr, what, progress.Options{
		Terminal: cli.IsTerminal(a.out.Stderr), Unit: unit,
		Logger: slog.New(slog.NewTextHandler(a.out.Stderr, nil)),
	})
}

func (a *app) appName(what string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("agentctl/%s/%d/%s", host, os.Getpid(), what)
}

// connect opens one connection (schema work, short commands).
func (a *app) connect(ctx context.Context, what string) (*pgx.Conn, error) {
	pc, err := a.cfg.PoolConfig(a.appName(what), a.getenv)
	if err != nil {
		return nil, cli.WithCode(cli.ExitUsage, err)
	}
	conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		return nil, cli.WithCode(cli.ExitConnect, fmt.Errorf("connect to database %q: %w; check --database-url, $DATABASE_URL or the PG* variables", pc.ConnConfig.Database, err))
	}
	return conn, nil
}

// pool opens a pool on an archive database at this binary's schema version.
func (a *app) pool(ctx context.Context, what string) (*pgxpool.Pool, error) {
	pc, err := a.cfg.PoolConfig(a.appName(what), a.getenv)
	if err != nil {
		return nil, cli.WithCode(cli.ExitUsage, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, cli.WithCode(cli.ExitConnect, fmt.Errorf("connect to database %q: %w", pc.ConnConfig.Database, err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, cli.WithCode(cli.ExitConnect, fmt.Errorf("connect to database %q: %w; check --database-url, $DATABASE_URL or the PG* variables", pc.ConnConfig.Database, err))
	}
	if err := schema.Check(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %q: %w", pc.ConnConfig.Database, err)
	}
	return pool, nil
}
