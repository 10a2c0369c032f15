package main

import (
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/schema"
)

// exitClasses are the error classes of what agentd runs that have an exit code of their own
// (style.md, "Command-line contract"); anything else failing is 1, a connection 3.
var exitClasses = []cli.Class{
	{Err: schema.ErrNotArchive, Code: cli.ExitWrong},
	{Err: schema.ErrTooNew, Code: cli.ExitWrong},
	{Err: schema.ErrOutdated, Code: cli.ExitWrong},
	{Err: schema.ErrNoSchema, Code: cli.ExitWrong},
}
