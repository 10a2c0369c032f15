// Package pgcluster runs a PostgreSQL cluster of its own (Debian's initdb and pg_ctl) in a
// directory, on a port of its own, for work that restarts its server — the rehearsal's
// chaos — and so must never use the cluster the tests share. As root it runs the server as
// the postgres user (PostgreSQL refuses root).
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a running private cluster.
type Cluster struct {
	Dir            string // data in Dir/data, socket in Dir/sock, log in Dir/server.log
	Port           int
	MaxConnections int
	bin            string
	cred           *syscall.Credential // the postgres user's, when run as root
}

// Options size the cluster.
type Options struct {
	MaxConnections int    // max_connections (default 200)
	Extra          string // more postgresql.conf lines
}

// ErrNoPostgres is returned when no PostgreSQL server binaries are installed.
var ErrNoPostgres = errors.New("no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql)")

// BinDir finds the newest installed PostgreSQL server binaries.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", ErrNoPostgres
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Start creates a cluster in a new directory under parent ("" = the system's temporary
// directory) and starts it.
func Start(ctx context.Context, parent string, opt Options) (*Cluster, error) {
	if opt.MaxConnections <= 0 {
		opt.MaxConnections = 200
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "agentd-pgcluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, MaxConnections: opt.MaxConnections, bin: bin}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return nil, fmt.Errorf("running as root, the server needs the postgres user: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	if out, err := c.run(ctx, "initdb", "-D", c.data(), "-U", "postgres", "--auth-local=trust", "--auth-host=trust",
		"-E", "UTF8", "--locale=C.UTF-8"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if out, err := c.run(ctx, "/bin/mkdir", "-p", c.Socket()); err != nil {
		return nil, fmt.Errorf("mkdir %s: %w\n%s", c.Socket(), err, out)
	}
	conf := fmt.Sprintf(`
# agentd private cluster (internal/pgcluster)
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = %d
shared_buffers = 128MB
max_wal_size = 2GB
fsync = off                    # a rehearsal: restarts are clean (pg_ctl -m fast)
autovacuum_naptime = 1s        # a fleet's coordinator (README.md): the queue's dead rows go soon
log_min_messages = warning
%s
`, c.Port, c.Socket(), c.MaxConnections, opt.Extra)
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, werr := f.WriteString(conf)
	if err := errors.Join(werr, f.Close()); err != nil {
		return nil, err
	}
	if out, err := c.run(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		return nil, fmt.Errorf("pg_ctl start: %w\n%s%s", err, out, c.logTail())
	}
	return c, nil
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// Socket is the directory of the server's unix socket.
func (c *Cluster) Socket() string { return filepath.Join(c.Dir, "sock") }

// URL is the URL of database db over the unix socket, as the postgres user.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + db}
	u.RawQuery = url.Values{"host": {c.Socket()}, "port": {strconv.Itoa(c.Port)}}.Encode()
	return u.String()
}

// TCPURL is the URL of database db over TCP (127.0.0.1), for a proxy or a pooler between.
func (c *Cluster) TCPURL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)), Path: "/" + db}
	u.RawQuery = url.Values{"sslmode": {"disable"}}.Encode()
	return u.String()
}

// Restart restarts the server as an operator would (pg_ctl restart -m fast): sessions are
// cut, work in progress is rolled back.
func (c *Cluster) Restart(ctx context.Context) error {
	if out, err := c.run(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.Dir, "server.log"), "-m", "fast", "-w", "-t", "60", "restart"); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s%s", err, out, c.logTail())
	}
	return nil
}

// Stop stops the server and removes the cluster's directory.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
	if err != nil {
		err = fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return errors.Join(err, os.RemoveAll(c.Dir))
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(c.bin, name)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.Dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// postgresUser is the postgres user's credential: the server and pgbouncer refuse to run as
// root.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
