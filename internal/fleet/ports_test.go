package fleet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// The agents' metrics ports come one after the other below the ephemeral range, skipping
// one in use.
func TestPortPickerSkipsPortsInUse(t *testing.T) {
	p := newPortPicker(rand.New(rand.NewPCG(1, 2)))
	first, err := p.pick()
	if err != nil {
		t.Fatal(err)
	}
	if first >= p.end {
		t.Fatalf("port %d inside the ephemeral range (from %d)", first, p.end)
	}
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", first+1))
	if err != nil {
		t.Skipf("port %d taken by someone else: %v", first+1, err)
	}
	defer busy.Close()
	second, err := p.pick()
	if err != nil {
		t.Fatal(err)
	}
	if second <= first+1 {
		t.Fatalf("picked %d after %d with %d in use", second, first, first+1)
	}
}
