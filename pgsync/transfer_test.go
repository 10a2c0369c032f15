package pgsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

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
	t.Helper()
	ctx := context.Background()
	src, err := OpenLive(ctx, srcURL)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	return Transfer(ctx, src, dst, opt)
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
			name: "identity column on the target",
			src: `CREATE TABLE qareport (id serial PRIMARY KEY, hostname text);
				INSERT INTO qareport (hostname) VALUES ('h1'), ('h2');`,
			dst:      `CREATE TABLE qareport (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, hostname text);`,
			req:      Request{Tables: []string{"qareport"}},
			want:     map[string]string{"qareport": "(1,h1)\n(2,h2)"},
			nextFrom: map[string]int64{"qareport": 3},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srcURL, _ := db(t, tc.src)
			_, dst := db(t, tc.dst)
			before := ""
			if tc.untouch != "" {
				before = snapshot(t, dst, tc.untouch)
			}
			_, err := transfer(t, srcURL, dst, Options{Request: tc.req})
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
				next := query[int64](t, dst, fmt.Sprintf(`SELECT nextval(pg_get_serial_sequence('%s', 'id'))`, table))[0]
				maxID := query[int64](t, dst, fmt.Sprintf(`SELECT coalesce(max(id), 0) FROM %s`, table))[0]
				if next <= maxID || next < tc.nextFrom[table] {
					t.Errorf("%s: next id %d, want > %d and ≥ %d", table, next, maxID, tc.nextFrom[table])
				}
			}
		})
	}
}
