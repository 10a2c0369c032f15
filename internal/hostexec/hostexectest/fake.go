// Package hostexectest gives tests a hostexec.Runner that answers only the commands it was
// told of and fails the test on any other: no test runs a host command by accident, and a
// command the code under test starts unexpectedly is a failure, not a silent success.
package hostexectest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fitsarchive/agentd/internal/hostexec"
)

// Reply is what a fake command prints and how it ends.
type Reply struct {
	Stdout, Stderr string
	ExitCode       int // non-zero: the command fails with a *hostexec.Error carrying it
}

// Fake is a Runner that answers from rules, the first that matches; commands no rule
// matches fail the test.
type Fake struct {
	t     testing.TB
	mu    sync.Mutex
	rules []rule
	calls []string
}

type rule struct {
	prefix []string
	reply  func(argv []string) Reply
	real   bool
}

// New returns a Fake that fails t on any command it was not told of.
func New(t testing.TB) *Fake { return &Fake{t: t} }

// On answers every command whose argv (the command's name, then its arguments) starts with
// prefix, with reply.
func (f *Fake) On(reply Reply, prefix ...string) *Fake {
	return f.OnFunc(func([]string) Reply { return reply }, prefix...)
}

// OnFunc answers every command whose argv starts with prefix with what reply returns for it.
func (f *Fake) OnFunc(reply func(argv []string) Reply, prefix ...string) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{prefix: prefix, reply: reply})
	return f
}

// Real lets the commands whose argv starts with prefix run for real (through hostexec.Exec:
// e.g. wipefs on an image file, a real blank proof).
func (f *Fake) Real(prefix ...string) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{prefix: prefix, real: true})
	return f
}

// Run implements hostexec.Runner.
func (f *Fake) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	argv := append([]string{name}, args...)
	f.mu.Lock()
	f.calls = append(f.calls, strings.Join(argv, " "))
	var match *rule
	for i := range f.rules {
		if len(argv) >= len(f.rules[i].prefix) && slices.Equal(argv[:len(f.rules[i].prefix)], f.rules[i].prefix) {
			match = &f.rules[i]
			break
		}
	}
	f.mu.Unlock()
	if match == nil {
		f.t.Errorf("hostexectest: a command the test did not expect: %s", strings.Join(argv, " "))
		return nil, nil, &hostexec.Error{Argv: argv, ExitCode: 127, Err: errors.New("not expected by the test")}
	}
	if match.real {
		return hostexec.Exec{}.Run(ctx, name, args...)
	}
	r := match.reply(argv)
	if r.ExitCode != 0 {
		stderr := strings.TrimSpace(r.Stderr)
		if stderr == "" {
			stderr = strings.TrimSpace(r.Stdout)
		}
		return []byte(r.Stdout), []byte(r.Stderr), &hostexec.Error{Argv: argv, ExitCode: r.ExitCode, Stderr: stderr,
			Err: fmt.Errorf("exit status %d", r.ExitCode)}
	}
	return []byte(r.Stdout), []byte(r.Stderr), nil
}

// Calls are the commands run so far, each its argv joined by spaces.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}
