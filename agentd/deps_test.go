package main

import (
	"os/exec"
	"strings"
	"testing"
)

// agentd runs on every host; the transfer (pgsync) and rollcall belong to agentctl, and the
// exit-code classes live with each binary's commands, so agentd links neither.
func TestAgentdLinksNoOperatorCommands(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"/pgsync", "/pgdump", "/internal/rollcall"} {
			if strings.HasSuffix(pkg, banned) && strings.HasPrefix(pkg, "github.com/fitsarchive/agentd") {
				t.Errorf("agentd links %s", pkg)
			}
		}
	}
}
