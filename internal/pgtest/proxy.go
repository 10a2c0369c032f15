package pgtest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/netdelay"
)

// Proxy is a TCP proxy in front of the test server, for tests of what a client does when
// its connection breaks: Cut closes every connection, Down refuses new ones, and LoseAnswer
// makes the next statement containing a marker reach the server while its answer never
// reaches the client (the server runs and commits it; the client sees the connection drop).
type Proxy struct {
	ln     net.Listener
	target func() (net.Conn, error)
	mu     sync.Mutex
	conns  map[net.Conn]bool
	down   bool
	marker [][]byte // the next client message holding any of them loses its answer
	lost   int
}

// NewProxy starts a proxy to the server of url and returns it with the URL to use instead
// (same database, user and password). It stops when the test ends.
func NewProxy(t testing.TB, dbURL string) (*Proxy, string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: dialer(cfg), conns: map[net.Conn]bool{}}
	go p.accept() // owner: the proxy; exits when ln is closed
	t.Cleanup(p.Close)
	return p, viaPort(cfg, ln.Addr().(*net.TCPAddr).Port)
}

// Delayed returns the URL of dbURL's database through a proxy that delays each direction
// by oneWay (package netdelay: a round trip gains twice that). It stops when the test ends.
func Delayed(t testing.TB, dbURL string, oneWay time.Duration) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("pgtest: delayed: %v", err)
	}
	p, err := netdelay.Start(dialer(cfg), oneWay)
	if err != nil {
		t.Fatalf("pgtest: delayed: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return viaPort(cfg, p.Addr().Port)
}

// dialer connects to the server of cfg, by its Unix socket or TCP.
func dialer(cfg *pgx.ConnConfig) func() (net.Conn, error) {
	host, port := cfg.Host, cfg.Port
	return func() (net.Conn, error) {
		if filepath.IsAbs(host) {
			return net.Dial("unix", filepath.Join(host, ".s.PGSQL."+strconv.Itoa(int(port))))
		}
		return net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
}

// viaPort is the URL of cfg's database, user and password at 127.0.0.1:port.
func viaPort(cfg *pgx.ConnConfig, port int) string {
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Path: "/" + cfg.Database}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	u.RawQuery = url.Values{"host": {"127.0.0.1"}, "port": {fmt.Sprint(port)}, "sslmode": {"disable"}}.Encode()
	return u.String()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := p.target()
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		go p.pipe(c, s) // owner: the proxy; both end when either side closes
	}
}

// pipe copies both ways; a client message holding the armed marker is forwarded, then the
// client is cut while the server's answer is read and dropped.
func (p *Proxy) pipe(client, server net.Conn) {
	closeBoth := func() {
		client.Close()
		server.Close()
		p.mu.Lock()
		delete(p.conns, client)
		delete(p.conns, server)
		p.mu.Unlock()
	}
	go func() { // owner: pipe; server → client
		io.Copy(client, server) //nolint:errcheck // ends when either side closes
		closeBoth()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hit := false
			for _, m := range p.marker {
				hit = hit || bytes.Contains(buf[:n], m)
			}
			if hit {
				p.marker = nil
				p.lost++
			}
			p.mu.Unlock()
			if hit {
				// The statement reaches the server; the client never hears back. The server's
				// answer is drained so that it can finish and commit.
				client.Close()
				server.Write(buf[:n])                                   //nolint:errcheck // best effort
				server.SetReadDeadline(time.Now().Add(2 * time.Second)) //nolint:errcheck
				io.Copy(io.Discard, server)                             //nolint:errcheck
				closeBoth()
				return
			}
			if _, err := server.Write(buf[:n]); err != nil {
				closeBoth()
				return
			}
		}
		if err != nil {
			closeBoth()
			return
		}
	}
}

// Cut closes every open connection through the proxy.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Down makes the proxy refuse new connections (true) or accept them again (false).
func (p *Proxy) Down(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// LoseAnswer arms the proxy: the next client message that contains any of the markers (an
// argument's bytes as sent: text, or e.g. a uuid's 16 bytes) is delivered to the server, and
// its connection is cut before any answer comes back.
func (p *Proxy) LoseAnswer(markers ...[]byte) {
	p.mu.Lock()
	p.marker = markers
	p.mu.Unlock()
}

// Lost says how many answers the proxy has dropped.
func (p *Proxy) Lost() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lost
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Down(true)
	p.Cut()
}
