package instancemeta

import (
	"context"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/aemmtest"
)

func TestEphemeralDevicesFromAEMM(t *testing.T) {
	// AEMM's default metadata maps ephemeral0 to sdb.
	devs, err := EphemeralDevices(context.Background(), aemmtest.Start(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !devs["sdb"] || !devs["xvdb"] || devs["xvda"] {
		t.Fatalf("devices %v, want sdb and xvdb only", devs)
	}
}

func TestUnreachableMetadataIsAnError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := EphemeralDevices(ctx, "http://127.0.0.1:1"); err == nil {
		t.Fatal("no error from an unreachable metadata service")
	}
}
