// Command storagebench measures what the storage agent costs while nothing happens: the
// real agentd, storage enabled and no queue, watching whole mirrors (the captured clean
// state of mdraid/testdata/trees) for a minute; it prints the CPU time agentd used and its
// resident memory (current and peak) from /proc. Targets: CPU ≈ 0, RSS < 30 MiB.
// (The time from a degraded array to the add is measured on the real kernel:
// go test -run x -bench DegradedToAdd -benchtime 3x ./internal/storagevm.)
//
//	go run ./bench/storagebench -for 60s
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	watch := flag.Duration("for", time.Minute, "how long to watch")
	flag.Parse()
	if err := run(*watch); err != nil {
		fmt.Fprintln(os.Stderr, "storagebench:", err)
		os.Exit(1)
	}
}

func run(watch time.Duration) error {
	work, err := os.MkdirTemp("", "storagebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "agentd")
	if out, err := exec.Command("go", "build", "-o", bin, "./agentd").CombinedOutput(); err != nil {
		return fmt.Errorf("build agentd (run from the repository root): %v\n%s", err, out)
	}
	tree, err := filepath.Abs("mdraid/testdata/trees/clean")
	if err != nil {
		return err
	}
	cfg := filepath.Join(work, "agentd.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[storage]\nmode = \"enabled\"\nproc_root = %q\nsys_root = %q\n",
		filepath.Join(tree, "proc"), filepath.Join(tree, "sys"))), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(bin, "--name", "bench", "--config", cfg, "--state", filepath.Join(work, "s.db"),
		"--socket", filepath.Join(work, "s.sock"), "--lock-dir", work, "--log-level", "warn")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	time.Sleep(2 * time.Second) // started, first look done
	cpu0, err := cpuSeconds(cmd.Process.Pid)
	if err != nil {
		return err
	}
	time.Sleep(watch)
	cpu1, err := cpuSeconds(cmd.Process.Pid)
	if err != nil {
		return err
	}
	rss, hwm, err := memory(cmd.Process.Pid)
	if err != nil {
		return err
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	fmt.Printf("agentd --storage enabled, no queue, two whole mirrors watched for %s\n\n", watch)
	fmt.Printf("| CPU used | share of one core | RSS | peak RSS |\n|---:|---:|---:|---:|\n")
	fmt.Printf("| %.3f s | %.4f%% | %.1f MiB | %.1f MiB |\n", cpu1-cpu0, 100*(cpu1-cpu0)/watch.Seconds(), rss, hwm)
	return nil
}

// cpuSeconds is utime+stime of pid (fields 14 and 15 of /proc/PID/stat, in clock ticks).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

// memory is VmRSS and VmHWM of pid, in MiB.
func memory(pid int) (rss, hwm float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm, nil
}
