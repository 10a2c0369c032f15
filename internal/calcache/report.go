package calcache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNoObservation is returned by Show for a name that is no ingested file or data label.
var ErrNoObservation = errors.New("no such observation")

// Calibration is one row of an observation's cache, for humans.
type Calibration struct {
	CalType      string  `json:"caltype"`
	Rank         int     `json:"rank"`
	Filename     string  `json:"filename"`
	DataLabel    *string `json:"data_label"`
	DeltaSeconds float64 `json:"delta_seconds"` // the calibration's ut_datetime minus the observation's
	Why          string  `json:"why"`           // what the rule asked of it
}

// Shown is an observation and its cached calibrations.
type Shown struct {
	HeaderID     int64         `json:"header_id"`
	Filename     string        `json:"filename"`
	DataLabel    *string       `json:"data_label"`
	Instrument   *string       `json:"instrument"`
	Applicable   []Applicable  `json:"applicable"` // the calibration types its rules ask for
	Calibrations []Calibration `json:"calibrations"`
}

// Applicable is a calibration type an observation's rules ask for, and what they ask.
type Applicable struct {
	CalType string `json:"caltype"`
	Why     string `json:"why"`
}

// Show reads the cached calibrations of the observation named by name: a file name (with
// or without .bz2) or a data label, its canonical version.
func (rs *Rules) Show(ctx context.Context, db *pgxpool.Pool, name string) (Shown, error) {
	var s Shown
	err := db.QueryRow(ctx, `SELECT h.id, d.filename, h.data_label, h.instrument FROM header h
		JOIN diskfile d ON d.id = h.diskfile_id JOIN file f ON f.id = d.file_id
		WHERE d.canonical AND (f.name = $1 OR d.filename = $1 OR h.data_label = $1)
		ORDER BY h.id DESC LIMIT 1`, name).Scan(&s.HeaderID, &s.Filename, &s.DataLabel, &s.Instrument)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("%w: %q is neither the name nor the data label of an ingested file", ErrNoObservation, name)
	}
	if err != nil {
		return s, fmt.Errorf("look up %s: %w", name, err)
	}
	only, scan := rs.applicableRules()
	if err := scan(db.QueryRow(ctx, rs.applicableSQL(), []int64{s.HeaderID})); err != nil {
		return s, fmt.Errorf("rules of %s: %w", name, err)
	}
	why := map[string]string{}
	for i, set := range rs.sets {
		for j, r := range set.Rules {
			if only[i][j] && why[r.CalType] == "" {
				why[r.CalType] = r.Why()
				s.Applicable = append(s.Applicable, Applicable{CalType: r.CalType, Why: why[r.CalType]})
			}
		}
	}
	rows, err := db.Query(ctx, `SELECT c.caltype::text, c.rank, d.filename, h.data_label,
			extract(epoch FROM h.ut_datetime - o.ut_datetime)::float8
		FROM calcache c JOIN header h ON h.id = c.cal_hid JOIN diskfile d ON d.id = h.diskfile_id
		JOIN header o ON o.id = c.obs_hid
		WHERE c.obs_hid = $1 ORDER BY c.caltype, c.rank`, s.HeaderID)
	if err != nil {
		return s, fmt.Errorf("read the calibrations of %s: %w", name, err)
	}
	s.Calibrations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Calibration, error) {
		var c Calibration
		var delta *float64
		err := r.Scan(&c.CalType, &c.Rank, &c.Filename, &c.DataLabel, &delta)
		if delta != nil {
			c.DeltaSeconds = *delta
		}
		c.Why = why[c.CalType]
		return c, err
	})
	if err != nil {
		return s, fmt.Errorf("read the calibrations of %s: %w", name, err)
	}
	if s.Calibrations == nil {
		s.Calibrations = []Calibration{}
	}
	if s.Applicable == nil {
		s.Applicable = []Applicable{}
	}
	return s, nil
}

// Missing is how many observations a rule applies to have no calibration of its type.
type Missing struct {
	Instruments string `json:"instruments"` // the rule set's instruments ("other" for the default set)
	CalType     string `json:"caltype"`
	Applicable  int64  `json:"applicable"` // observations the rule applies to
	Without     int64  `json:"without"`    // of those, without any calibration of the type
}

// Run is one bulk rebuild.
type Run struct {
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	Observations int64     `json:"observations"`
	Rows         int64     `json:"rows"`
}

// Status is the state of the cache.
type Status struct {
	Rows         int64     `json:"rows"`
	Observations int64     `json:"observations"` // with at least one row
	Missing      []Missing `json:"missing"`
	LastRebuild  *Run      `json:"last_rebuild"`
}

// StatusOf reads the cache's size, the observations left without a calibration their rules
// ask for (per rule set and type), and the last bulk rebuild.
func (rs *Rules) StatusOf(ctx context.Context, db *pgxpool.Pool) (Status, error) {
	var st Status
	if err := db.QueryRow(ctx, `SELECT count(*), count(DISTINCT obs_hid) FROM calcache`).Scan(&st.Rows, &st.Observations); err != nil {
		return st, fmt.Errorf("count the cache: %w", err)
	}
	st.Missing = []Missing{}
	for _, set := range rs.sets {
		names := "other"
		if len(set.Instruments) > 0 {
			names = fmt.Sprint(set.Instruments)
		}
		done := map[string]bool{}
		for _, r := range set.Rules {
			if done[r.CalType] {
				continue // one count per type: its rules' union
			}
			done[r.CalType] = true
			var conds []string
			for _, other := range set.Rules {
				if other.CalType == r.CalType {
					conds = append(conds, "("+and(rs.applies(set, other))+")")
				}
			}
			m := Missing{Instruments: names, CalType: r.CalType}
			err := db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT EXISTS
					(SELECT 1 FROM calcache k WHERE k.obs_hid = o.id AND k.caltype = $1::caltype))
				FROM `+observation(set)+` WHERE `+or(conds), r.CalType).Scan(&m.Applicable, &m.Without)
			if err != nil {
				return st, fmt.Errorf("count observations without %s: %w", r.CalType, err)
			}
			if m.Applicable > 0 {
				st.Missing = append(st.Missing, m)
			}
		}
	}
	var run Run
	err := db.QueryRow(ctx, `SELECT started, finished, observations, rows FROM agentd_calcache_rebuild ORDER BY id DESC LIMIT 1`).
		Scan(&run.Started, &run.Finished, &run.Observations, &run.Rows)
	switch {
	case err == nil:
		st.LastRebuild = &run
	case !errors.Is(err, pgx.ErrNoRows):
		return st, fmt.Errorf("read the last rebuild: %w", err)
	}
	return st, nil
}

func and(conds []string) string { return strings.Join(conds, " AND ") }
func or(conds []string) string  { return strings.Join(conds, " OR ") }
