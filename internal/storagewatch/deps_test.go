package storagewatch

import (
	"os/exec"
	"strings"
	"testing"
)

// The storage agent needs no database: it does not depend on the queue. The events it
// records have their own home (internal/event), and the state store no longer knows the
// queue (internal/journal joins them).
func TestStorageAgentDoesNotDependOnTheQueue(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/fitsarchive/agentd/queue" {
			t.Errorf("storagewatch depends on %s", pkg)
		}
	}
}
