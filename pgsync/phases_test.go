package pgsync

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/pgdump"
)

// The phases of Transfer, each on its own: plan, stage, write, sequences and history,
// commit.

const phaseDDL = `CREATE TABLE usagelog (id serial PRIMARY KEY, uri text NOT NULL);`

func phaseSource(t *testing.T, way string) Source {
	t.Helper()
	srcURL, _ := db(t, phaseDDL+`INSERT INTO usagelog (uri) SELECT '/' || i FROM generate_series(1, 300) i;
		SELECT setval('usagelog_id_seq', 500);`)
	ctx := context.Background()
	if way == "live" {
		l, err := OpenLive(ctx, srcURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(ctx) })
		return l
	}
	d, err := OpenDump(ctx, makeDump(t, srcURL, way), nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newRun(src Source, dst *pgx.Conn, req Request) *transferRun {
	return &transferRun{src: src, dst: dst, opt: Options{Request: req}, report: func(Event) {}, start: time.Now()}
}

func stagedTables(t *testing.T, dst *pgx.Conn) int64 {
	t.Helper()
	return query[int64](t, dst, `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgsync_%' AND relpersistence = 't'`)[0]
}

// plan reads both sides, counts, and writes nothing; a plan with problems comes back with
// them as ErrPlan.
func TestPlanPhase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, way := range []string{"live", "custom"} {
		src := phaseSource(t, way)
		_, dst := db(t, phaseDDL)
		plan, err := newRun(src, dst, Request{Tables: []string{"usagelog"}}).plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tp := plan.Tables[0]
		wantRows := int64(300)
		if way != "live" {
			wantRows = -1 // a dump's rows are known once read
		}
		if tp.SourceRows != wantRows || tp.TargetRows != 0 || tp.Sequence == nil || tp.Sequence.SourceLast != 500 {
			t.Errorf("%s: plan %+v (sequence %+v)", way, tp, tp.Sequence)
		}
		if n := stagedTables(t, dst); n != 0 {
			t.Errorf("%s: the plan staged %d tables", way, n)
		}
		// The target holds a row: refused in the default mode, with the plan.
		if _, err := dst.Exec(ctx, `INSERT INTO usagelog (uri) VALUES ('/already')`); err != nil {
			t.Fatal(err)
		}
		plan, err = newRun(src, dst, Request{Tables: []string{"usagelog"}}).plan(ctx)
		if !errors.Is(err, ErrNotEmpty) || plan == nil || plan.Tables[0].TargetRows != 1 {
			t.Errorf("%s: non-empty target: %v (plan %v)", way, err, plan)
		}
	}
}

// stage puts a dump's rows in temporary tables of the target's session, which Discard
// drops; a live source stages nothing and expects the rows it counted.
func TestStagePhase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, way := range []string{"live", "plain", "directory"} {
		src := phaseSource(t, way)
		_, dst := db(t, phaseDDL)
		run := newRun(src, dst, Request{Tables: []string{"usagelog"}})
		plan, err := run.plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var done []Event
		staged, err := src.Stage(ctx, dst, plan, func(e Event) {
			if e.Done {
				done = append(done, e)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := staged.Rows(plan.Tables[0]); got != 300 {
			t.Errorf("%s: %d rows to write, want 300", way, got)
		}
		wantStaged := int64(1)
		if way == "live" {
			wantStaged = 0
		}
		if n := stagedTables(t, dst); n != wantStaged {
			t.Errorf("%s: %d staging tables, want %d", way, n, wantStaged)
		}
		if way != "live" {
			if len(done) != 1 || done[0].Phase != PhaseStage || done[0].Rows != 300 {
				t.Errorf("%s: stage events %+v", way, done)
			}
			if n := query[int64](t, dst, `SELECT count(*) FROM pg_temp.pgsync_usagelog`)[0]; n != 300 {
				t.Errorf("%s: %d staged rows", way, n)
			}
			// A plain dump's sequence values come with its data.
			if sp := plan.Tables[0].Sequence; sp.SourceLast != 500 {
				t.Errorf("%s: source sequence last %d after staging, want 500", way, sp.SourceLast)
			}
		}
		staged.Discard(ctx)
		if n := stagedTables(t, dst); n != 0 {
			t.Errorf("%s: %d staging tables left after Discard", way, n)
		}
		if n := query[int64](t, dst, `SELECT count(*) FROM usagelog`)[0]; n != 0 {
			t.Errorf("%s: staging wrote %d rows into the target table", way, n)
		}
	}
}

// lyingRows claims one row more than the source holds: the write phase's verification
// must catch the difference.
type lyingRows struct{ Staged }

func (l lyingRows) Rows(t TablePlan) int64 { return l.Staged.Rows(t) + 1 }

// write checks values first, writes each table and verifies its count; a failure anywhere
// leaves the rolled-back target as it was.
func TestWritePhase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, way := range []string{"live", "custom"} {
		src := phaseSource(t, way)
		_, dst := db(t, phaseDDL)
		run := newRun(src, dst, Request{Tables: []string{"usagelog"}})
		plan, err := run.plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		staged, err := src.Stage(ctx, dst, plan, func(Event) {})
		if err != nil {
			t.Fatal(err)
		}
		write := func(s Staged) (*Result, error) {
			tx, err := dst.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			res := &Result{Plan: plan}
			err = run.write(ctx, tx, plan, s, res)
			if err == nil {
				if n := query[int64](t, tx.Conn(), `SELECT count(*) FROM usagelog`)[0]; n != 300 {
					t.Errorf("%s: %d rows inside the transaction, want 300", way, n)
				}
			}
			return res, err
		}
		res, err := write(staged)
		if err != nil || res.Rows != 300 || len(res.Tables) != 1 || res.Tables[0].Rows != 300 {
			t.Fatalf("%s: write: %v, %+v", way, err, res)
		}
		if _, err := write(lyingRows{staged}); err == nil || !strings.Contains(err.Error(), "verify usagelog: 301 rows read, 300 written") {
			t.Errorf("%s: a count that does not match: %v, want the verification to fail", way, err)
		}
		if n := query[int64](t, dst, `SELECT count(*) FROM usagelog`)[0]; n != 0 {
			t.Errorf("%s: %d rows after the rolled-back writes", way, n)
		}
		staged.Discard(ctx)
	}
}

// sequencesAndHistory moves the id sequence past the source's last value and the largest
// id, and records the transfer, inside the transaction.
func TestSequencesAndHistoryPhase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := phaseSource(t, "live")
	_, dst := db(t, phaseDDL)
	run := newRun(src, dst, Request{Tables: []string{"usagelog"}})
	plan, err := run.plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := dst.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO usagelog (id, uri) VALUES (900, '/high')`); err != nil {
		t.Fatal(err)
	}
	res := &Result{Source: "phase test", Plan: plan, Tables: []TableResult{{Target: "usagelog", Rows: 1}}}
	if err := run.sequencesAndHistory(ctx, tx, plan, res); err != nil {
		t.Fatal(err)
	}
	if res.Tables[0].RestartAt != 901 || res.Tables[0].Sequence != "public.usagelog_id_seq" {
		t.Errorf("sequence moved to %d (%s), want 901: past max(id) 900 and the source's 500", res.Tables[0].RestartAt, res.Tables[0].Sequence)
	}
	var tables string
	if err := tx.QueryRow(ctx, `SELECT tables::text FROM `+HistoryTable+` WHERE source = 'phase test'`).Scan(&tables); err != nil || tables != `{"usagelog": 1}` {
		t.Errorf("history row %q, %v", tables, err)
	}
	tx.Rollback(ctx)
	var hist *string
	dst.QueryRow(ctx, `SELECT to_regclass($1)::text`, HistoryTable).Scan(&hist)
	if hist != nil {
		t.Errorf("the history table survived the rollback")
	}
}

// commit is where a deferred constraint of the target is checked: it fails there, and the
// transfer leaves nothing.
func TestCommitPhaseFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := phaseSource(t, "live")
	_, dst := db(t, phaseDDL+`CREATE TABLE guard (n integer);
		CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'refused at commit'; END$$;
		CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON usagelog DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW EXECUTE FUNCTION refuse();`)
	var phases []string
	_, err := Transfer(ctx, src, dst, Options{Request: Request{Tables: []string{"usagelog"}}, Progress: func(e Event) {
		if e.Start && e.Table == "" {
			phases = append(phases, e.Phase)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "commit the transfer") || !strings.Contains(err.Error(), "refused at commit") {
		t.Fatalf("transfer: %v, want the commit to fail", err)
	}
	if strings.Join(phases, ",") != "plan,sequences,commit" {
		t.Errorf("phases %v", phases)
	}
	if n := query[int64](t, dst, `SELECT count(*) FROM usagelog`)[0]; n != 0 {
		t.Errorf("%d rows after a failed commit", n)
	}
	var hist *string
	dst.QueryRow(ctx, `SELECT to_regclass($1)::text`, HistoryTable).Scan(&hist)
	if hist != nil {
		t.Errorf("a history table after a failed commit")
	}
}

// A dump's own errors come through Transfer with their class, and nothing is written.
func TestDumpErrorsThroughTransfer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srcURL, _ := db(t, phaseDDL+`INSERT INTO usagelog (uri) VALUES ('/1'), ('/2');`)
	_, dst := db(t, phaseDDL)

	ins := filepath.Join(t.TempDir(), "inserts.sql")
	if out, err := exec.Command("pg_dump", "--inserts", "-f", ins, srcURL).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v %s", err, out)
	}
	d, err := OpenDump(ctx, ins, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Transfer(ctx, d, dst, Options{Request: Request{Tables: []string{"usagelog"}}}); !errors.Is(err, pgdump.ErrInserts) {
		t.Errorf("--inserts dump: %v, want pgdump.ErrInserts", err)
	}

	// A dump of another database: none of the preset's tables.
	d, err = OpenDump(ctx, makeDump(t, srcURL, "custom"), nil)
	if err != nil {
		t.Fatal(err)
	}
	archive := pgtest.Conn(t, pgtest.NewDB(t)) // our schema: every preset table
	if _, err := Transfer(ctx, d, archive, Options{Request: Request{Presets: []string{"summit"}}}); !errors.Is(err, ErrNoTable) || !strings.Contains(err.Error(), "none of the requested tables") {
		t.Errorf("other database's dump: %v, want ErrNoTable", err)
	}
	if n := query[int64](t, dst, `SELECT count(*) FROM usagelog`)[0]; n != 0 {
		t.Errorf("failed transfers wrote %d rows", n)
	}
	if n := stagedTables(t, dst); n != 0 {
		t.Errorf("a failed staging left %d temporary tables", n)
	}
}
