package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/systemd"
)

// install-units writes the rendered files under --root, for the binary and config named,
// with the config's previews directory writable; it refuses a binary that does not exist
// (exit 2, nothing written); --dry-run prints and writes nothing.
func TestInstallUnits(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "agentd.toml")
	os.WriteFile(cfg, []byte("storage_root = \"/data/fits\"\n"), 0o644)
	env := []string{"AGENTD_CONFIG=" + cfg}

	r := agentctl(t, env, "install-units", "--root", root, "--binary", "/opt/agentd/agentd")
	if r.code != 2 || !strings.Contains(r.stderr, "--binary /opt/agentd/agentd") || !strings.Contains(r.stderr, "install agentd there first") {
		t.Fatalf("a missing binary: exit %d, %s", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("files written for a missing binary: %v", entries)
	}

	bin := filepath.Join(root, "opt", "agentd", "agentd")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	r = agentctl(t, env, "install-units", "--root", root, "--binary", "/opt/agentd/agentd", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "ExecStart=/opt/agentd/agentd --name storage --storage enabled --no-queues --state /var/lib/agentd-storage/storage.db --config "+cfg) {
		t.Fatalf("--dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); !os.IsNotExist(err) {
		t.Fatalf("--dry-run wrote files: %v", err)
	}

	r = agentctl(t, env, "install-units", "--root", root, "--binary", "/opt/agentd/agentd", "--json")
	files, _ := jsonOf(t, r)["files"].([]any)
	want, err := systemd.Units(systemd.UnitOptions{Binary: "/opt/agentd/agentd", Agentctl: "/opt/agentd/agentctl", Config: cfg, Writable: []string{"/data/fits/previews"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || len(files) != len(want) {
		t.Fatalf("install: exit %d, %d files listed, want %d\n%s", r.code, len(files), len(want), r.stderr)
	}
	for _, f := range want {
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil || string(got) != f.Content {
			t.Errorf("%s: %v; installed content differs from the rendering", f.Path, err)
		}
	}
	queueUnit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/agentd@.service"))
	if !strings.Contains(string(queueUnit), "ReadWritePaths=-/data/fits/previews") {
		t.Errorf("the queue unit may not write the previews directory:\n%s", queueUnit)
	}
	// Again: the files are replaced (no leftovers of the temporary names).
	if r := agentctl(t, env, "install-units", "--root", root, "--binary", "/opt/agentd/agentd"); r.code != 0 || !strings.Contains(r.stdout, "next: systemd-sysusers") {
		t.Fatalf("second install: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system/.*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// swap-on with nothing configured has nothing to do; a plain file is no swap device; its two
// halves (--prepare, --activate) are one or the other.
func TestSwapOnRefusals(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(file, nil, 0o644)
	if r := agentctl(t, nil, "swap-on", "--device", file); r.code != 1 || !strings.Contains(r.stderr, "not a block device") {
		t.Fatalf("a plain file: exit %d, %s", r.code, r.stderr)
	}
	if r := agentctl(t, nil, "swap-on"); r.code != 0 || !strings.Contains(r.stdout, "nothing to do") {
		t.Fatalf("no device: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if r := agentctl(t, nil, "swap-on", "--device", file, "--prepare", "--activate"); r.code != 2 || !strings.Contains(r.stderr, "give one, or neither") {
		t.Fatalf("both halves: exit %d, %s; want a usage error", r.code, r.stderr)
	}
}
