package main

// The command line is github.com/spf13/cobra's, the library of kubectl, gh and docker: command
// groups with their own help, `help CMD`, suggestions for mistyped commands, help on stdout,
// --version, and shell completion, all in one well-kept place instead of a dispatcher of our
// own. (ff/v4, tailscale's, was the other candidate: smaller, but without completion or
// suggestions.) Commands keep declaring their flags on a Go flag.FlagSet; cobra takes them
// through pflag, and single-dash long flags (-json), which Go's flag package accepted, are
// still accepted with a warning.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/config"
)

// groups are the summaries of command groups (the first word of several commands).
var groups = map[string]string{
	"calcache": "the calibration cache: rebuild it, show an observation's, check the rules",
	"db":       "create, migrate and inspect the archive database",
	"enqueue":  "fill a work queue",
	"fleet":    "spot instances on EC2 for a big rebuild: launch, watch, terminate",
	"previews": "make the FITS files' preview images again",
	"queue":    "inspect and repair the work queues",
	"storage":  "the md mirrors and LVM under the database",
}

const exitCodes = `Exit codes: 0 ok, 1 failed, 2 usage, 3 cannot connect or read the source, 4 wrong database
or schema, 5 refused for safety, 6 finished with problems. --json prints one JSON object on
stdout, errors included; logs and progress go to stderr.`

// newRoot builds the command tree; the commands run over a.
func newRoot(ctx context.Context, a *app, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:                        "agentctl",
		Short:                      "operate the archive's database, queues and hosts",
		Long:                       "agentctl: operate the archive's database, queues and hosts.\n\n" + exitCodes,
		Version:                    cli.Version(),
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
		Args:                       unknownSubcommand,
		RunE:                       func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("agentctl {{.Version}}\n")
	root.PersistentFlags().BoolVar(&a.out.JSON, "json", false, "print one JSON object on stdout")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	parents := map[string]*cobra.Command{"": root}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		parent := root
		for i, w := range words[:len(words)-1] {
			key := strings.Join(words[:i+1], " ")
			g, ok := parents[key]
			if !ok {
				g = &cobra.Command{Use: w, Short: groups[key], Args: unknownSubcommand, SuggestionsMinimumDistance: 2,
					RunE: func(cc *cobra.Command, _ []string) error { return cc.Help() }}
				parents[key] = g
				parent.AddCommand(g)
			}
			parent = g
		}
		parent.AddCommand(leaf(ctx, a, c, words[len(words)-1]))
	}
	return root
}

// unknownSubcommand refuses a word after a group that names none of its commands, with
// the nearest ones (cobra suggests so for the root only).
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return errors.New(msg)
}

// leaf is the cobra command of c.
func leaf(ctx context.Context, a *app, c *command, word string) *cobra.Command {
	long := c.summary
	if c.help != "" {
		long += ".\n\n" + strings.TrimSpace(c.help)
	}
	cc := &cobra.Command{
		Use:   strings.TrimSpace(word + " " + c.args),
		Short: c.summary,
		Long:  long,
		Args:  cobra.MaximumNArgs(c.maxArgs),
		RunE: func(_ *cobra.Command, args []string) error {
			a.ran = true
			if err := a.loadConfig(); err != nil {
				if !c.noDB {
					return cli.WithCode(cli.ExitUsage, err)
				}
				// A command that needs no database still reads the config (the storage
				// roots, the agent's name); one it cannot read leaves the defaults.
				fmt.Fprintf(a.out.Stderr, "agentctl: %v; using the defaults\n", err)
				a.cfg = config.Defaults()
			}
			return c.run(ctx, a, args)
		},
	}
	fs := flag.NewFlagSet("agentctl "+c.name, flag.ContinueOnError)
	if !c.noDB {
		fs.StringVar(&a.configPath, "config", "", "config file (default "+config.DefaultPath+" when it exists)")
		fs.StringVar(&a.dbURL, "database-url", "", "PostgreSQL URL (default: $DATABASE_URL, config, PG* variables, database "+config.DefaultDatabase+")")
	}
	if c.flags != nil {
		c.flags(fs)
	}
	cc.Flags().AddGoFlagSet(fs)
	return cc
}

func run(ctx context.Context, argv []string, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{out: cli.Output{Stdout: stdout, Stderr: stderr, Classes: exitClasses}, getenv: getenv}
	root := newRoot(ctx, a, stdout, stderr) // defines --json, setting it false
	for _, arg := range argv {
		if arg == "--" {
			break
		}
		if arg == "--json" || arg == "-json" {
			a.out.JSON = true // before parsing: a parse error is JSON too
		}
	}
	root.SetArgs(cli.ModernizeArgs("agentctl", argv, stderr))
	cmd, err := root.ExecuteC()
	if err == nil {
		return cli.ExitOK
	}
	name := "agentctl"
	if cmd != nil && cmd != root {
		name = cmd.CommandPath()
	}
	var coded *cli.Error
	if !a.ran && !errors.As(err, &coded) {
		// cobra's own, before any command ran: unknown command, wrong number of arguments.
		err = cli.Usagef("%v", err)
	}
	var fw *failureWith
	if errors.As(err, &fw) {
		return a.out.FailWith(name, err, fw.extra)
	}
	return a.out.Fail(name, err)
}
