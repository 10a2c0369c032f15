package storagevm

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// BenchmarkStorageSteps measures, on the real kernel, how long the storage agent takes to
// act on each transition of a migration, on the guest's clock (stepLatencies): degraded →
// add; inactive → (grace) → run → add; recovery done → seen whole → the next mirror's add.
// agentd watches from before the arrays appear, with the default 30 s rescan, so only
// mdstat's change events and its own timers can explain a fast answer. Target ≤ 1 s per
// step. Each iteration is two boots (assembled degraded, assembled inactive), about a
// minute: run with -benchtime 3x. It prints each step's mean and worst (a step measured
// from the agent's own first sight can come out slightly negative: see stepLatencies).
//
//	go test -run x -bench StorageSteps -benchtime 3x ./internal/storagevm
func BenchmarkStorageSteps(b *testing.B) {
	v := setup(b)
	img := func(name string) string { return filepath.Join(v.work, name+".img") }
	for _, n := range []string{"ssd0", "ebs0", "ssd1", "ebs1"} {
		disk(b, img(n), diskSize)
	}
	created := v.boot(b, v.initramfs(b, "create", nil), "create", map[string]string{
		"ssd0": img("ssd0"), "ebs0": img("ebs0"), "ssd1": img("ssd1"), "ebs1": img("ebs1")}, 3*time.Minute, "")
	const grace = 3 * time.Second
	migrate := v.initramfs(b, "migrate", map[string]string{
		"etc/mdadm/mdadm.conf": string(created["mdadm.conf"]),
		"etc/agentd.toml":      "[storage]\nmode = \"enabled\"\ngrace = \"3s\"\n",
		"var/lib/agent.db":     string(created["agent.db"]),
	})
	all := map[string][]float64{}
	worst := 0.0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, phase := range []string{"assemble", "incremental"} {
			res := v.boot(b, migrate, phase, freshDisks(b, v, "bench-"+phase, img), 4*time.Minute, "")
			for _, s := range stepLatencies(b, v, phase, res, grace) {
				// md0 or md1 may go first: the step's shape is what is measured.
				name := strings.NewReplacer("md0", "mdX", "md1", "mdY").Replace(s.name)
				if phase == "assemble" && strings.Contains(name, "recovery done") {
					name += " (assembled)"
				}
				all[name] = append(all[name], s.ms)
				worst = max(worst, s.ms)
			}
		}
	}
	b.StopTimer()
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var table strings.Builder
	fmt.Fprintf(&table, "%d iteration(s) of two boots:\n\n| step | n | mean ms | worst ms |\n|---|---:|---:|---:|\n", b.N)
	for _, n := range names {
		sum, top := 0.0, math.Inf(-1)
		for _, ms := range all[n] {
			sum += ms
			top = max(top, ms)
		}
		fmt.Fprintf(&table, "| %s | %d | %.0f | %.0f |\n", n, len(all[n]), sum/float64(len(all[n])), top)
	}
	// On stdout: the benchmark's log is cut after a few lines.
	fmt.Print(table.String())
	b.ReportMetric(worst, "worst-step-ms")
}
