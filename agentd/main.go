// Command agentd is the per-host daemon of the archive: it services the PostgreSQL work
// queues (ingest; calcache later) with crash-safe leases, journals its claims in a local
// bbolt file, and serves a read-only status socket for agentctl. Run `agentd --help`.
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
