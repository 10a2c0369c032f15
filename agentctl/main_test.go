package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// agentctlBin is the real binary, built once for the package's tests.
var agentctlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agentctl-test")
	if err != nil {
		panic(err)
	}
	agentctlBin = filepath.Join(dir, "agentctl")
	if out, err := exec.Command("go", "build", "-o", agentctlBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// agentctl runs the binary with args and a clean environment plus env.
func agentctl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(agentctlBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run agentctl: %v", err)
	}
	return r
}

// jsonOf decodes the single JSON object on stdout.
func jsonOf(t *testing.T, r result) map[string]any {
	t.Helper()
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", r.stdout)
	}
	return v
}
