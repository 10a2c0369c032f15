// Package upgraderehearsal rehearses the archive's software upgrade end to end, with the
// real agentctl and agentd binaries, on generated data: an old-version archive database
// (the 2020 shapes: archiveuser, the logs, the QA metrics) and a storage tree; its nightly
// pg_dump; rows written to the old database while the new one is built; then the
// procedure of docs/upgrade-runbook.md, step by step — db init, transfer from the dump,
// enqueue and rebuild, calibration cache rebuild, search indexes, transfer --append of the
// rows written meanwhile at the cut-over, rollcall — and checks that every kept row arrived exactly once,
// every sequence is past the old one, every file is ingested and the cache is complete.
//
// bench/upgrade runs it at a size worth timing (the runbook's figures); a test runs it small.
package upgraderehearsal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fitsarchive/agentd/internal/sample"
)

// Scenario describes one rehearsal.
type Scenario struct {
	Agentctl, Agentd string // the binaries
	// AdminURL reaches the cluster as a role that may create databases; the rehearsal
	// creates its two databases there and drops them at the end unless Keep.
	AdminURL string
	// DatabasePrefix starts the names of the two databases (default "upgrade_"); a random
	// part and _old, _new follow.
	DatabasePrefix string
	// OldSchema is the DDL of the old version's kept tables (pgsync/testdata/fs2020.sql).
	OldSchema string
	Dir       string // work directory: storage tree, backup, state files, logs
	Nights    int    // nights in the storage tree (8 FITS files and an obslog each; default 20)
	Users     int    // archive users (default 200)
	Logs      int    // usagelog rows (default 20,000; querylog half, the other logs a fifth)
	QA        int    // qareport rows (default 500; each with one metric of every kind)
	Agents    int    // agentd processes of the rebuild (default 3)
	Workers   int    // workers of each (default 3)
	Keep      bool   // keep the databases
	Log       io.Writer
}

// Step is one command of the procedure, as the operator runs it.
type Step struct {
	Name    string        `json:"name"`
	Command string        `json:"command"`
	Took    time.Duration `json:"took"`
	Said    string        `json:"said"` // what the command printed (its JSON result, shortened)
}

// Report is what a rehearsal did and found.
type Report struct {
	Steps    []Step         `json:"steps"`
	Kept     map[string]int `json:"kept"` // rows per kept table in the old database at the cut-over
	Files    int            `json:"files"`
	Problems []string       `json:"problems"` // each broken promise, in words
}

// OK reports whether every check passed.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func (s *Scenario) defaults() {
	if s.Nights <= 0 {
		s.Nights = 20
	}
	if s.Users <= 0 {
		s.Users = 200
	}
	if s.Logs <= 0 {
		s.Logs = 20000
	}
	if s.QA <= 0 {
		s.QA = 500
	}
	if s.Agents <= 0 {
		s.Agents = 3
	}
	if s.Workers <= 0 {
		s.Workers = 3
	}
	if s.Log == nil {
		s.Log = io.Discard
	}
}

// keptTables are the tables the transfer carries, with their name in the old version.
var keptTables = []struct{ old, new string }{
	{"archiveuser", "users"}, {"userprogram", "userprogram"}, {"notification", "notification"}, {"glacier", "glacier"},
	{"usagelog", "usagelog"}, {"querylog", "querylog"}, {"downloadlog", "downloadlog"},
	{"filedownloadlog", "filedownloadlog"}, {"fileuploadlog", "fileuploadlog"},
	{"qareport", "qareport"}, {"qametriciq", "qametriciq"}, {"qametricpe", "qametricpe"},
	{"qametricsb", "qametricsb"}, {"qametriczp", "qametriczp"},
}

// Run performs the rehearsal. An error means it could not be carried out (or a step of the
// procedure failed, which the report's last step shows); the checks' findings are in
// Report.Problems.
func (s Scenario) Run(ctx context.Context) (Report, error) {
	s.defaults()
	rep := Report{Kept: map[string]int{}}
	var b [4]byte
	rand.Read(b[:])
	if s.DatabasePrefix == "" {
		s.DatabasePrefix = "upgrade_"
	}
	base := s.DatabasePrefix + hex.EncodeToString(b[:])
	oldURL, newURL, err := s.createDatabases(ctx, base)
	if err != nil {
		return rep, err
	}
	if !s.Keep {
		defer s.dropDatabases(base)
	}
	old, err := pgx.Connect(ctx, oldURL)
	if err != nil {
		return rep, err
	}
	defer old.Close(context.WithoutCancel(ctx))

	// The old archive: its kept tables, and the files in storage.
	fmt.Fprintf(s.Log, "upgrade: the old archive: %d users, %d usagelog rows, %d QA reports; %d nights of files\n", s.Users, s.Logs, s.QA, s.Nights)
	if _, err := old.Exec(ctx, s.OldSchema); err != nil {
		return rep, fmt.Errorf("load the old schema: %w", err)
	}
	if _, err := old.Exec(ctx, `SET search_path = public`); err != nil { // a pg_dump's DDL empties it
		return rep, err
	}
	if err := fillOld(ctx, old, s.Users, s.Logs, s.QA, false); err != nil {
		return rep, fmt.Errorf("fill the old archive: %w", err)
	}
	root := filepath.Join(s.Dir, "storage")
	m, err := sample.Tree(root, sample.Options{Nights: s.Nights})
	if err != nil {
		return rep, fmt.Errorf("write the storage tree: %w", err)
	}
	rep.Files = len(m.Ingestable)

	// Its nightly backup (not the operator's work: not timed as a step).
	backup := filepath.Join(s.Dir, "fitsdata_old.pg_dump")
	if out, err := exec.CommandContext(ctx, "pg_dump", "-Fc", "-f", backup, "--dbname", oldURL).CombinedOutput(); err != nil {
		return rep, fmt.Errorf("pg_dump the old archive: %v: %s", err, out)
	}
	// The archive goes on while the new database is built: users register, queries and
	// downloads are logged, QA reports come in. These rows reach the new database only at
	// the cut-over, through transfer --append.
	if err := fillOld(ctx, old, s.Users/10+1, s.Logs/10+1, s.QA/10+1, true); err != nil {
		return rep, fmt.Errorf("write to the old archive after its backup: %w", err)
	}

	step := func(name string, args ...string) (string, error) {
		return s.step(ctx, &rep, name, args...)
	}
	presets := []string{"--preset", "archive", "--preset", "summit"}
	if _, err := step("create the new database's schema", s.Agentctl, "db", "init", "--database-url", newURL, "--json"); err != nil {
		return rep, err
	}
	if _, err := step("carry the kept tables over from the nightly backup",
		append([]string{s.Agentctl, "transfer", "--from", backup, "--to", newURL, "--json"}, presets...)...); err != nil {
		return rep, err
	}
	if _, err := step("fill the ingest queue with every file (unconstrained)",
		s.Agentctl, "enqueue", "ingest", "--database-url", newURL, "--storage-root", root, "--json"); err != nil {
		return rep, err
	}
	if err := s.rebuild(ctx, &rep, newURL, root); err != nil {
		return rep, err
	}
	if _, err := step("rebuild the calibration cache", s.Agentctl, "calcache", "rebuild", "--database-url", newURL, "--json"); err != nil {
		return rep, err
	}
	if _, err := step("build FitsStorage's search indexes", s.Agentctl, "db", "index", "--database-url", newURL, "--json"); err != nil {
		return rep, err
	}
	// Cut-over: the old archive stops writing; what it wrote since its backup comes over.
	if err := countKept(ctx, old, rep.Kept); err != nil {
		return rep, err
	}
	if _, err := step("cut-over: carry the rows written since the backup",
		append([]string{s.Agentctl, "transfer", "--from", oldURL, "--to", newURL, "--append", "--json"}, presets...)...); err != nil {
		return rep, err
	}
	// Files deleted from storage since: rollcall marks them not present.
	gone := []string{m.FITS[0], m.FITS[len(m.FITS)-1]}
	for _, rel := range gone {
		if err := os.Remove(filepath.Join(root, rel)); err != nil {
			return rep, err
		}
	}
	if _, err := step("rollcall: mark the files no longer in storage", s.Agentctl, "rollcall", "--database-url", newURL,
		"--storage-root", root, "--max-missing", "50", "--json"); err != nil {
		return rep, err
	}

	nw, err := pgx.Connect(ctx, newURL)
	if err != nil {
		return rep, err
	}
	defer nw.Close(context.WithoutCancel(ctx))
	if err := s.check(ctx, &rep, old, nw, m, gone); err != nil {
		return rep, err
	}
	return rep, nil
}

// step runs one agentctl command, records it and returns what it printed on stdout.
func (s Scenario) step(ctx context.Context, rep *Report, name string, args ...string) (string, error) {
	fmt.Fprintf(s.Log, "upgrade: %s\n  $ %s\n", name, shown(args))
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	st := Step{Name: name, Command: shown(args), Took: time.Since(start), Said: shorten(stdout.String())}
	rep.Steps = append(rep.Steps, st)
	fmt.Fprintf(s.Log, "  %.1f s: %s\n", st.Took.Seconds(), st.Said)
	if err != nil {
		return stdout.String(), fmt.Errorf("%s: %s: %v\n%s", name, st.Command, err, lastLines(stderr.String(), 15))
	}
	return stdout.String(), nil
}

// shown is a command line as the runbook shows it: binaries by name, the rehearsal's
// temporary paths and database names kept (they say which is which).
func shown(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if i == 0 {
			a = filepath.Base(a)
		}
		if strings.ContainsAny(a, " &?") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// shorten makes what a command printed fit a line: JSON compacted, then cut.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) == nil {
		s = b.String()
	}
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rebuild runs the agents of the rebuild until the ingest queue is empty; they exit by
// themselves (--empty).
func (s Scenario) rebuild(ctx context.Context, rep *Report, newURL, root string) error {
	name := fmt.Sprintf("rebuild: %d agentd processes × %d workers until the queue is empty", s.Agents, s.Workers)
	var cmds []*exec.Cmd
	var logs []*bytes.Buffer
	var shownCmd string
	start := time.Now()
	for i := 0; i < s.Agents; i++ {
		args := []string{"--name", fmt.Sprintf("rebuild%d", i), "--queue", "ingest", "--workers", fmt.Sprint(s.Workers),
			"--empty", "--fast-rebuild", "--storage-root", root,
			"--lock-dir", filepath.Join(s.Dir, "locks"), "--state", filepath.Join(s.Dir, fmt.Sprintf("rebuild%d.db", i)),
			"--socket", filepath.Join(s.Dir, fmt.Sprintf("rebuild%d.sock", i))}
		cmd := exec.CommandContext(ctx, s.Agentd, args...)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+newURL)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if i == 0 {
			shownCmd = "DATABASE_URL=" + newURL + " " + shown(append([]string{s.Agentd}, args...))
			fmt.Fprintf(s.Log, "upgrade: %s\n  $ %s   (and %d more)\n", name, shownCmd, s.Agents-1)
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		cmds, logs = append(cmds, cmd), append(logs, &log)
	}
	var errs []error
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("agentd rebuild%d: %v\n%s", i, err, lastLines(logs[i].String(), 15)))
		}
	}
	st := Step{Name: name, Command: shownCmd, Took: time.Since(start), Said: "every agent exited 0: the queue is empty"}
	if len(errs) > 0 {
		st.Said = errors.Join(errs...).Error()
	}
	rep.Steps = append(rep.Steps, st)
	fmt.Fprintf(s.Log, "  %.1f s: %s\n", st.Took.Seconds(), shorten(st.Said))
	return errors.Join(errs...)
}

func (s Scenario) createDatabases(ctx context.Context, base string) (oldURL, newURL string, err error) {
	admin, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		return "", "", fmt.Errorf("connect to the cluster: %w", err)
	}
	defer admin.Close(ctx)
	for _, suffix := range []string{"_old", "_new"} {
		if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{base + suffix}.Sanitize()); err != nil {
			return "", "", err
		}
	}
	return dbURL(s.AdminURL, base+"_old"), dbURL(s.AdminURL, base+"_new"), nil
}

func (s Scenario) dropDatabases(base string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	for _, suffix := range []string{"_old", "_new"} {
		admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{base + suffix}.Sanitize()+` WITH (FORCE)`) //nolint:errcheck // best effort
	}
}

// dbURL is the admin URL with another database.
func dbURL(admin, db string) string {
	cfg, err := pgconn.ParseConfig(admin)
	if err != nil {
		return admin
	}
	host := cfg.Host
	q := ""
	if strings.HasPrefix(host, "/") {
		q, host = "?host="+host+fmt.Sprintf("&port=%d", cfg.Port), ""
	} else {
		host = fmt.Sprintf("%s:%d", host, cfg.Port)
	}
	user := cfg.User
	if cfg.Password != "" {
		user += ":" + cfg.Password
	}
	return fmt.Sprintf("postgres://%s@%s/%s%s", user, host, db, q)
}

// fillOld writes rows into the old archive's kept tables, ids from their sequences: users
// with their programs, the web logs, the QA reports and their metrics, a few notifications
// and glacier records. later marks the rows written after the backup. Some rows are then
// deleted, as the archive does (old logs purged), so that ids have gaps and each sequence is
// ahead of the largest id.
func fillOld(ctx context.Context, db *pgx.Conn, users, logs, qa int, later bool) error {
	tag := "before"
	if later {
		tag = "after"
	}
	_, err := db.Exec(ctx, fmt.Sprintf(`
		INSERT INTO archiveuser (username, fullname, email, gemini_staff, superuser, account_created)
		SELECT '%[1]s_user' || i || '_' || (SELECT count(*) FROM archiveuser), 'User ' || i, 'u' || i || '@example.org', i %% 7 = 0, i = 1, now() - i * interval '1 day'
		FROM generate_series(1, %[2]d) i;
		INSERT INTO userprogram (user_id, program_id)
		SELECT u.id, 'GN-2020A-Q-' || (u.id %% 300 + 1) FROM archiveuser u WHERE u.username LIKE '%[1]s_user%%' AND u.id %% 2 = 0
		  AND NOT EXISTS (SELECT 1 FROM userprogram p WHERE p.user_id = u.id);
		INSERT INTO usagelog (utdatetime, user_id, ip_address, user_agent, referer, method, uri, this, bytes, status)
		SELECT now() - i * interval '1 second', (SELECT min(id) FROM archiveuser) + i %% %[2]d, '10.0.' || (i %% 256) || '.' || (i %% 97),
		       'Mozilla/5.0', 'https://archive.example.org/searchform', 'GET', '/searchform/%[1]s/' || i, 'searchform', i * 13, 200
		FROM generate_series(1, %[3]d) i;
		INSERT INTO querylog (usagelog_id, summarytype, selection, numresults, numcalresults, query_started, query_completed)
		SELECT id, 'searchresults', 'GMOS-N ' || id, id %% 500, id %% 50, utdatetime, utdatetime + interval '1 second'
		FROM usagelog WHERE uri LIKE '/searchform/%[1]s/%%' AND id %% 2 = 0;
		INSERT INTO downloadlog (usagelog_id, selection, numresults, sending_files, numdenied, query_started)
		SELECT id, 'N2020', 3, true, 0, utdatetime FROM usagelog WHERE uri LIKE '/searchform/%[1]s/%%' AND id %% 5 = 1;
		INSERT INTO filedownloadlog (usagelog_id, diskfile_filename, diskfile_file_md5, diskfile_file_size, ut_datetime, released, canhaveit)
		SELECT id, 'N20200101S' || lpad((id %% 9999)::text, 4, '0') || '.fits', md5(id::text), id * 100, utdatetime, true, true
		FROM usagelog WHERE uri LIKE '/searchform/%[1]s/%%' AND id %% 5 = 2;
		INSERT INTO fileuploadlog (usagelog_id, ut_transfer_start, ut_transfer_complete, filename, size, md5, processed_cal, destination, file_ok)
		SELECT id, utdatetime, utdatetime + interval '2 seconds', 'S20200101S' || lpad((id %% 9999)::text, 4, '0') || '.fits', 1000, md5(id::text), false, 's3', true
		FROM usagelog WHERE uri LIKE '/searchform/%[1]s/%%' AND id %% 5 = 3;
		INSERT INTO notification (label, selection, piemail, ngoemail, csemail, internal)
		SELECT '%[1]s ' || i, 'GN-2020A-Q-' || i, 'pi' || i || '@example.org', 'ngo@example.org', 'cs@example.org', i %% 2 = 0 FROM generate_series(1, 5) i;
		INSERT INTO glacier (filename, md5, when_uploaded) SELECT '%[1]s_' || i || '.tar', md5(i::text), now() FROM generate_series(1, 5) i;
		INSERT INTO qareport (hostname, userid, processid, executable, software, software_version, context, submit_time, submit_host)
		SELECT 'summit%%' || (i %% 3), 'qa', i, 'reduce', 'DRAGONS', '3.2', '%[1]s', now() - i * interval '1 minute', 'hbf'
		FROM generate_series(1, %[4]d) i;
		INSERT INTO qametriciq (qareport_id, datalabel, filename, detector, fwhm, fwhm_std, elip, nsamples, percentile_band)
		SELECT id, 'GN-2020A-Q-1-' || id, 'N20200101S' || lpad((id %% 9999)::text, 4, '0') || '.fits', 'GMOS-N', 0.6, 0.05, 0.05, 12, 'IQ70'
		FROM qareport WHERE context = '%[1]s';
		INSERT INTO qametricpe (qareport_id, datalabel, filename, detector, dra, ddec, astref, nsamples)
		SELECT id, 'GN-2020A-Q-1-' || id, 'N20200101S' || lpad((id %% 9999)::text, 4, '0') || '.fits', 'GMOS-N', 0.1, -0.1, 'SDSS9', 20
		FROM qareport WHERE context = '%[1]s';
		INSERT INTO qametricsb (qareport_id, datalabel, filename, detector, mag, electrons, nsamples, percentile_band)
		SELECT id, 'GN-2020A-Q-1-' || id, 'N20200101S' || lpad((id %% 9999)::text, 4, '0') || '.fits', 'GMOS-N', 20.5, 1234.5, 8, 'BG50'
		FROM qareport WHERE context = '%[1]s';
		INSERT INTO qametriczp (qareport_id, datalabel, filename, detector, mag, cloud, photref, nsamples, percentile_band)
		SELECT id, 'GN-2020A-Q-1-' || id, 'N20200101S' || lpad((id %% 9999)::text, 4, '0') || '.fits', 'GMOS-N', 28.1, 0.05, 'SDSS9', 10, 'CC50'
		FROM qareport WHERE context = '%[1]s';
		-- Purged rows: gaps in the ids; and the last rows of each log deleted, so the
		-- sequences run ahead of max(id).
		DELETE FROM querylog WHERE id %% 11 = 0;
		DELETE FROM usagelog u WHERE u.id %% 13 = 0 AND NOT EXISTS (SELECT 1 FROM querylog q WHERE q.usagelog_id = u.id)
		  AND NOT EXISTS (SELECT 1 FROM downloadlog d WHERE d.usagelog_id = u.id)
		  AND NOT EXISTS (SELECT 1 FROM filedownloadlog d WHERE d.usagelog_id = u.id)
		  AND NOT EXISTS (SELECT 1 FROM fileuploadlog d WHERE d.usagelog_id = u.id);
		DELETE FROM qametriciq WHERE id = (SELECT max(id) FROM qametriciq);
		DELETE FROM glacier WHERE id = (SELECT max(id) FROM glacier);`,
		tag, users, logs, qa))
	return err
}

// countKept counts the rows of each kept table of the old database.
func countKept(ctx context.Context, old *pgx.Conn, into map[string]int) error {
	for _, t := range keptTables {
		var n int
		if err := old.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t.old}.Sanitize()).Scan(&n); err != nil {
			return err
		}
		into[t.new] = n
	}
	return nil
}

// check compares the new database with the old one and the storage tree.
func (s Scenario) check(ctx context.Context, rep *Report, old, nw *pgx.Conn, m sample.Manifest, gone []string) error {
	problem := func(f string, a ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(f, a...)) }
	// Every kept row arrived exactly once: the same ids, and the same content where the
	// columns kept their meaning (a digest of each row's common columns, id order).
	for _, t := range keptTables {
		cols, err := commonColumns(ctx, old, nw, t.old, t.new)
		if err != nil {
			return err
		}
		var oldN, newN, newDistinct int
		var oldDigest, newDigest string
		digest := `SELECT count(*), coalesce(md5(string_agg(row(` + cols + `)::text, '|' ORDER BY id)), '') FROM `
		if err := old.QueryRow(ctx, digest+pgx.Identifier{t.old}.Sanitize()).Scan(&oldN, &oldDigest); err != nil {
			return fmt.Errorf("digest %s: %w", t.old, err)
		}
		if err := nw.QueryRow(ctx, digest+pgx.Identifier{t.new}.Sanitize()).Scan(&newN, &newDigest); err != nil {
			return fmt.Errorf("digest %s: %w", t.new, err)
		}
		if err := nw.QueryRow(ctx, `SELECT count(DISTINCT id) FROM `+pgx.Identifier{t.new}.Sanitize()).Scan(&newDistinct); err != nil {
			return err
		}
		if oldN != newN || newDistinct != newN {
			problem("%s: %d rows in the old database, %d in the new (%d distinct ids)", t.new, oldN, newN, newDistinct)
		} else if oldDigest != newDigest {
			problem("%s: the same %d ids, but rows differ in the columns both versions have (%s)", t.new, newN, cols)
		}
		// The new sequence is past the old one and past every id: the next row gets a new id.
		var oldLast, newLast, maxID int64
		if err := old.QueryRow(ctx, `SELECT last_value FROM `+pgx.Identifier{t.old + "_id_seq"}.Sanitize()).Scan(&oldLast); err != nil {
			return fmt.Errorf("the old sequence of %s: %w", t.old, err)
		}
		if err := nw.QueryRow(ctx, `SELECT s.last_value, (SELECT coalesce(max(id), 0) FROM `+pgx.Identifier{t.new}.Sanitize()+`) FROM `+
			pgx.Identifier{t.new + "_id_seq"}.Sanitize()+` s`).Scan(&newLast, &maxID); err != nil {
			return fmt.Errorf("the new sequence of %s: %w", t.new, err)
		}
		if newLast < oldLast || newLast < maxID {
			problem("%s_id_seq at %d: behind the old sequence (%d) or the largest id (%d)", t.new, newLast, oldLast, maxID)
		}
	}
	// Every file ingested once; the deleted ones not present any more.
	var diskfiles, present, dup, headers, queued int
	if err := nw.QueryRow(ctx, `SELECT (SELECT count(*) FROM diskfile), (SELECT count(*) FROM diskfile WHERE present AND canonical),
		(SELECT count(*) FROM (SELECT 1 FROM diskfile GROUP BY filename, path HAVING count(*) > 1) d),
		(SELECT count(*) FROM header), (SELECT count(*) FROM ingestqueue)`).Scan(&diskfiles, &present, &dup, &headers, &queued); err != nil {
		return err
	}
	if diskfiles != len(m.Ingestable) || dup != 0 {
		problem("%d diskfiles (%d files ingested more than once) for %d files in storage", diskfiles, dup, len(m.Ingestable))
	}
	if present != len(m.Ingestable)-len(gone) {
		problem("%d present diskfiles: want %d (%d files, %d deleted before the rollcall)", present, len(m.Ingestable)-len(gone), len(m.Ingestable), len(gone))
	}
	for _, rel := range gone {
		var p bool
		if err := nw.QueryRow(ctx, `SELECT present FROM diskfile WHERE filename = $1`, filepath.Base(rel)).Scan(&p); err != nil || p {
			problem("%s was deleted from storage but is still present (%v)", rel, err)
		}
	}
	if headers != len(m.FITS) || queued != 0 {
		problem("%d header rows for %d FITS files; %d ingest queue rows left", headers, len(m.FITS), queued)
	}
	return s.checkCache(ctx, rep, nw)
}

// checkCache checks the calibration cache: complete when recomputing it changes nothing
// (the per-observation service, run over every observation, would find what the set-based
// rebuild wrote) and no calcache item is left pending.
func (s Scenario) checkCache(ctx context.Context, rep *Report, nw *pgx.Conn) error {
	problem := func(f string, a ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(f, a...)) }
	snapshot := func() (int, string, error) {
		var n int
		var d string
		err := nw.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(row(obs_hid, cal_hid, caltype, rank)::text, '|' ORDER BY obs_hid, caltype, rank, cal_hid)), '') FROM calcache`).Scan(&n, &d)
		return n, d, err
	}
	n, before, err := snapshot()
	if err != nil {
		return fmt.Errorf("read the calibration cache: %w", err)
	}
	if n == 0 {
		problem("the calibration cache is empty")
	}
	var pending int
	if err := nw.QueryRow(ctx, `SELECT count(*) FROM calcachequeue WHERE NOT inprogress`).Scan(&pending); err != nil {
		return err
	}
	if pending != 0 {
		problem("%d calcache queue items left pending after the rebuild", pending)
	}
	// The same computation again, per observation, through agentd's own queue service: every
	// observation with a header queued, served until empty.
	if _, err := nw.Exec(ctx, `INSERT INTO calcachequeue (obs_hid, filename, sortkey)
		SELECT h.id, d.filename, h.ut_datetime::text FROM header h JOIN diskfile d ON d.id = h.diskfile_id WHERE d.canonical
		ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("queue every observation for the calcache service: %w", err)
	}
	cmd := exec.CommandContext(ctx, s.Agentd, "--name", "calcheck", "--queue", "calcache", "--workers", "2", "--empty",
		"--lock-dir", filepath.Join(s.Dir, "locks"), "--state", filepath.Join(s.Dir, "calcheck.db"), "--socket", filepath.Join(s.Dir, "calcheck.sock"))
	cmd.Env = append(os.Environ(), "DATABASE_URL="+nw.Config().ConnString())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("the per-observation calcache service: %v\n%s", err, lastLines(string(out), 15))
	}
	n2, after, err := snapshot()
	if err != nil {
		return err
	}
	if after != before {
		problem("the calibration cache was not complete: the per-observation service changed it (%d rows → %d)", n, n2)
	}
	return nil
}

// commonColumns lists, as SQL, the columns of the old table that the new one has under
// the same name with the same type family: the digest compares those.
func commonColumns(ctx context.Context, old, nw *pgx.Conn, oldTable, newTable string) (string, error) {
	read := func(c *pgx.Conn, table string) (map[string]string, error) {
		rows, err := c.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = $1`, table)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for rows.Next() {
			var n, t string
			if err := rows.Scan(&n, &t); err != nil {
				return nil, err
			}
			out[n] = t
		}
		return out, rows.Err()
	}
	oc, err := read(old, oldTable)
	if err != nil {
		return "", err
	}
	nc, err := read(nw, newTable)
	if err != nil {
		return "", err
	}
	family := func(t string) string {
		switch t {
		case "integer", "bigint", "smallint":
			return "int"
		case "text", "character varying":
			return "text"
		}
		return t
	}
	var cols []string
	for n, t := range oc {
		if nt, ok := nc[n]; ok && family(nt) == family(t) {
			cols = append(cols, n)
		}
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("%s and %s have no column in common", oldTable, newTable)
	}
	// A stable order; the text cast below makes int and bigint, text and varchar alike.
	slices.Sort(cols)
	for i, c := range cols {
		cols[i] = pgx.Identifier{c}.Sanitize() + "::text"
	}
	return strings.Join(cols, ", "), nil
}

// JSON is the report as one JSON object (durations in seconds).
func (r Report) JSON() ([]byte, error) {
	type step struct {
		Name    string  `json:"name"`
		Command string  `json:"command"`
		Seconds float64 `json:"seconds"`
		Said    string  `json:"said"`
	}
	out := struct {
		Steps    []step         `json:"steps"`
		Kept     map[string]int `json:"kept"`
		Files    int            `json:"files"`
		Problems []string       `json:"problems"`
		OK       bool           `json:"ok"`
	}{Kept: r.Kept, Files: r.Files, Problems: r.Problems, OK: r.OK()}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, step{s.Name, s.Command, s.Took.Seconds(), s.Said})
	}
	return json.MarshalIndent(out, "", "  ")
}
