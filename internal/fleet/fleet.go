// Package fleet rehearses a rebuild by several agentd processes on one machine, the way the
// archive runs one on many hosts: a fresh storage tree (written just now, so that most items
// are first deferred by ingest's modification window), the queue filled by enqueue, M real
// agentd processes with K workers each and a short lease, some of them killed with SIGKILL
// shortly after the start and replaced by fresh ones, every core kept busy meanwhile. It then
// checks what must hold: every file ingested exactly once, no queue row left, every agent
// that was not killed exiting 0 by itself (--empty), no claim counted lost, and no item
// failed by agentd's poison guard unless the rehearsal interrupted its holders as often
// (such items are re-armed, as an operator would, and must then be ingested).
//
// The agentd stress test and bench/fleet (the 6-process scenario, run many times) share it.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/enqueue"
	"github.com/fitsarchive/agentd/internal/sample"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/queue"
)

// Scenario describes one rehearsal.
type Scenario struct {
	Agentd      string // path of the agentd binary
	DatabaseURL string // an archive database with an empty queue
	// AgentURL is where the agents connect (default DatabaseURL), e.g. through a pooler;
	// the checks always use DatabaseURL.
	AgentURL  string
	Env       []string // more environment for the agents, e.g. AGENTD_POOLER=pgbouncer
	Dir       string   // work directory: storage tree, state files, locks, logs
	Nights    int      // nights of sample data (8 FITS files and an obslog each; default 40)
	Procs     int      // agentd processes at the start (default 6)
	Workers   int      // workers of each (default 3)
	Kill      int      // processes killed with SIGKILL, and as many fresh ones started (default 2)
	KillAfter time.Duration
	Lease     time.Duration // the agents' --lease (default 5s)
	Busy      bool          // keep every core busy with spinning goroutines
	// Chaos, when set, kills ChaosFraction of the running agents (at least one) every
	// Chaos with SIGKILL and starts as many fresh ones, until the queue is drained.
	Chaos         time.Duration
	ChaosFraction float64 // default 0.1
	// StopAfter, when set, SIGSTOPs one running agent then (the one holding the most
	// claims), for twice the lease and until the others have rescued its claims (at most
	// six leases), and SIGCONTs it: its late completions must be fenced (counted lost by
	// it, nothing ingested twice).
	StopAfter time.Duration
	// RestartDB, when set, is called once, RestartAfter into the run or once RestartAtDone
	// of the queued items are done, whichever comes first: the database restarts under the
	// agents (pg_ctl restart -m fast), which must fail nothing. RestartAtDone (a fraction,
	// e.g. 0.5) ties the restart to the work rather than the clock, so that it falls
	// mid-run on a fast machine and a slow one alike.
	RestartDB     func(context.Context) error
	RestartAfter  time.Duration
	RestartAtDone float64
	// OnKill, when set, is told of each agent killed with SIGKILL, as it dies (its holder
	// in the queue names its pid and its name: host/pid/name).
	OnKill func(name string, pid int, at time.Time)
	// ClaimLatency, when set, serves each agent's metrics on a port of its own and scrapes
	// them every second: the claim statements' latency over the whole fleet (Report.Claims).
	ClaimLatency bool
	Timeout      time.Duration // the whole run (default 5m)
	Seed         uint64        // picks the processes to kill
	Log          io.Writer     // progress lines (nil: none)
}

// Report is what a rehearsal found.
type Report struct {
	Files, FITS  int // in the tree: ingestable, of which valid FITS
	Diskfiles    int
	Duplicates   int // files with more than one diskfile
	NotCanonical int // files without exactly one present and canonical diskfile
	Headers      int
	QueueRows    int // ingest queue rows left (pending, claimed or failed)
	Killed       []string
	Stopped      string         // the agent SIGSTOPped past its lease, if any
	Restarted    bool           // the database was restarted
	Exits        map[string]int // agent name → exit code (killed ones excluded)
	Lost         uint64         // claims counted lost by the agents that exited (the stopped one excepted): 0 unless the database restarted
	FencedLost   uint64         // claims the stopped agent counted lost: fenced, as they must be
	// StoppedRescued counts the claims the stopped agent held while stopped that the others
	// had taken over by the time it continued: whatever it then did with them was fenced
	// by their tokens (counted lost, or, when its first attempt had failed on a connection
	// the database restart broke, "gone on a retry" under the outcome it meant).
	StoppedRescued int
	Released       uint64 // claims put back by them (at stop, after transient errors)
	// Retried are the items agentd's poison guard failed after at least as many deaths of
	// their holders as the rehearsal caused (kills, the stop, the database restart): due
	// failures, re-armed with queue retry and ingested by one more agent.
	Retried []string
	Elapsed time.Duration
	// Claims is the histogram of the claim statements' latency summed over every agent
	// (their last scrape; with Scenario.ClaimLatency).
	Claims   Histogram
	Problems []string // each broken promise, in words
}

// OK reports whether every promise held.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func (s *Scenario) defaults() {
	if s.Nights <= 0 {
		s.Nights = 40
	}
	if s.Procs <= 0 {
		s.Procs = 6
	}
	if s.Workers <= 0 {
		s.Workers = 3
	}
	if s.Kill < 0 || s.Kill > s.Procs {
		s.Kill = 0
	}
	if s.KillAfter <= 0 {
		s.KillAfter = 800 * time.Millisecond
	}
	if s.Lease <= 0 {
		s.Lease = 5 * time.Second
	}
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Minute
	}
	if s.Log == nil {
		s.Log = io.Discard
	}
}

// agent is one running agentd.
type agent struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	metrics string // host:port of its metrics, if served
}

// Run performs the rehearsal. An error means it could not be carried out; broken promises
// are in Report.Problems.
func (s Scenario) Run(ctx context.Context) (Report, error) {
	s.defaults()
	var rep Report
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	root := filepath.Join(s.Dir, "storage")
	m, err := sample.Tree(root, sample.Options{Nights: s.Nights, Modified: time.Now()})
	if err != nil {
		return rep, fmt.Errorf("write the storage tree: %w", err)
	}
	rep.Files, rep.FITS = len(m.Ingestable), len(m.FITS)
	db, err := pgxpool.New(ctx, s.DatabaseURL)
	if err != nil {
		return rep, err
	}
	defer db.Close()
	if _, err := enqueue.Ingest(ctx, db, enqueue.Options{Root: root}); err != nil {
		return rep, fmt.Errorf("enqueue: %w", err)
	}
	var queued int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE fail_dt = `+queue.NotFailed).Scan(&queued); err != nil {
		return rep, fmt.Errorf("count the queued items: %w", err)
	}
	start := time.Now()
	fmt.Fprintf(s.Log, "fleet: %d files queued; %d agents × %d workers, lease %s, %d killed after %s, busy cores %v\n",
		rep.Files, s.Procs, s.Workers, s.Lease, s.Kill, s.KillAfter, s.Busy)

	if s.Busy {
		var stop atomic.Bool
		var spin sync.WaitGroup
		for i := 0; i < runtime.NumCPU(); i++ {
			spin.Add(1)
			go func() { // owner: Run; exits when stop is set
				defer spin.Done()
				for x := 0; !stop.Load(); x++ {
					_ = x * x
				}
			}()
		}
		defer func() { stop.Store(true); spin.Wait() }()
	}

	var agents []*agent // appended under agentsMu (the scraper reads it)
	var agentsMu sync.Mutex
	ports := newPortPicker(rand.New(rand.NewPCG(s.Seed, 0x9047))) // used by startAgent, in Run's goroutine only
	startAgent := func(name string) error {
		logf, err := os.Create(filepath.Join(s.Dir, name+".log"))
		if err != nil {
			return err
		}
		args := []string{"--name", name, "--queue", "ingest", "--workers", fmt.Sprint(s.Workers),
			"--empty", "--fast-rebuild", "--lease", s.Lease.String(), "--grace", "5s",
			"--storage-root", root, "--lock-dir", filepath.Join(s.Dir, "locks"),
			"--state", filepath.Join(s.Dir, name+".db"), "--socket", filepath.Join(s.Dir, name+".sock")}
		var metricsAddr string
		if s.ClaimLatency {
			port, err := ports.pick()
			if err != nil {
				logf.Close()
				return err
			}
			metricsAddr = fmt.Sprintf("127.0.0.1:%d", port)
			args = append(args, "--metrics-addr", metricsAddr)
		}
		cmd := exec.Command(s.Agentd, args...)
		agentURL := s.AgentURL
		if agentURL == "" {
			agentURL = s.DatabaseURL
		}
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + agentURL}, s.Env...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("start agentd %s: %w", name, err)
		}
		a := &agent{name: name, cmd: cmd, done: make(chan struct{}), metrics: metricsAddr}
		go func() { // owner: Run; exits when the process does
			a.err = cmd.Wait()
			logf.Close()
			close(a.done)
		}()
		agentsMu.Lock()
		agents = append(agents, a)
		agentsMu.Unlock()
		return nil
	}
	defer func() { // nothing outlives the rehearsal
		for _, a := range agents {
			a.cmd.Process.Kill() //nolint:errcheck // already gone is fine
			<-a.done
		}
	}()
	for i := 0; i < s.Procs; i++ {
		if err := startAgent(fmt.Sprintf("f%d", i)); err != nil {
			return rep, err
		}
	}
	claims := newClaimScraper()
	stopScraping := func() {}
	if s.ClaimLatency {
		scrapeCtx, stopScrape := context.WithCancel(ctx)
		var scraping sync.WaitGroup
		scraping.Add(1)
		go func() { // owner: Run; ends with stopScrape
			defer scraping.Done()
			claims.run(scrapeCtx, func() []*agent {
				agentsMu.Lock()
				defer agentsMu.Unlock()
				return slices.Clone(agents)
			})
		}()
		stopScraping = func() { stopScrape(); scraping.Wait() }
		defer stopScraping()
	}
	interrupted := newInterruptions()
	var noting sync.WaitGroup // the later looks at the claims of killed agents
	defer noting.Wait()
	noteHeld := func(like string) {
		if err := interrupted.note(ctx, db, like, s.Lease/2); err != nil {
			fmt.Fprintf(s.Log, "fleet: %v (a poison-guard failure of these items will count as a violation)\n", err)
		}
	}
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed^0x5eed))
	killed := map[string]bool{}
	fresh := 0
	var stopped *agent // SIGSTOPped (and continued later)
	live := func() []*agent {
		var out []*agent
		for _, a := range agents {
			select {
			case <-a.done:
			default:
				if !killed[a.name] && a.name != rep.Stopped { // the stopped one lives on, to be seen fenced
					out = append(out, a)
				}
			}
		}
		return out
	}
	// killSome kills n running agents (never the stopped one) and starts as many fresh.
	killSome := func(n int) error {
		running := live()
		n = min(n, len(running))
		var names []string
		for _, i := range rng.Perm(len(running))[:n] {
			a := running[i]
			if err := a.cmd.Process.Kill(); errors.Is(err, os.ErrProcessDone) {
				continue // it exited by itself meanwhile: its exit code is checked at the end
			} else if err != nil {
				return fmt.Errorf("kill %s: %w", a.name, err)
			}
			<-a.done
			// What it held as it died, and what it had asked for just before: a claim the
			// server commits after the client is gone, seen before its lease runs out, so
			// looked for again a quarter, a half and three quarters of a lease later.
			like := HolderLike(a.name, a.cmd.Process.Pid)
			noteHeld(like)
			for q := 1; q <= 3; q++ {
				noting.Add(1)
				time.AfterFunc(time.Duration(q)*s.Lease/4, func() { defer noting.Done(); noteHeld(like) })
			}
			if s.OnKill != nil {
				s.OnKill(a.name, a.cmd.Process.Pid, time.Now())
			}
			killed[a.name] = true
			rep.Killed = append(rep.Killed, a.name)
			names = append(names, a.name)
		}
		for i := 0; i < n; i++ {
			if err := startAgent(fmt.Sprintf("r%d", fresh)); err != nil {
				return err
			}
			fresh++
		}
		fmt.Fprintf(s.Log, "fleet: killed %s with SIGKILL, started %d fresh agents\n", strings.Join(names, ", "), n)
		return nil
	}
	after := func(d time.Duration) <-chan time.Time {
		if d <= 0 {
			return nil
		}
		return time.After(d)
	}
	killC, chaosC, stopC, restartC := after(s.KillAfter), after(s.Chaos), after(s.StopAfter), after(s.RestartAfter)
	contWaits := 0   // the continuation's delays while the stopped agent's claims are not yet rescued
	heldStopped := 0 // the claims the stopped agent held once stopped (-1: unknown)
	if s.Kill == 0 {
		killC = nil
	}
	if s.RestartDB == nil {
		restartC = nil
	}
	var contC, stopNoteC <-chan time.Time
	drained := false
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	stoppedRunning := func() bool { // the stopped agent, stopped or continued, until it exits
		if stopped == nil {
			return false
		}
		select {
		case <-stopped.done:
			return false
		default:
			return true
		}
	}
	for ctx.Err() == nil && (len(live()) > 0 || stoppedRunning()) {
		select {
		case <-ctx.Done():
		case <-killC:
			if err := killSome(s.Kill); err != nil {
				return rep, err
			}
		case <-chaosC:
			if !drained {
				frac := s.ChaosFraction
				if frac <= 0 {
					frac = 0.1
				}
				if err := killSome(max(1, int(frac*float64(len(live()))+0.5))); err != nil {
					return rep, err
				}
				chaosC = after(s.Chaos)
			}
		case <-stopC:
			if running := live(); len(running) > 0 && !drained {
				// The agent that holds the most claims: stopping one that holds none (just
				// started, or between claims) would show no fencing. While none holds any
				// (the files still deferred, say), the stop waits until the queue is drained.
				holding := holdingClaims(ctx, db, running)
				if len(holding) == 0 {
					stopC = time.After(s.Lease / 4)
					continue
				}
				stopped = holding[rng.IntN(len(holding))]
				rep.Stopped = stopped.name
				stopped.cmd.Process.Signal(syscall.SIGSTOP) //nolint:errcheck // gone is fine
				contC = time.After(2 * s.Lease)
				// What it holds once the claims it had sent have committed, and before any
				// lease it renewed just before can expire.
				stopNoteC = time.After(s.Lease / 2)
				fmt.Fprintf(s.Log, "fleet: stopped %s (SIGSTOP) for at least %s, until its claims are rescued\n", stopped.name, 2*s.Lease)
			}
		case <-stopNoteC:
			noteHeld(HolderLike(stopped.name, stopped.cmd.Process.Pid))
			heldStopped = stillHeld(ctx, db, HolderLike(stopped.name, stopped.cmd.Process.Pid))
			stopNoteC = nil
			if heldStopped == 0 && !drained {
				// It had ended what it held between the look and the signal: its stop
				// would show no fencing. It goes on, and the stop is tried again.
				stopped.cmd.Process.Signal(syscall.SIGCONT) //nolint:errcheck // gone is fine
				fmt.Fprintf(s.Log, "fleet: %s held no claim once stopped; continued it (SIGCONT), the stop is tried again\n", stopped.name)
				stopped, rep.Stopped, contC = nil, "", nil
				stopC = time.After(s.Lease / 4)
			}
		case <-contC:
			// Its leases have expired; it stays stopped until the others have rescued what it
			// held (a claim it still holds when it wakes is simply released or completed, and
			// shows no fencing), up to four more leases: a database restart meanwhile, or
			// agents idle between claims, can delay the rescue.
			if n := stillHeld(ctx, db, HolderLike(stopped.name, stopped.cmd.Process.Pid)); n != 0 && contWaits < 16 {
				contWaits++
				contC = time.After(s.Lease / 4)
				continue
			} else if n != 0 {
				fmt.Fprintf(s.Log, "fleet: %s still holds claims (%d; -1: the database did not say) after %s stopped; continuing it anyway\n",
					stopped.name, n, 6*s.Lease)
			} else if heldStopped > 0 {
				rep.StoppedRescued = heldStopped
			}
			stopped.cmd.Process.Signal(syscall.SIGCONT) //nolint:errcheck // gone is fine
			fmt.Fprintf(s.Log, "fleet: continued %s (SIGCONT)\n", stopped.name)
			contC = nil
		case <-restartC:
			restartC = nil
			fmt.Fprintf(s.Log, "fleet: restarting the database\n")
			noteHeld("%") // every holder may lose its leases while the database is down
			if err := s.RestartDB(ctx); err != nil {
				return rep, fmt.Errorf("restart the database: %w", err)
			}
			rep.Restarted = true
			fmt.Fprintf(s.Log, "fleet: the database is back\n")
		case <-tick.C:
			var left int
			if db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE fail_dt = `+queue.NotFailed).Scan(&left) != nil {
				break
			}
			if left == 0 {
				drained = true
			}
			if s.RestartDB != nil && !rep.Restarted && s.RestartAtDone > 0 && !drained && float64(queued-left) >= s.RestartAtDone*float64(queued) {
				restartC = time.After(0) // now, in the restart's own case
			}
		}
	}

	// The poison guard's failures the rehearsal caused are re-armed, as an operator would,
	// and ingested by one more agent; any other is a violation.
	noting.Wait()
	if ctx.Err() == nil {
		due, undue, err := interrupted.retryDue(ctx, db)
		if err != nil {
			return rep, err
		}
		for _, g := range due {
			rep.Retried = append(rep.Retried, g.String())
		}
		for _, g := range undue {
			rep.Problems = append(rep.Problems, "failed by the poison guard with fewer interruptions than deaths counted: "+g.String())
		}
		if len(due) > 0 {
			fmt.Fprintf(s.Log, "fleet: %d items failed by the poison guard after as many interruptions by the rehearsal; retried: %s\n", len(due), names(due))
			if err := startAgent("again"); err != nil {
				return rep, err
			}
			a := agents[len(agents)-1]
			select {
			case <-a.done:
			case <-ctx.Done():
			}
		}
	}

	rep.Exits = map[string]int{}
	for _, a := range agents {
		if killed[a.name] {
			continue
		}
		select {
		case <-a.done:
		case <-ctx.Done():
			rep.Problems = append(rep.Problems, fmt.Sprintf("agent %s did not exit by itself within %s", a.name, s.Timeout))
			continue
		}
		code := 0
		var ee *exec.ExitError
		if errors.As(a.err, &ee) {
			code = ee.ExitCode()
		}
		rep.Exits[a.name] = code
		if code != 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("agent %s exited %d (log %s)", a.name, code, filepath.Join(s.Dir, a.name+".log")))
		}
		if st, err := state.Open(filepath.Join(s.Dir, a.name+".db"), time.Second); err == nil {
			c, _ := st.Counters("ingest")
			if a.name == rep.Stopped {
				rep.FencedLost += c["lost"]
			} else {
				rep.Lost += c["lost"]
			}
			rep.Released += c["released"]
			if left, _ := st.Outstanding("ingest"); len(left) > 0 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("agent %s exited with %d claims in its journal", a.name, len(left)))
			}
			st.Close()
		}
	}
	rep.Elapsed = time.Since(start)
	stopScraping()
	rep.Claims = claims.total()
	if err := s.check(context.WithoutCancel(ctx), db, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// portPicker hands out TCP ports of 127.0.0.1 for the agents' metrics, one after the other
// below the kernel's ephemeral range: a port free a moment ago inside that range may be
// given meanwhile to one of the hundreds of connections the fleet opens (an agent then
// failed to start: address already in use).
type portPicker struct{ next, end int }

func newPortPicker(rng *rand.Rand) *portPicker {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 12000 {
				low = n
			}
		}
	}
	start := low - 10000
	return &portPicker{next: start + rng.IntN(5000), end: low}
}

// pick is the next port that is free now.
func (p *portPicker) pick() (int, error) {
	for ; p.next < p.end; p.next++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.next))
		if err != nil {
			continue
		}
		ln.Close()
		p.next++
		return p.next - 1, nil
	}
	return 0, errors.New("no free port left below the ephemeral range for the agents' metrics")
}

// check reads the database's verdict into rep.
func (s Scenario) check(ctx context.Context, db *pgxpool.Pool, rep *Report) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM diskfile),
		(SELECT count(*) FROM (SELECT 1 FROM diskfile GROUP BY filename, path HAVING count(*) > 1) d),
		(SELECT count(*) FROM file f WHERE (SELECT count(*) FROM diskfile d WHERE d.file_id = f.id AND d.present AND d.canonical) <> 1),
		(SELECT count(*) FROM header),
		(SELECT count(*) FROM ingestqueue)`).Scan(&rep.Diskfiles, &rep.Duplicates, &rep.NotCanonical, &rep.Headers, &rep.QueueRows)
	if err != nil {
		return fmt.Errorf("read the outcome: %w", err)
	}
	if rep.Diskfiles != rep.Files {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d diskfiles for %d files", rep.Diskfiles, rep.Files))
	}
	if rep.Duplicates != 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d files ingested more than once", rep.Duplicates))
	}
	if rep.NotCanonical != 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d files without exactly one present, canonical diskfile", rep.NotCanonical))
	}
	if rep.Headers != rep.FITS {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d header rows for %d FITS files", rep.Headers, rep.FITS))
	}
	if rep.QueueRows != 0 {
		rows, _ := db.Query(ctx, `SELECT filename, coalesce(inprogress, false), coalesce(holder, ''), coalesce(error, '') FROM ingestqueue LIMIT 10`)
		var left []string
		for rows.Next() {
			var name, holder, msg string
			var inprogress bool
			if rows.Scan(&name, &inprogress, &holder, &msg) == nil {
				left = append(left, fmt.Sprintf("%s (in progress %v, holder %q, error %q)", name, inprogress, holder, msg))
			}
		}
		rows.Close()
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d ingest queue rows left: %s", rep.QueueRows, strings.Join(left, "; ")))
	}
	// A claim is counted lost when its holder finds it rescued: fenced, as it must be. It
	// happens to a live agent only when its heartbeats could not renew its leases in time:
	// the database restart cuts every session, and hundreds of agents reconnect at once.
	if rep.Lost != 0 && !rep.Restarted {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d claims counted lost by agents that were not killed", rep.Lost))
	}
	return nil
}

// stillHeld counts the claims in the ingest queue whose holder is like like; -1 when the
// database cannot say (within 2 s).
func stillHeld(ctx context.Context, db *pgxpool.Pool, like string) int {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE inprogress AND holder LIKE $1`, like).Scan(&n); err != nil {
		return -1
	}
	return n
}

// holdingClaims returns the agents of running that hold the most claims in the ingest queue
// now (none when none holds any, or the database cannot say).
func holdingClaims(ctx context.Context, db *pgxpool.Pool, running []*agent) []*agent {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second) // the chaos goes on without
	defer cancel()
	rows, err := db.Query(ctx, `SELECT holder FROM ingestqueue WHERE inprogress AND holder IS NOT NULL`)
	if err != nil {
		return nil
	}
	holders, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil
	}
	var out []*agent
	most := 1
	for _, a := range running {
		mark := fmt.Sprintf("/%d/%s/", a.cmd.Process.Pid, a.name) // see HolderLike
		n := 0
		for _, h := range holders {
			if strings.Contains(h, mark) {
				n++
			}
		}
		switch {
		case n > most:
			out, most = []*agent{a}, n
		case n == most:
			out = append(out, a)
		}
	}
	return out
}
