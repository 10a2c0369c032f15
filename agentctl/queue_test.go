package main

import (
	"context"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// claimed adds in-progress rows held by holder, claimed ago (an interval) ago; one of them
// set in progress without any claim columns, as FitsStorage's own pop() does.
func claimedRows(t *testing.T, url string) {
	t.Helper()
	db := pgtest.Pool(t, url)
	_, err := db.Exec(context.Background(), `INSERT INTO ingestqueue (filename, path, sortkey, inprogress, claim_token, owner, holder, claimed_at, lease_until)
		VALUES ('old1.fits', '', 'a1', true, gen_random_uuid(), gen_random_uuid(), 'hostA/11/rebuild/ingest-0', now() - interval '2 hours', now() + interval '1 minute'),
		       ('old2.fits', '', 'a2', true, gen_random_uuid(), gen_random_uuid(), 'hostA/11/rebuild/ingest-1', now() - interval '1 hour', now() + interval '1 minute'),
		       ('new.fits', '', 'a3', true, gen_random_uuid(), gen_random_uuid(), 'hostB/22/rebuild/ingest-0', now(), now() + interval '1 minute'),
		       ('other.fits', '', 'a4', true, gen_random_uuid(), gen_random_uuid(), 'hostA/111/rebuild/ingest-0', now(), now() + interval '1 minute'),
		       ('fitsstorage.fits', '', 'a5', true, NULL, NULL, NULL, NULL, NULL)`)
	if err != nil {
		t.Fatal(err)
	}
}

func TestQueueStatusListsStuckItems(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	claimedRows(t, url)
	env := []string{"DATABASE_URL=" + url}
	r := agentctl(t, env, "queue", "status", "--queue", "ingest", "--stuck", "30m", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	q := jsonOf(t, r)["queues"].([]any)[0].(map[string]any)
	// Every in-progress row is counted: the four leased ones and the one without a lease.
	if q["in_progress"].(float64) != 5 || q["expired"].(float64) != 0 {
		t.Fatalf("in_progress %v, expired %v; want 5 and 0 (FitsStorage's unleased row is in progress)", q["in_progress"], q["expired"])
	}
	stuck := q["stuck"].([]any)
	var names []string
	for _, s := range stuck {
		m := s.(map[string]any)
		names = append(names, m["label"].(string))
		if m["label"] == "old1.fits" && (m["holder"] != "hostA/11/rebuild/ingest-0" || m["age_seconds"].(float64) < 7000) {
			t.Fatalf("stuck entry %v: want its holder and an age of 2 hours", m)
		}
	}
	if strings.Join(names, ",") != "fitsstorage.fits,old1.fits,old2.fits" {
		t.Fatalf("stuck items %v; want the row with no claim time, then the two claimed over 30m ago, oldest first", names)
	}
	r = agentctl(t, env, "queue", "status", "--queue", "ingest", "--stuck", "30m")
	if r.code != 0 || !strings.Contains(r.stdout, "3 claimed longer than 30m0s ago") || !strings.Contains(r.stdout, "old1.fits") {
		t.Fatalf("text status (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestQueueReleaseByHolder(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	claimedRows(t, url)
	env := []string{"DATABASE_URL=" + url}
	// No terminal and no --yes: refused, nothing released.
	r := agentctl(t, env, "queue", "release", "--holder", "hostA/11/rebuild")
	if r.code != 5 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("without confirmation: exit %d, stderr %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `put back 2 ingest items held by hostA/11/rebuild in database`) {
		t.Fatalf("the question does not name how many and where:\n%s", r.stderr)
	}
	db := pgtest.Pool(t, url)
	count := func(sql string) int {
		var n int
		if err := db.QueryRow(context.Background(), sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM ingestqueue WHERE inprogress`); n != 5 {
		t.Fatalf("%d in progress after a refused release, want 5", n)
	}
	r = agentctl(t, env, "queue", "release", "--holder", "hostA/11/rebuild", "--yes", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	out := jsonOf(t, r)
	if out["held"].(float64) != 2 || len(out["released"].([]any)) != 2 {
		t.Fatalf("release result %v; want the process's 2 items (not hostA/111's)", out)
	}
	if n := count(`SELECT count(*) FROM ingestqueue WHERE filename IN ('old1.fits', 'old2.fits') AND NOT inprogress AND attempts = 0 AND claim_token IS NULL`); n != 2 {
		t.Fatalf("%d of the released rows are pending with no attempt, want 2", n)
	}
	if n := count(`SELECT count(*) FROM ingestqueue WHERE inprogress`); n != 3 {
		t.Fatalf("%d in progress after the release, want the other holders' 3", n)
	}
	r = agentctl(t, env, "queue", "release", "--holder", "nobody", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "no item is held by nobody") {
		t.Fatalf("release of an unknown holder: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := agentctl(t, env, "queue", "release"); r.code != 2 {
		t.Fatalf("release without --holder: exit %d, want 2", r.code)
	}
}
