package schema

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SearchIndex is one of the secondary indexes FitsStorage's models create on the tables its
// web search and calibration lookups read (header, diskfile, preview, calcache). `db init`
// leaves them out: every ingested row would pay for 39 more index entries, and a rebuild
// only needs its own. `agentctl db index` builds them when the rebuild is done.
//
// FitsStorage's indexes on its queue tables are not among them: agentd's own claim indexes
// serve the queues, and FitsStorage's pages only count the queues' rows.
type SearchIndex struct {
	Name, Table, Key string
}

// searchIndexes are FitsStorage's, as its models create them (fitsstorage/fscore.sql; a test
// holds the two together). Key is SQL, written here, never read from a file.
var searchIndexes = []SearchIndex{
	{"ix_calcache_cal_hid", "calcache", `cal_hid`},
	{"ix_calcache_caltype", "calcache", `caltype`},
	{"ix_calcache_obs_hid", "calcache", `obs_hid`},
	{"ix_calcache_rank", "calcache", `rank`},
	{"ix_diskfile_canonical", "diskfile", `canonical`},
	{"ix_diskfile_entrytime", "diskfile", `entrytime`},
	{"ix_diskfile_file_id", "diskfile", `file_id`},
	{"ix_diskfile_filename", "diskfile", `filename`},
	{"ix_diskfile_lastmod", "diskfile", `lastmod`},
	{"ix_diskfile_present", "diskfile", `present`},
	{"ix_header_calibration_program", "header", `calibration_program`},
	{"ix_header_camera", "header", `camera`},
	{"ix_header_central_wavelength", "header", `central_wavelength`},
	{"ix_header_data_label", "header", `data_label`},
	{"ix_header_dec", "header", `"dec"`},
	{"ix_header_diskfile_id", "header", `diskfile_id`},
	{"ix_header_disperser", "header", `disperser`},
	{"ix_header_engineering", "header", `engineering`},
	{"ix_header_filter_name", "header", `filter_name`},
	{"ix_header_focal_plane_mask", "header", `focal_plane_mask`},
	{"ix_header_instrument", "header", `instrument`},
	{"ix_header_mode", "header", `mode`},
	{"ix_header_object", "header", `object`},
	{"ix_header_observation_class", "header", `observation_class`},
	{"ix_header_observation_id", "header", `observation_id`},
	{"ix_header_observation_type", "header", `observation_type`},
	{"ix_header_processing_tag", "header", `processing_tag`},
	{"ix_header_program_id", "header", `program_id`},
	{"ix_header_pupil_mask", "header", `pupil_mask`},
	{"ix_header_qa_state", "header", `qa_state`},
	{"ix_header_ra", "header", `ra`},
	{"ix_header_reduction", "header", `reduction`},
	{"ix_header_science_verification", "header", `science_verification`},
	{"ix_header_spectroscopy", "header", `spectroscopy`},
	{"ix_header_telescope", "header", `telescope`},
	{"ix_header_ut_datetime", "header", `ut_datetime`},
	{"ix_header_ut_datetime_desc_nullslast", "header", `ut_datetime DESC NULLS LAST`},
	{"ix_header_ut_datetime_secs", "header", `ut_datetime_secs`},
	{"ix_preview_diskfile_id", "preview", `diskfile_id`},
}

// SearchIndexes returns FitsStorage's search indexes, in the order they are built.
func SearchIndexes() []SearchIndex { return append([]SearchIndex(nil), searchIndexes...) }

// CreateSQL builds the index without blocking the table's writers (ingest goes on).
func (ix SearchIndex) CreateSQL() string {
	return fmt.Sprintf("CREATE INDEX CONCURRENTLY %s ON %s USING btree (%s)", ix.Name, ix.Table, ix.Key)
}

// DropSQL drops the index without blocking the table's readers and writers.
func (ix SearchIndex) DropSQL() string {
	return "DROP INDEX CONCURRENTLY IF EXISTS " + ix.Name
}

// Index states, as SearchIndexStates reports them.
const (
	IndexMissing = "missing"
	IndexValid   = "valid"
	// IndexInvalid is what an interrupted CREATE INDEX CONCURRENTLY leaves: it costs every
	// write and serves no query, so a build drops and rebuilds it.
	IndexInvalid = "invalid"
)

// SearchIndexStates says, for each search index, whether the database has it.
func SearchIndexStates(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[string]string, error) {
	names := make([]string, len(searchIndexes))
	for i, ix := range searchIndexes {
		names[i] = ix.Name
	}
	rows, err := q.Query(ctx, `SELECT c.relname, i.indisvalid AND i.indisready
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("read the search indexes: %w", err)
	}
	states := make(map[string]string, len(names))
	for _, n := range names {
		states[n] = IndexMissing
	}
	for rows.Next() {
		var name string
		var valid bool
		if err := rows.Scan(&name, &valid); err != nil {
			return nil, fmt.Errorf("read the search indexes: %w", err)
		}
		states[name] = IndexInvalid
		if valid {
			states[name] = IndexValid
		}
	}
	return states, rows.Err()
}

// IndexStep is what BuildSearchIndexes or DropSearchIndexes did with one index: Action is
// "created", "rebuilt" (it was invalid), "present", "dropped" or "absent".
type IndexStep struct {
	Index  SearchIndex
	Action string
}

// BuildSearchIndexes creates every search index the database lacks and rebuilds invalid
// ones, one at a time, concurrently with the archive's readers and writers; each finished
// step is passed to done (nil: none). The schema must be ours at this program's version.
func BuildSearchIndexes(ctx context.Context, conn *pgx.Conn, done func(IndexStep)) ([]IndexStep, error) {
	return eachSearchIndex(ctx, conn, done, func(ix SearchIndex, state string) (string, error) {
		switch state {
		case IndexValid:
			return "present", nil
		case IndexInvalid:
			if _, err := conn.Exec(ctx, ix.DropSQL()); err != nil {
				return "", fmt.Errorf("drop the invalid index %s before rebuilding it: %w", ix.Name, err)
			}
		}
		if _, err := conn.Exec(ctx, ix.CreateSQL()); err != nil {
			return "", fmt.Errorf("create index %s on %s: %w; run agentctl db index again to retry", ix.Name, ix.Table, err)
		}
		if state == IndexInvalid {
			return "rebuilt", nil
		}
		return "created", nil
	})
}

// DropSearchIndexes drops every search index the database has (before a rebuild, so the
// ingest writes faster), one at a time, without blocking the tables' readers and writers.
func DropSearchIndexes(ctx context.Context, conn *pgx.Conn, done func(IndexStep)) ([]IndexStep, error) {
	return eachSearchIndex(ctx, conn, done, func(ix SearchIndex, state string) (string, error) {
		if state == IndexMissing {
			return "absent", nil
		}
		if _, err := conn.Exec(ctx, ix.DropSQL()); err != nil {
			return "", fmt.Errorf("drop index %s: %w", ix.Name, err)
		}
		return "dropped", nil
	})
}

func eachSearchIndex(ctx context.Context, conn *pgx.Conn, done func(IndexStep), act func(SearchIndex, string) (string, error)) ([]IndexStep, error) {
	if err := Check(ctx, conn); err != nil {
		return nil, err
	}
	states, err := SearchIndexStates(ctx, conn)
	if err != nil {
		return nil, err
	}
	var steps []IndexStep
	for _, ix := range searchIndexes {
		action, err := act(ix, states[ix.Name])
		if err != nil {
			return steps, err
		}
		step := IndexStep{Index: ix, Action: action}
		steps = append(steps, step)
		if done != nil {
			done(step)
		}
	}
	return steps, nil
}
