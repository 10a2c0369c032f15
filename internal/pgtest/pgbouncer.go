package pgtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgBouncer starts Debian's pgbouncer in transaction pooling mode in front of the server of
// dbURL, with a small server pool (poolSize connections per database and user, so that
// transactions of one client land on different server connections, as on a busy pooler),
// and returns the URL to use instead (same database and user). It stops when the test ends.
// Without pgbouncer installed the test fails under CI (scripts/test.sh installs it) and is
// skipped loudly elsewhere.
func PgBouncer(t testing.TB, dbURL string, poolSize int) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pgtest: pgbouncer is not installed (scripts/test.sh installs Debian's)")
		}
		t.Skip("SKIPPED LOUDLY: pgbouncer is not installed (apt-get install pgbouncer)")
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("pgtest: pgbouncer: %v", err)
	}
	// A free port: listen, note it, let go (pgbouncer binds it a moment later).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "pgbouncer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	server := fmt.Sprintf("host=%s port=%d user=%s", cfg.Host, cfg.Port, cfg.User)
	if cfg.Password != "" {
		server += " password=" + cfg.Password
	}
	ini := fmt.Sprintf(`[databases]
* = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = %d
max_client_conn = 2000
max_db_connections = %d
server_reset_query =
ignore_startup_parameters = extra_float_digits,statement_timeout,lock_timeout
logfile = %s
`, server, port, poolSize, poolSize, filepath.Join(dir, "pgbouncer.log"))
	iniPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{iniPath}
	cmd := exec.Command(bin, args...)
	if os.Geteuid() == 0 {
		// pgbouncer refuses to run as root: it runs as the cluster's user.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: pgbouncer must not run as root and there is no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chmod(dir, 0o777)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgtest: start pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() // owner: this helper; ends with pgbouncer
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgtest: pgbouncer exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: pgbouncer does not listen on %d: %s", port, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Path: "/" + cfg.Database}
	u.RawQuery = url.Values{"host": {"127.0.0.1"}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}.Encode()
	return u.String()
}
