// Command agentctl is the operator's command line for the archive's operations: the schema,
// the work queues, and (in later releases) upgrades, rollcall and spot fleets. Run
// `agentctl help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
