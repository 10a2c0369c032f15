package main

import (
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/ec2test"
	"github.com/fitsarchive/agentd/internal/pgtest"
)

// fleetEnv points agentctl's AWS SDK at the fake EC2 endpoint (no real AWS is reachable
// here; ec2test checks the requests and answers in EC2's XML).
func fleetEnv(url string, extra ...string) []string {
	return append([]string{"AWS_ENDPOINT_URL_EC2=" + url, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
		"AWS_EC2_METADATA_DISABLED=true"}, extra...)
}

// fleet up launches tagged spot instances and says how many started; fleet status counts
// them by state with the queues' depth; fleet down asks (or needs --yes: exit 5 without)
// and terminates the live ones; missing credentials or region are named (exit 2).
func TestFleetUpStatusDown(t *testing.T) {
	t.Parallel()
	srv := ec2test.Start(t)
	srv.Capacity = 4
	env := fleetEnv(srv.URL, "DATABASE_URL="+pgtest.NewDB(t))

	r := agentctl(t, env, "fleet", "up", "--name", "r1", "--count", "6", "--image", "ami-1", "--tag", "project=archive", "--json")
	v := jsonOf(t, r)
	if r.code != 0 || v["started"] != float64(4) || v["asked"] != float64(6) {
		t.Fatalf("up: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	r = agentctl(t, env, "fleet", "status", "--name", "r1")
	if r.code != 0 || !strings.Contains(r.stdout, "fleet r1: 4 instances (4 pending)") || !strings.Contains(r.stdout, "queue ingest: 0 pending") {
		t.Fatalf("status: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if r := agentctl(t, env, "fleet", "down", "--name", "r1"); r.code != 5 || !strings.Contains(r.stderr, "terminate the 4 live instances of fleet r1") {
		t.Fatalf("down without --yes: exit %d, %s", r.code, r.stderr)
	}
	r = agentctl(t, env, "fleet", "down", "--name", "r1", "--yes", "--json")
	if terminated, _ := jsonOf(t, r)["terminated"].([]any); r.code != 0 || len(terminated) != 4 {
		t.Fatalf("down: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if r := agentctl(t, env, "fleet", "down", "--name", "r1", "--yes"); r.code != 0 || !strings.Contains(r.stdout, "no live instance") {
		t.Fatalf("down again: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}

	noCreds := fleetEnv(srv.URL, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=")
	if r := agentctl(t, noCreds, "fleet", "status"); r.code != 2 || !strings.Contains(r.stderr, "no AWS credentials: set AWS_ACCESS_KEY_ID") {
		t.Fatalf("no credentials: exit %d, %s", r.code, r.stderr)
	}
	noRegion := fleetEnv(srv.URL, "AWS_REGION=")
	if r := agentctl(t, noRegion, "fleet", "status"); r.code != 2 || !strings.Contains(r.stderr, "no AWS region") {
		t.Fatalf("no region: exit %d, %s", r.code, r.stderr)
	}
	if r := agentctl(t, env, "fleet", "up", "--count", "2"); r.code != 2 {
		t.Fatalf("up without an image: exit %d, %s", r.code, r.stderr)
	}
}
