package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/lockfile"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/queue"
)

// listen binds the control socket at path: mode 0660 with the socket group (root, the
// agent's user and the group may connect; the kernel checks the mode at connect, and each
// connection's peer credentials are checked again, SO_PEERCRED), or 0600 when the group does
// not exist. A socket file another agentd answers on is refused, naming its pid; a stale one
// (its agentd died) is replaced.
func (s *statusServer) listen(path string) error {
	// The socket's directory is agentd's own runtime directory: nobody else may write to
	// it (or replace the socket).
	if err := lockfile.PrivateDir(filepath.Dir(path)); err != nil {
		return cli.WithCode(cli.ExitRefused, fmt.Errorf("control socket: %w", err))
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		who := "a running agentd"
		if st, err := agentstatus.Fetch(ctx, path); err == nil {
			who = fmt.Sprintf("agentd %s (pid %d)", st.Name, st.PID)
		}
		return cli.WithCode(cli.ExitRefused, fmt.Errorf("control socket %s is in use by %s; stop it, or choose another --name or --socket", path, who))
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	s.gid = -1
	mode := os.FileMode(0o600)
	if name := s.cfg.Agentd.SocketGroup; name != "" {
		g, err := user.LookupGroup(name)
		switch {
		case err != nil:
			s.logger.Info("control socket: no group "+name+"; only this agent's user and root may use it", "socket", path)
		default:
			gid, _ := strconv.Atoi(g.Gid)
			// Under a unit with Group= the socket is born in the group: no chown needed
			// (the units' system call filter refuses chown).
			if err := giveToGroup(path, gid); err != nil {
				s.logger.Warn("control socket: cannot give it to group "+name+"; only this agent's user and root may use it", "err", err)
			} else {
				s.gid, mode = gid, 0o660
			}
		}
	}
	// Its mode must not follow the umask.
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	s.path = path
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.handle)
	mux.HandleFunc("GET /events", s.handleEvents)
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, r *http.Request) { s.handleDrain(w, r, true) })
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, r *http.Request) { s.handleDrain(w, r, false) })
	mux.HandleFunc("POST /storage/pause", func(w http.ResponseWriter, r *http.Request) { s.handleStoragePause(w, r, true) })
	mux.HandleFunc("POST /storage/resume", func(w http.ResponseWriter, r *http.Request) { s.handleStoragePause(w, r, false) })
	srv := &http.Server{Handler: s.peerChecked(mux), ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, peerOf(c))
		}}
	s.srv = srv
	go func() { // owner: statusServer; exits when close shuts the server down
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("control socket", "err", err)
		}
	}()
	return nil
}

type peerKey struct{}

// peer is who is on the other end of a connection (SO_PEERCRED, SO_PEERGROUPS), as the
// kernel saw it at connect.
type peer struct {
	ok       bool
	pid      int32
	uid, gid uint32
	groups   []uint32 // supplementary
}

func peerOf(c net.Conn) peer {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{}
	}
	var p peer
	_ = raw.Control(func(fd uintptr) {
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err == nil {
			p = peer{ok: true, pid: cred.Pid, uid: cred.Uid, gid: cred.Gid, groups: peerGroups(int(fd))}
		}
	})
	return p
}

// peerGroups reads the peer's supplementary groups (SO_PEERGROUPS, Linux 4.13): taken at
// connect, so neither /proc (hidden by ProtectProc=) nor a reused pid is involved.
func peerGroups(fd int) []uint32 {
	buf := make([]uint32, 64)
	for {
		size := uint32(len(buf) * 4)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
		switch {
		case errno == unix.ERANGE && int(size/4) > len(buf):
			buf = make([]uint32, size/4)
			continue
		case errno != 0:
			return nil
		}
		return buf[:size/4]
	}
}

// String names the peer for logs and the drain record.
func (p peer) String() string {
	name := "?"
	if u, err := user.LookupId(strconv.Itoa(int(p.uid))); err == nil {
		name = u.Username
	}
	return fmt.Sprintf("uid %d (%s), pid %d", p.uid, name, p.pid)
}

// allowed says whether the peer may use the socket: root, the agent's own user, or a
// process in the socket group (primary or supplementary).
func (s *statusServer) allowed(p peer) bool {
	if !p.ok {
		return false
	}
	if p.uid == 0 || int(p.uid) == os.Geteuid() {
		return true
	}
	if s.gid < 0 {
		return false
	}
	// The peer's supplementary groups, as the kernel holds them (what it checked the
	// socket's mode against), not as /etc/group lists them.
	return int(p.gid) == s.gid || slices.Contains(p.groups, uint32(s.gid))
}

// peerChecked answers 403 to a peer that may not use the socket.
func (s *statusServer) peerChecked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(peer)
		if !s.allowed(p) {
			group := s.cfg.Agentd.SocketGroup
			s.logger.Warn("control socket: refused a peer", "peer", p.String())
			writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf(
				"permission denied: %s is not root, this agent's user, nor in group %s", p, group)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *statusServer) handle(w http.ResponseWriter, _ *http.Request) {
	doc := agentstatus.Status{Name: s.cfg.Agentd.Name, Version: cli.Version(), PID: os.Getpid(), Role: s.cfg.Role, Started: s.started,
		Queues: []queue.QueueState{}, Lifetime: map[string]map[string]uint64{}}
	s.mu.Lock()
	pool, storage, db, sp := s.pool, s.storage, s.db, s.spot
	s.mu.Unlock()
	if pool != nil {
		doc.Queues = pool.State()
	}
	if sp != nil {
		snap := sp.snapshot()
		doc.Spot = &snap
	}
	if storage != nil {
		snap := storage.Snapshot()
		doc.Storage = &snap
	}
	if db != nil {
		doc.Database, _ = db.get()
	}
	if d, err := s.st.Drained(); err == nil && d != nil {
		doc.Drained = &agentstatus.Drain{Since: d.Since, By: d.By}
	}
	for name := range s.cfg.Agentd.Queues {
		if c, err := s.st.Counters(name); err == nil {
			doc.Lifetime[name] = c
		}
	}
	doc.Events, _ = s.st.Events(50)
	writeJSON(w, http.StatusOK, doc)
}

// handleEvents serves the recent events: ?n= of them (default 100, at most state.MaxEvents).
func (s *statusServer) handleEvents(w http.ResponseWriter, r *http.Request) {
	n := 100
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "n: want a positive number"})
			return
		}
	}
	evs, err := s.st.Events(min(n, state.MaxEvents))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	if evs == nil {
		evs = []queue.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}

// handleDrain drains (stop claiming; running items finish) or resumes the agent, and
// records it in the state file so that a restart keeps it.
func (s *statusServer) handleDrain(w http.ResponseWriter, r *http.Request, on bool) {
	p, _ := r.Context().Value(peerKey{}).(peer)
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	var rec *state.Drain
	if on {
		if d, err := s.st.Drained(); err == nil && d != nil {
			rec = d // already drained: keep when and by whom
		} else {
			rec = &state.Drain{Since: time.Now().UTC(), By: p.String()}
		}
	}
	if err := s.st.SetDrain(rec); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "record the drain: " + err.Error()})
		return
	}
	s.mu.Lock()
	pool := s.pool
	s.mu.Unlock()
	if pool != nil {
		pool.Drain(on)
	}
	if on {
		s.logger.Warn("drained: no new claims until agentctl resume", "by", rec.By)
		writeJSON(w, http.StatusOK, map[string]any{"drained": true, "since": rec.Since, "by": rec.By})
		return
	}
	s.logger.Info("resumed: claiming again", "by", p.String())
	writeJSON(w, http.StatusOK, map[string]any{"drained": false})
}

// handleStoragePause holds (or releases) the storage agent's actions on the arrays an
// operator's command works on (?arrays=md0,md1&for=10m&by=…). A pause lapses by itself.
func (s *statusServer) handleStoragePause(w http.ResponseWriter, r *http.Request, on bool) {
	s.mu.Lock()
	watcher := s.storage
	s.mu.Unlock()
	if watcher == nil {
		writeJSON(w, http.StatusOK, map[string]any{"storage": false}) // no storage agent here: nothing to hold
		return
	}
	var arrays []string
	for _, a := range strings.Split(r.URL.Query().Get("arrays"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			arrays = append(arrays, a)
		}
	}
	if len(arrays) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "no arrays given"})
		return
	}
	if !on {
		watcher.Resume(arrays)
		s.logger.Info("storage actions resumed", "arrays", arrays)
		writeJSON(w, http.StatusOK, map[string]any{"storage": true, "paused": false, "arrays": arrays})
		return
	}
	d, err := time.ParseDuration(r.URL.Query().Get("for"))
	if err != nil || d <= 0 || d > time.Hour {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "for: a duration up to 1h"})
		return
	}
	p, _ := r.Context().Value(peerKey{}).(peer)
	by := strings.TrimSpace(r.URL.Query().Get("by") + " (" + p.String() + ")")
	until := time.Now().Add(d)
	watcher.Pause(arrays, until, by)
	s.logger.Info("storage actions paused", "arrays", arrays, "until", until.Format(time.RFC3339), "by", by)
	writeJSON(w, http.StatusOK, map[string]any{"storage": true, "paused": true, "arrays": arrays, "until": until})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// giveToGroup makes the socket at path belong to group gid, unless it already does.
func giveToGroup(path string, gid int) error {
	if fi, err := os.Lstat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) == gid {
			return nil
		}
	}
	return os.Lchown(path, -1, gid)
}
