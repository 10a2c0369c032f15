package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/schema"
)

// command is one agentctl command ("db init").
type command struct {
	name    string
	summary string
	args    string // synopsis of positional arguments and command flags
	help    string // longer text and an example
	flags   func(fs *flag.FlagSet)
	run     func(ctx context.Context, a *app, args []string) error
}

// app is what a command gets: the resolved settings and where to write.
type app struct {
	out        cli.Output
	getenv     func(string) string
	configPath string
	dbURL      string
	cfg        config.Config
}

func commands() []*command {
	var cmds []*command
	cmds = append(cmds, dbCommands()...)
	cmds = append(cmds, enqueueCommands()...)
	cmds = append(cmds, queueCommands()...)
	cmds = append(cmds, statusCommands()...)
	cmds = append(cmds, transferCommands()...)
	cmds = append(cmds, rollcallCommands()...)
	cmds = append(cmds, storageCommands()...)
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func run(ctx context.Context, argv []string, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{out: cli.Output{Stdout: stdout, Stderr: stderr}, getenv: getenv}
	for _, arg := range argv {
		if arg == "--json" || arg == "-json" {
			a.out.JSON = true
		}
	}
	cmds := commands()
	if len(argv) == 0 || argv[0] == "help" || argv[0] == "--help" || argv[0] == "-h" {
		if len(argv) > 1 {
			return run(ctx, append(argv[1:], "--help"), stdout, stderr, getenv)
		}
		usage(stderr, cmds)
		if len(argv) == 0 {
			return cli.ExitUsage
		}
		return cli.ExitOK
	}
	cmd, rest := findCommand(cmds, argv)
	if cmd == nil {
		return a.out.Fail("agentctl", cli.Usagef("unknown command %q; run agentctl help", strings.Join(argv, " ")))
	}
	fs := flag.NewFlagSet("agentctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&a.configPath, "config", "", "config file (default "+config.DefaultPath+" when it exists)")
	fs.StringVar(&a.dbURL, "database-url", "", "PostgreSQL URL (default: $DATABASE_URL, config, PG* variables, database "+config.DefaultDatabase+")")
	fs.BoolVar(&a.out.JSON, "json", false, "print one JSON object on stdout")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: agentctl %s %s\n\n%s\n", cmd.name, cmd.args, cmd.summary)
		if cmd.help != "" {
			fmt.Fprintf(stderr, "\n%s\n", strings.TrimSpace(cmd.help))
		}
		fmt.Fprintf(stderr, "\nflags:\n")
		cli.PrintFlags(stderr, fs)
	}
	if err := fs.Parse(interleave(fs, rest)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return a.out.Fail("agentctl", cli.Usagef("%v", err))
	}
	if err := a.loadConfig(); err != nil {
		return a.out.Fail("agentctl", cli.WithCode(cli.ExitUsage, err))
	}
	if err := cmd.run(ctx, a, fs.Args()); err != nil {
		var fw *failureWith
		if errors.As(err, &fw) {
			return a.out.FailWith("agentctl "+cmd.name, err, fw.extra)
		}
		return a.out.Fail("agentctl "+cmd.name, err)
	}
	return cli.ExitOK
}

// interleave moves flags written after positional arguments in front of them, so that
// "agentctl queue retry 'N2020*' --json" works as an operator expects.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			pos = append(pos, arg)
			continue
		}
		flags = append(flags, arg)
		name := strings.TrimLeft(arg, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, append([]string{"--"}, pos...)...)
}

func findCommand(cmds []*command, argv []string) (*command, []string) {
	var best *command
	bestLen := 0
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(words) <= len(argv) && len(words) > bestLen && strings.Join(argv[:len(words)], " ") == c.name {
			best, bestLen = c, len(words)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, argv[bestLen:]
}

func usage(w io.Writer, cmds []*command) {
	fmt.Fprintf(w, "agentctl: operate the archive's database, queues and hosts.\n\nusage: agentctl COMMAND [flags]\n\ncommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun agentctl COMMAND --help for a command's flags and an example.\n"+
		"Exit codes: 0 ok, 1 failed, 2 usage, 3 cannot connect/read, 4 wrong database or schema,\n"+
		"5 refused for safety, 6 finished with problems.\n")
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
