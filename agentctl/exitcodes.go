package main

import (
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/rollcall"
	"github.com/fitsarchive/agentd/internal/schema"
	"github.com/fitsarchive/agentd/pgdump"
	"github.com/fitsarchive/agentd/pgsync"
)

// exitClasses are the error classes of the packages agentctl's commands run that have an
// exit code of their own (style.md, "Command-line contract"); anything else failing is 1, a
// connection 3. A package that adds a sentinel worth its own code is listed here.
var exitClasses = []cli.Class{
	{Err: schema.ErrNotArchive, Code: cli.ExitWrong},
	{Err: schema.ErrTooNew, Code: cli.ExitWrong},
	{Err: schema.ErrOutdated, Code: cli.ExitWrong},
	{Err: schema.ErrNoSchema, Code: cli.ExitWrong},
	{Err: schema.ErrNotEmpty, Code: cli.ExitRefused},
	{Err: schema.ErrNotFitsStorage, Code: cli.ExitWrong},
	{Err: pgsync.ErrConnect, Code: cli.ExitConnect},
	{Err: pgsync.ErrNotEmpty, Code: cli.ExitRefused},
	{Err: pgsync.ErrBadMap, Code: cli.ExitUsage},
	{Err: pgsync.ErrNoTable, Code: cli.ExitWrong},
	{Err: pgsync.ErrPlan, Code: cli.ExitWrong},
	{Err: pgsync.ErrValue, Code: cli.ExitFailed},
	{Err: pgdump.ErrNotDump, Code: cli.ExitWrong},
	{Err: pgdump.ErrInserts, Code: cli.ExitWrong},
	{Err: pgdump.ErrUnreadable, Code: cli.ExitConnect},
	{Err: rollcall.ErrBadRoot, Code: cli.ExitRefused},
	{Err: rollcall.ErrTooManyMissing, Code: cli.ExitRefused},
}
