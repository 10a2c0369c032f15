// Package aemmtest starts the real amazon-ec2-metadata-mock for tests: the EC2 instance
// metadata service cannot be reached here, and AEMM is the real peer AWS publishes. It is
// built from the Go tool pinned in go.mod and run as its own process per test.
package aemmtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Start runs the real amazon-ec2-metadata-mock (the instance metadata service cannot be reached
// here), built from the pinned Go tool and started as its own process, as its README asks.
// config is an AEMM config file's JSON ("" = its defaults); the endpoint URL is returned.
func Start(t testing.TB, config string) string {
	t.Helper()
	return StartWith(t, config)
}

// StartWith is Start with AEMM's own arguments after the address and config: e.g. "spot",
// "--mock-delay-sec", "3" for an interruption notice three seconds after the start, or
// "--imdsv2" for token-only mode. Each call is a fresh AEMM (a notice never goes away).
func StartWith(t testing.TB, config string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "aemm")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock").CombinedOutput(); err != nil {
		t.Fatalf("build aemm: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"--hostname", "127.0.0.1", "--port", fmt.Sprint(port)}
	if config != "" {
		cfg := filepath.Join(dir, "aemm.json")
		os.WriteFile(cfg, []byte(config), 0o644)
		args = append(args, "--config-file", cfg)
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if res, err := http.Get(url + "/latest"); err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("aemm did not start listening")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url
}
