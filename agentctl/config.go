package main

import (
	"context"
	"fmt"
	"io"

	"github.com/fitsarchive/agentd/internal/config"
)

func configCommands() []*command {
	return []*command{{
		name:    "config",
		summary: "show the effective settings and where each came from",
		args:    "[--config FILE] [--json]",
		help: `Settings come from flags, then the environment (DATABASE_URL, AGENTD_*), then the config
file (` + config.DefaultPath + ` or --config), then libpq's PG* variables (for the database),
then the defaults. This lists each setting's effective value and which of those set it.
Passwords are never shown. It makes no connection.

example:
  agentctl config --config /etc/agentd/agentd.toml`,
		run: func(ctx context.Context, a *app, _ []string) error {
			path := a.configPath
			if path == "" {
				path = a.getenv("AGENTD_CONFIG")
			}
			flags := map[string]string{}
			if a.dbURL != "" {
				flags["database_url"] = "--database-url"
			}
			settings, err := config.Explain(a.cfg, path, a.getenv, flags)
			if err != nil {
				return err
			}
			a.out.Result(map[string]any{"settings": settings}, func(w io.Writer) {
				width := 0
				for _, s := range settings {
					width = max(width, len(s.Key))
				}
				for _, s := range settings {
					v := s.Value
					if v == "" {
						v = `""`
					}
					fmt.Fprintf(w, "%-*s %-50s %s\n", width, s.Key, v, s.Source)
				}
			})
			return nil
		},
	}}
}
