package pgsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// db is a scratch database made from ddl.
func db(t *testing.T, ddl string) (string, *pgx.Conn) {
	t.Helper()
	url := pgtest.NewEmptyDB(t)
	conn := pgtest.Conn(t, url)
	if ddl != "" {
		if _, err := conn.Exec(context.Background(), ddl); err != nil {
			t.Fatalf("ddl: %v\n%s", err, ddl)
		}
	}
	return url, conn
}

func transfer(t *testing.T, srcURL string, dst *pgx.Conn, opt Options) (*Result, error) {
	return transferVia(t, srcURL, dst, opt, "live")
}

// Ways to read a source in tests: live, or a pg_dump made of it now in one of its formats.
var sourceWays = []string{"live", "custom", "tar", "plain", "plain.gz", "directory"}

// transferVia reads the source database the given way.
func transferVia(t *testing.T, srcURL string, dst *pgx.Conn, opt Options, way string) (*Result, error) {
	t.Helper()
	ctx := context.Background()
	var src Source
	switch way {
	case "live":
		live, err := OpenLive(ctx, srcURL)
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close(ctx)
		src = live
	default:
		d, err := OpenDump(ctx, makeDump(t, srcURL, way), nil)
		if err != nil {
			t.Fatal(err)
		}
		src = d
	}
	return Transfer(ctx, src, dst, opt)
}

// makeDump runs the real pg_dump on the database.
func makeDump(t *testing.T, url, format string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup")
	var args []string
	switch format {
	case "custom":
		args = []string{"-Fc", "-f", path}
	case "directory":
		args = []string{"-Fd", "-f", path}
	case "tar":
		args = []string{"-Ft", "-f", path}
	case "plain", "plain.gz":
		args = []string{"-f", path}
	}
	if out, err := exec.Command("pg_dump", append(args, url)...).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	if format == "plain.gz" {
		if out, err := exec.Command("gzip", path).CombinedOutput(); err != nil {
			t.Fatalf("gzip: %v\n%s", err, out)
		}
		path += ".gz"
	}
	return path
}

func query[T any](t *testing.T, conn *pgx.Conn, sql string, args ...any) []T {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshot is the whole content of a table, one line per row, in id order.
func snapshot(t *testing.T, conn *pgx.Conn, table string) string {
	t.Helper()
	rows := query[string](t, conn, fmt.Sprintf(`SELECT x::text FROM %s x ORDER BY 1`, table))
	return strings.Join(rows, "\n")
}

// Each drift kind on its own: source DDL and rows, target DDL, and what must arrive.
func TestDriftKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		src, dst string
		req      Request
		want     map[string]string // table → snapshot
		wantErr  error
		errHas   string
		untouch  string           // table whose content must be unchanged on error
		nextFrom map[string]int64 // table → smallest acceptable next id
	}{
		{
			name: "table rename with its sequence",
			src: `CREATE TABLE archiveuser (id serial PRIMARY KEY, username text NOT NULL);
				INSERT INTO archiveuser (username) VALUES ('ann'), ('bob');
				SELECT setval('archiveuser_id_seq', 40);`,
			dst:      `CREATE TABLE users (id serial PRIMARY KEY, username text NOT NULL, orcid_id varchar(20));`,
			req:      Request{Tables: []string{"users"}, Map: Map{Tables: map[string]TableMap{"users": {OldNames: []string{"archiveuser"}}}}},
			want:     map[string]string{"users": "(1,ann,)\n(2,bob,)"},
			nextFrom: map[string]int64{"users": 41},
		},
		{
			name: "column rename",
			src: `CREATE TABLE users (id serial PRIMARY KEY, username text NOT NULL, staff boolean);
				INSERT INTO users (username, staff) VALUES ('ann', true);`,
			dst:  `CREATE TABLE users (id serial PRIMARY KEY, username text NOT NULL, gemini_staff boolean);`,
			req:  Request{Tables: []string{"users"}, Map: Map{Tables: map[string]TableMap{"users": {Rename: map[string][]string{"gemini_staff": {"staff"}}}}}},
			want: map[string]string{"users": "(1,ann,t)"},
		},
		{
			name: "one column split into three by expression",
			src: `CREATE TABLE notification (id serial PRIMARY KEY, label text, "to" text, cc text);
				INSERT INTO notification (label, "to", cc) VALUES ('a', 'pi@x', 'ngo@x,cs@x'), ('b', 'pi@y', '');`,
			dst:  `CREATE TABLE notification (id serial PRIMARY KEY, label text, piemail text, ngoemail text, csemail text);`,
			req:  Request{Tables: []string{"notification"}, Map: DefaultMap()},
			want: map[string]string{"notification": "(1,a,pi@x,ngo@x,cs@x)\n(2,b,pi@y,,)"},
		},
		{
			name: "int to bigint",
			src: `CREATE TABLE usagelog (id serial PRIMARY KEY, bytes integer);
				INSERT INTO usagelog (bytes) VALUES (2147483647);`,
			dst:  `CREATE TABLE usagelog (id bigserial PRIMARY KEY, bytes bigint);`,
			req:  Request{Tables: []string{"usagelog"}},
			want: map[string]string{"usagelog": "(1,2147483647)"},
		},
		{
			name: "bigint to int, values fit",
			src: `CREATE TABLE querylog (id bigserial PRIMARY KEY, usagelog_id bigint NOT NULL);
				INSERT INTO querylog (usagelog_id) VALUES (5), (2147483647);`,
			dst:  `CREATE TABLE querylog (id serial PRIMARY KEY, usagelog_id integer NOT NULL);`,
			req:  Request{Tables: []string{"querylog"}},
			want: map[string]string{"querylog": "(1,5)\n(2,2147483647)"},
		},
		{
			name: "bigint to int, one value does not fit",
			src: `CREATE TABLE querylog (id bigserial PRIMARY KEY, usagelog_id bigint NOT NULL);
				INSERT INTO querylog (usagelog_id) VALUES (5), (2147483648);`,
			dst: `CREATE TABLE querylog (id serial PRIMARY KEY, usagelog_id integer NOT NULL);
				INSERT INTO querylog (usagelog_id) VALUES (99);`,
			req:     Request{Tables: []string{"querylog"}, Mode: ModeTruncate},
			wantErr: ErrValue, errHas: "querylog.usagelog_id is integer, and source value 2147483648 does not fit",
			untouch: "querylog",
		},
		{
			name: "added NOT NULL column with a default",
			src: `CREATE TABLE glacier (id serial PRIMARY KEY, filename text NOT NULL);
				INSERT INTO glacier (filename) VALUES ('f');`,
			dst:  `CREATE TABLE glacier (id serial PRIMARY KEY, filename text NOT NULL, path text NOT NULL DEFAULT '');`,
			req:  Request{Tables: []string{"glacier"}},
			want: map[string]string{"glacier": "(1,f,\"\")"},
		},
		{
			name: "added NOT NULL column without a default",
			src: `CREATE TABLE glacier (id serial PRIMARY KEY, filename text NOT NULL);
				INSERT INTO glacier (filename) VALUES ('f');`,
			dst:     `CREATE TABLE glacier (id serial PRIMARY KEY, filename text NOT NULL, md5 text NOT NULL);`,
			req:     Request{Tables: []string{"glacier"}},
			wantErr: ErrPlan, errHas: "glacier.md5 is NOT NULL with no default",
			untouch: "glacier",
		},
		{
			name: "dropped column refused without a map or --allow-drop",
			src: `CREATE TABLE fileuploadlog (id serial PRIMARY KEY, filename text, invoke_pid integer);
				INSERT INTO fileuploadlog (filename, invoke_pid) VALUES ('f', 7);`,
			dst:     `CREATE TABLE fileuploadlog (id serial PRIMARY KEY, filename text);`,
			req:     Request{Tables: []string{"fileuploadlog"}},
			wantErr: ErrPlan, errHas: "source column fileuploadlog.invoke_pid has no place",
			untouch: "fileuploadlog",
		},
		{
			name: "dropped column allowed by the map",
			src: `CREATE TABLE fileuploadlog (id serial PRIMARY KEY, filename text, invoke_pid integer);
				INSERT INTO fileuploadlog (filename, invoke_pid) VALUES ('f', 7);`,
			dst:  `CREATE TABLE fileuploadlog (id serial PRIMARY KEY, filename text);`,
			req:  Request{Tables: []string{"fileuploadlog"}, Map: DefaultMap()},
			want: map[string]string{"fileuploadlog": "(1,f)"},
		},
		{
			name: "dropped column allowed by --allow-drop",
			src: `CREATE TABLE glacier (id serial PRIMARY KEY, filename text, oldcol integer);
				INSERT INTO glacier (filename, oldcol) VALUES ('f', 7);`,
			dst:  `CREATE TABLE glacier (id serial PRIMARY KEY, filename text);`,
			req:  Request{Tables: []string{"glacier"}, AllowDrop: true},
			want: map[string]string{"glacier": "(1,f)"},
		},
		{
			name: "foreign-key order, children named first",
			src: `CREATE TABLE usagelog (id serial PRIMARY KEY, uri text);
				CREATE TABLE querylog (id serial PRIMARY KEY, usagelog_id integer NOT NULL REFERENCES usagelog);
				INSERT INTO usagelog (uri) VALUES ('/a'), ('/b');
				INSERT INTO querylog (usagelog_id) VALUES (2), (1), (2);
				SELECT setval('querylog_id_seq', 1000);`,
			dst: `CREATE TABLE usagelog (id bigserial PRIMARY KEY, uri text);
				CREATE TABLE querylog (id serial PRIMARY KEY, usagelog_id bigint NOT NULL REFERENCES usagelog);`,
			req:      Request{Tables: []string{"querylog", "usagelog"}},
			want:     map[string]string{"usagelog": "(1,/a)\n(2,/b)", "querylog": "(1,2)\n(2,1)\n(3,2)"},
			nextFrom: map[string]int64{"usagelog": 3, "querylog": 1001},
		},
		{
			name: "generated columns are skipped on both sides",
			src: `CREATE TABLE glacier (id serial PRIMARY KEY, filename text, twice integer GENERATED ALWAYS AS (length(filename) * 2) STORED);
				INSERT INTO glacier (filename) VALUES ('abc');`,
			dst:  `CREATE TABLE glacier (id serial PRIMARY KEY, filename text, len integer GENERATED ALWAYS AS (length(filename)) STORED);`,
			req:  Request{Tables: []string{"glacier"}},
			want: map[string]string{"glacier": "(1,abc,3)"},
		},
		{
			name: "text to integer cast, values fit",
			src: `CREATE TABLE usagelog (id serial PRIMARY KEY, status text);
				INSERT INTO usagelog (status) VALUES ('200'), ('404');`,
			dst:  `CREATE TABLE usagelog (id serial PRIMARY KEY, status integer);`,
			req:  Request{Tables: []string{"usagelog"}},
			want: map[string]string{"usagelog": "(1,200)\n(2,404)"},
		},
		{
			name: "text to integer cast, one value fails",
			src: `CREATE TABLE usagelog (id serial PRIMARY KEY, status text);
				INSERT INTO usagelog (status) VALUES ('200'), ('OK');`,
			dst:     `CREATE TABLE usagelog (id serial PRIMARY KEY, status integer);`,
			req:     Request{Tables: []string{"usagelog"}},
			wantErr: ErrValue, errHas: `usagelog.status (from status, as integer): invalid input syntax for type integer: "OK"`,
			untouch: "usagelog",
		},
		{
			name: "computed column over a column the source lacks",
			src: `CREATE TABLE notification (id serial PRIMARY KEY, label text);
				INSERT INTO notification (label) VALUES ('a');`,
			dst:     `CREATE TABLE notification (id serial PRIMARY KEY, label text, piemail text);`,
			req:     Request{Tables: []string{"notification"}, Map: Map{Tables: map[string]TableMap{"notification": {Compute: map[string]string{"piemail": `"to"`}}}}},
			wantErr: ErrValue, errHas: `notification.piemail (computed by "to"`,
			untouch: "notification",
		},
		{
			name: "sequences found through the default alone (no ownership)",
			src: `CREATE SEQUENCE old_counter; SELECT setval('old_counter', 500);
				CREATE TABLE qareport (id integer PRIMARY KEY DEFAULT nextval('old_counter'), hostname text);
				INSERT INTO qareport (id, hostname) VALUES (1, 'h1');`,
			dst: `CREATE SEQUENCE "New Counter";
				CREATE TABLE qareport (id integer PRIMARY KEY DEFAULT nextval('"New Counter"'), hostname text);`,
			req:      Request{Tables: []string{"qareport"}},
			want:     map[string]string{"qareport": "(1,h1)"},
			nextFrom: map[string]int64{"qareport": 501},
		},
		{
			name: "identity column on the target",
			src: `CREATE TABLE qareport (id serial PRIMARY KEY, hostname text);
				INSERT INTO qareport (hostname) VALUES ('h1'), ('h2');`,
			dst:      `CREATE TABLE qareport (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, hostname text);`,
			req:      Request{Tables: []string{"qareport"}},
			want:     map[string]string{"qareport": "(1,h1)\n(2,h2)"},
			nextFrom: map[string]int64{"qareport": 3},
		},
	}
	for _, path := range []string{"live", "custom", "plain"} {
		for _, tc := range cases {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				srcURL, _ := db(t, tc.src)
				_, dst := db(t, tc.dst)
				before := ""
				if tc.untouch != "" {
					before = snapshot(t, dst, tc.untouch)
				}
				_, err := transferVia(t, srcURL, dst, Options{Request: tc.req}, path)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errHas) {
						t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.errHas)
					}
					if after := snapshot(t, dst, tc.untouch); after != before {
						t.Fatalf("target %s changed on error:\nbefore %s\nafter  %s", tc.untouch, before, after)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				for table, want := range tc.want {
					if got := snapshot(t, dst, table); got != want {
						t.Errorf("%s =\n%s\nwant\n%s", table, got, want)
					}
				}
				// The next insert gets a fresh id on every table: above every id loaded, and above
				// what the source's sequence had handed out.
				for table := range tc.want {
					// The id's sequence: owned (serial, identity), or named by the default alone.
					next := query[int64](t, dst, fmt.Sprintf(`SELECT nextval(coalesce(pg_get_serial_sequence('%[1]s', 'id'),
					(SELECT substring(pg_get_expr(d.adbin, d.adrelid) from $re$nextval\('(.*)'::regclass\)$re$)
					 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
					 WHERE d.adrelid = '%[1]s'::regclass AND a.attname = 'id')))`, table))[0]
					maxID := query[int64](t, dst, fmt.Sprintf(`SELECT coalesce(max(id), 0) FROM %s`, table))[0]
					if next <= maxID || next < tc.nextFrom[table] {
						t.Errorf("%s: next id %d, want > %d and ≥ %d", table, next, maxID, tc.nextFrom[table])
					}
				}
			})
		}
	}
}

// loadDDL runs a pg_dump --schema-only file on its own connection (it empties search_path).
func loadDDL(t *testing.T, url, file string) {
	t.Helper()
	ddl, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	conn := pgtest.Conn(t, url)
	if _, err := conn.Exec(context.Background(), string(ddl)); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	conn.Close(context.Background())
}

// The real schemas: the 2020 tables with rows in every one, into the current schema, with
// the shipped map and both presets.
func TestFixture2020ToCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srcURL, src := db(t, "")
	loadDDL(t, srcURL, "testdata/fs2020.sql")
	fill := `
		INSERT INTO archiveuser (username, fullname, gemini_staff) SELECT 'user' || i, 'User ' || i, i % 2 = 0 FROM generate_series(1, 50) i;
		INSERT INTO userprogram (user_id, program_id) SELECT 1 + i % 50, 'GN-2020A-Q-' || i FROM generate_series(1, 80) i;
		INSERT INTO notification (label, selection, piemail, ngoemail, csemail, internal) VALUES ('n', 'GMOS', 'pi@x', 'ngo@x', 'cs@x', false);
		INSERT INTO glacier (filename, md5) SELECT 'f' || i, md5(i::text) FROM generate_series(1, 20) i;
		INSERT INTO usagelog (utdatetime, user_id, uri, status) SELECT now(), 1 + i % 50, '/q/' || i, 200 FROM generate_series(1, 500) i;
		INSERT INTO querylog (usagelog_id, numresults) SELECT i, i FROM generate_series(1, 500, 2) i;
		INSERT INTO downloadlog (usagelog_id, numresults) SELECT i, 1 FROM generate_series(2, 500, 5) i;
		INSERT INTO filedownloadlog (usagelog_id, diskfile_filename) SELECT i, 'N' || i FROM generate_series(2, 500, 5) i;
		INSERT INTO fileuploadlog (usagelog_id, filename, size, invoke_pid) SELECT i, 'up' || i, 1000 * i, 42 FROM generate_series(3, 500, 7) i;
		INSERT INTO qareport (hostname, submit_time) SELECT 'h' || i, now() FROM generate_series(1, 30) i;
		INSERT INTO qametriciq (qareport_id, datalabel, fwhm) SELECT 1 + i % 30, 'dl' || i, 0.5 FROM generate_series(1, 60) i;
		INSERT INTO qametricpe (qareport_id, datalabel, dra) SELECT 1 + i % 30, 'dl' || i, 0.1 FROM generate_series(1, 60) i;
		INSERT INTO qametricsb (qareport_id, datalabel, mag) SELECT 1 + i % 30, 'dl' || i, 21.5 FROM generate_series(1, 60) i;
		INSERT INTO qametriczp (qareport_id, datalabel, mag) SELECT 1 + i % 30, 'dl' || i, 27.1 FROM generate_series(1, 60) i;
		SELECT setval('public.archiveuser_id_seq', 77);  -- ids handed out, then deleted
		SELECT setval('public.usagelog_id_seq', 900);`
	if _, err := src.Exec(ctx, `SET search_path = public; `+fill); err != nil {
		t.Fatal(err)
	}
	for _, way := range []string{"live", "custom", "plain.gz", "directory"} {
		t.Run(way, func(t *testing.T) {
			dstURL, _ := db(t, "")
			loadDDL(t, dstURL, "testdata/fshead.sql")
			dst := pgtest.Conn(t, dstURL)

			// The plan first: the rename, the widenings and the drops the map allows.
			res, err := transferVia(t, srcURL, dst, Options{Request: Request{Presets: []string{"archive", "summit"}, Map: DefaultMap()}, DryRun: true}, way)
			if err != nil {
				t.Fatal(err)
			}
			var users, usagelog, upload *TablePlan
			for i := range res.Plan.Tables {
				switch res.Plan.Tables[i].Target {
				case "users":
					users = &res.Plan.Tables[i]
				case "usagelog":
					usagelog = &res.Plan.Tables[i]
				case "fileuploadlog":
					upload = &res.Plan.Tables[i]
				}
			}
			if len(res.Plan.Tables) != 14 || users == nil || users.Source != "archiveuser" || (users.SourceRows != 50 && way == "live") || (users.SourceRows != -1 && way != "live") {
				t.Fatalf("plan: %d tables, users %+v", len(res.Plan.Tables), users)
			}
			if c := usagelog.Columns[0]; c.Target != "id" || c.TypeChange != TypeWidening {
				t.Fatalf("usagelog.id plan %+v, want a widening", c)
			}
			if strings.Join(upload.Dropped, ",") != "invoke_status,invoke_pid,ingestqueue_id" {
				t.Fatalf("fileuploadlog drops %v", upload.Dropped)
			}
			if n := query[int64](t, dst, `SELECT count(*) FROM users`)[0]; n != 0 {
				t.Fatalf("dry run wrote %d users", n)
			}

			res, err = transferVia(t, srcURL, dst, Options{Request: Request{Presets: []string{"archive", "summit"}, Map: DefaultMap()}}, way)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{"users": 50, "userprogram": 80, "notification": 1, "glacier": 20, "usagelog": 500,
				"querylog": 250, "downloadlog": 100, "filedownloadlog": 100, "fileuploadlog": 72, "qareport": 30,
				"qametriciq": 60, "qametricpe": 60, "qametricsb": 60, "qametriczp": 60}
			for table, n := range want {
				if got := query[int64](t, dst, `SELECT count(*) FROM `+table)[0]; got != n {
					t.Errorf("%s: %d rows, want %d", table, got, n)
				}
			}
			if got := query[string](t, dst, `SELECT username FROM users WHERE id = 2 AND gemini_staff`); len(got) != 1 || got[0] != "user2" {
				t.Errorf("users row 2 = %v", got)
			}
			if got := query[int64](t, dst, `SELECT nextval('users_id_seq')`)[0]; got != 78 {
				t.Errorf("users_id_seq gives %d next, want 78 (past archiveuser_id_seq)", got)
			}
			if got := query[int64](t, dst, `SELECT nextval('usagelog_id_seq')`)[0]; got != 901 {
				t.Errorf("usagelog_id_seq gives %d next, want 901", got)
			}
			if got := query[int64](t, dst, `SELECT nextval('qametriczp_id_seq')`)[0]; got != 61 {
				t.Errorf("qametriczp_id_seq gives %d next, want 61", got)
			}
			hist := query[string](t, dst, `SELECT tables->>'usagelog' FROM `+HistoryTable)
			if len(hist) != 1 || hist[0] != "500" {
				t.Errorf("history rows %v, want one with usagelog 500", hist)
			}

			// Again: the target is no longer empty.
			if _, err := transferVia(t, srcURL, dst, Options{Request: Request{Presets: []string{"archive"}, Map: DefaultMap()}}, way); !errors.Is(err, ErrPlan) || !strings.Contains(err.Error(), "--truncate") {
				t.Fatalf("second transfer into a full target: %v, want a refusal naming --truncate", err)
			}
		})
	}
}

// A source written to during the transfer: every table comes from one snapshot, so no child
// arrives without its parent (the target's foreign keys would refuse it) and the counts are
// those of one moment.
func TestLiveSourceUnderWritesIsConsistent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ddl := `CREATE TABLE usagelog (id bigserial PRIMARY KEY, uri text);
		CREATE TABLE querylog (id serial PRIMARY KEY, usagelog_id bigint NOT NULL REFERENCES usagelog);
		INSERT INTO usagelog (uri) SELECT '/' || i FROM generate_series(1, 20000) i;
		INSERT INTO querylog (usagelog_id) SELECT id FROM usagelog;`
	srcURL, _ := db(t, ddl)
	_, dst := db(t, `CREATE TABLE usagelog (id bigserial PRIMARY KEY, uri text);
		CREATE TABLE querylog (id serial PRIMARY KEY, usagelog_id bigint NOT NULL REFERENCES usagelog);`)
	writer := pgtest.Conn(t, srcURL)
	stop := make(chan struct{})
	done := make(chan int)
	go func() { // owner: this test; ends when stop closes
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			_, err := writer.Exec(ctx, `WITH u AS (INSERT INTO usagelog (uri) VALUES ('/w') RETURNING id)
				INSERT INTO querylog (usagelog_id) SELECT id FROM u`)
			if err != nil {
				done <- -1
				return
			}
			n++
		}
	}()
	// The parent is written before the child is read: the writer adds pairs in between.
	var stagedWrites int
	watcher := pgtest.Conn(t, srcURL)
	res, err := transfer(t, srcURL, dst, Options{Request: Request{Tables: []string{"usagelog", "querylog"}},
		Progress: func(e Event) {
			if e.Phase == PhaseWrite && e.Table == "usagelog" && e.Done { // wait until the writer has added 50 pairs since
				for query[int64](t, watcher, `SELECT count(*) FROM usagelog`)[0] < 20050 {
					time.Sleep(5 * time.Millisecond)
				}
				stagedWrites = 1
			}
		}})
	close(stop)
	if n := <-done; n <= 0 {
		t.Fatalf("the writer made %d writes", n)
	}
	if err != nil {
		t.Fatal(err)
	}
	if stagedWrites != 1 {
		t.Fatal("the progress callback never saw usagelog written")
	}
	u := query[int64](t, dst, `SELECT count(*) FROM usagelog`)[0]
	q := query[int64](t, dst, `SELECT count(*) FROM querylog`)[0]
	if u != q || u != res.Tables[0].Rows || u < 20000 {
		t.Fatalf("target has %d usagelog and %d querylog rows; one snapshot gives equal counts", u, q)
	}
}

// --append at cut-over: only the rows above the target's max(id) arrive.
func TestAppendTakesTheDelta(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ddl := `CREATE TABLE usagelog (id bigserial PRIMARY KEY, uri text);`
	srcURL, src := db(t, ddl+`INSERT INTO usagelog (uri) SELECT '/' || i FROM generate_series(1, 100) i;`)
	_, dst := db(t, ddl)
	req := Request{Tables: []string{"usagelog"}}
	if _, err := transfer(t, srcURL, dst, Options{Request: req}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Exec(ctx, `INSERT INTO usagelog (uri) SELECT '/new' || i FROM generate_series(1, 7) i`); err != nil {
		t.Fatal(err)
	}
	req.Mode = ModeAppend
	res, err := transfer(t, srcURL, dst, Options{Request: req})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables[0].Rows != 7 || res.Tables[0].RestartAt != 108 {
		t.Fatalf("append wrote %d rows, next id %d; want 7 and 108", res.Tables[0].Rows, res.Tables[0].RestartAt)
	}
	if n := query[int64](t, dst, `SELECT count(*) FROM usagelog WHERE uri LIKE '/new%'`)[0]; n != 7 {
		t.Fatalf("%d new rows in the target, want 7", n)
	}
}

// Progress hears of every table with the source's row count (live) or without (dump), and
// the rows counted while they streamed match what was written.
func TestProgressReportsRows(t *testing.T) {
	t.Parallel()
	ddl := `CREATE TABLE usagelog (id bigserial PRIMARY KEY, uri text);`
	srcURL, _ := db(t, ddl+`INSERT INTO usagelog (uri) SELECT '/' || i FROM generate_series(1, 5000) i;`)
	for _, way := range []string{"live", "custom"} {
		_, dst := db(t, ddl)
		var mu sync.Mutex
		var events []Event
		_, err := transferVia(t, srcURL, dst, Options{Request: Request{Tables: []string{"usagelog"}},
			Progress: func(e Event) {
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			}}, way)
		if err != nil {
			t.Fatal(err)
		}
		var phases []string
		var written Event
		for _, e := range events {
			if e.Start {
				phases = append(phases, strings.TrimSpace(e.Phase+" "+e.Table))
			}
			if e.Phase == PhaseWrite && e.Done {
				written = e
			}
		}
		wantPhases := "plan,write usagelog,sequences,commit"
		if way != "live" {
			wantPhases = "plan,stage usagelog,write usagelog,sequences,commit"
		}
		if strings.Join(phases, ",") != wantPhases {
			t.Errorf("%s: phases started %v, want %s", way, phases, wantPhases)
		}
		if last := events[len(events)-1]; last.Phase != PhaseCommit || !last.Done {
			t.Errorf("%s: last event %+v, want the commit done", way, last)
		}
		// A live source's total is its count in the snapshot; a dump's is known once staged.
		if written.Rows != 5000 || written.Total != 5000 {
			t.Fatalf("%s: write done %+v, want 5000 of 5000", way, written)
		}
	}
}

func TestMessageAndLineCounters(t *testing.T) {
	var rows atomic.Int64
	w := messageCounter{io.Discard, &rows}
	for i := 0; i < 7; i++ {
		w.Write([]byte("row"))
	}
	r := lineCounter{strings.NewReader("a\tb\nc\\nd\te\n"), &rows}
	io.Copy(io.Discard, r)
	if got := rows.Load(); got != 9 {
		t.Fatalf("counted %d rows, want 7 messages + 2 lines", got)
	}
}

// Queue workers connected to the target get a warning in the plan (the transfer's long
// transaction holds back their vacuum).
func TestWarnsOfQueueWorkersOnTarget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ddl := `CREATE TABLE glacier (id serial PRIMARY KEY, filename text);`
	srcURL, _ := db(t, ddl)
	dstURL, dst := db(t, ddl)
	cfg, err := pgx.ParseConfig(dstURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "host1/4242/rebuild/listen" // what agentd's listener is called
	listener, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	res, err := transfer(t, srcURL, dst, Options{Request: Request{Tables: []string{"glacier"}}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Warnings) != 1 || !strings.Contains(res.Plan.Warnings[0], "vacuum") {
		t.Fatalf("warnings %v, want one about the connected agentd", res.Plan.Warnings)
	}
}
