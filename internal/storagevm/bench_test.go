package storagevm

import (
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkDegradedToAdd measures, on the real kernel, the time from the arrays turning
// degraded (mdadm --assemble --scan returning, stamped in the guest) to agentd's first
// mdadm --add (its event, same clock): agentd watches from before, woken by /proc/mdstat's
// change event (rescan set to 30 s so that only the event can explain a fast answer).
// Target ≤ 1 s. Each iteration is one boot (~20 s): run with -benchtime 3x.
//
//	go test -run x -bench DegradedToAdd -benchtime 3x ./internal/storagevm
func BenchmarkDegradedToAdd(b *testing.B) {
	v := setup(b)
	img := func(name string) string { return filepath.Join(v.work, name+".img") }
	for _, n := range []string{"ssd0", "ebs0", "ssd1", "ebs1"} {
		disk(b, img(n), diskSize)
	}
	created := v.boot(b, v.initramfs(b, "create", nil), "create", map[string]string{
		"ssd0": img("ssd0"), "ebs0": img("ebs0"), "ssd1": img("ssd1"), "ebs1": img("ebs1")}, 3*time.Minute, "")
	migrate := v.initramfs(b, "migrate", map[string]string{
		"etc/mdadm/mdadm.conf": string(created["mdadm.conf"]),
		"etc/agentd.toml":      "[storage]\nmode = \"enabled\"\nrescan = \"30s\"\n",
	})
	var total float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		disks := freshDisks(b, v, "bench", img)
		res := v.boot(b, migrate, "assemble", disks, 3*time.Minute, "wait=20")
		_, firstAdd := agentEvents(b, v, "bench", res["agent.db"])
		ms, ok := latency(res["t-assembled"], firstAdd)
		if !ok {
			b.Fatalf("no add issued:\n%s", res["agentd.log"])
		}
		total += ms
	}
	b.ReportMetric(total/float64(b.N), "ms-to-add")
}
