package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command's --help, and the groups' and the root's, as operators read them: golden
// files (go test ./agentctl -run TestHelpGolden -update rewrites them after a deliberate
// change; read the diff).
func TestHelpGolden(t *testing.T) {
	t.Parallel()
	pages := [][]string{{}, {"db"}, {"queue"}, {"storage"}, {"enqueue"}}
	for _, c := range commands() {
		pages = append(pages, strings.Fields(c.name))
	}
	for _, page := range pages {
		name := strings.Join(append([]string{"agentctl"}, page...), "_")
		r := agentctl(t, nil, append(page, "--help")...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s --help: exit %d, stderr %q", name, r.code, r.stderr)
			continue
		}
		path := filepath.Join("testdata", "help", name+".txt")
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no golden file (run with -update): %v", name, err)
			continue
		}
		if string(want) != r.stdout {
			t.Errorf("%s --help differs from %s (run with -update after a deliberate change):\n%s", name, path, r.stdout)
		}
	}
}
