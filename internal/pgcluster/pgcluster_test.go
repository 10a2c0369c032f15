package pgcluster

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A private cluster starts, answers, restarts (cutting its sessions) and answers again.
func TestStartRestartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, "", Options{MaxConnections: 50})
	if err == ErrNoPostgres {
		t.Skip("SKIPPED LOUDLY: " + err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	}()
	for _, url := range []string{c.URL("postgres"), c.TCPURL("postgres")} {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		var max string
		if err := conn.QueryRow(ctx, "SHOW max_connections").Scan(&max); err != nil || max != "50" {
			t.Fatalf("max_connections %q, %v", max, err)
		}
		if url == c.URL("postgres") {
			if err := c.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
				t.Fatal("a session survived the restart")
			}
		}
		conn.Close(ctx)
	}
}
