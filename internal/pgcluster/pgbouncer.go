package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPgBouncer is returned when Debian's pgbouncer is not installed.
var ErrNoPgBouncer = errors.New("pgbouncer is not installed (apt-get install pgbouncer)")

// PgBouncer is a running pgbouncer in transaction pooling mode.
type PgBouncer struct {
	URL  string // where clients connect: same database and user as the target
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPgBouncer starts Debian's pgbouncer in transaction pooling mode in front of the
// server of target (a URL), with poolSize server connections per database and user; its
// URL has target's database and user. As root it runs as the postgres user (pgbouncer
// refuses root). A failed server login is retried after a second, not PgBouncer's default 15
// (after a database restart, clients would be refused that long).
func StartPgBouncer(ctx context.Context, target string, poolSize int) (*PgBouncer, error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		return nil, ErrNoPgBouncer
	}
	cfg, err := pgx.ParseConfig(target)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer's target: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "agentd-pgbouncer-")
	if err != nil {
		return nil, err
	}
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
max_client_conn = 10000
max_db_connections = %d
server_reset_query =
server_login_retry = 1
ignore_startup_parameters = extra_float_digits
logfile = %s
`, server, port, poolSize, poolSize, filepath.Join(dir, "pgbouncer.log"))
	iniPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, iniPath)
	if os.Geteuid() == 0 {
		cred, err := postgresUser()
		if err != nil {
			return nil, fmt.Errorf("pgbouncer must not run as root and there is no postgres user: %w", err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return nil, err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pgbouncer: %w", err)
	}
	b := &PgBouncer{Port: port, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(b.done) }() // owner: the PgBouncer; ends with the process
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-b.done:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgbouncer exited: %s%s", out.String(), log)
		case <-ctx.Done():
			b.Stop()
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			b.Stop()
			return nil, fmt.Errorf("pgbouncer does not listen on %d: %s", port, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Path: "/" + cfg.Database}
	u.RawQuery = url.Values{"host": {"127.0.0.1"}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}.Encode()
	b.URL = u.String()
	return b, nil
}

// Stop stops pgbouncer and removes its directory.
func (b *PgBouncer) Stop() {
	b.cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck // gone is fine
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill() //nolint:errcheck // gone is fine
		<-b.done
	}
	os.RemoveAll(b.dir)
}
