package pgsync

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Map says how the tables drifted: table renames, column renames, computed columns and the
// source columns that may be dropped. Keys are target table and column names.
type Map struct {
	Tables map[string]TableMap `toml:"tables" json:"tables"`
}

// TableMap is the drift of one table.
type TableMap struct {
	OldNames []string            `toml:"old_names" json:"old_names,omitempty"` // source names of this table, tried in order
	Rename   map[string][]string `toml:"rename" json:"rename,omitempty"`       // target column ← first old name the source has
	Compute  map[string]string   `toml:"compute" json:"compute,omitempty"`     // target column ← SQL over the old row
	Drop     []string            `toml:"drop" json:"drop,omitempty"`           // source columns that may be left behind
}

//go:embed maps/archive.toml
var archiveMap string

// DefaultMap is the archive's known history (maps/archive.toml), used when no map is given.
func DefaultMap() Map {
	m, err := ParseMap(archiveMap, "maps/archive.toml")
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return m
}

// ParseMap reads a map file's text; name is for errors.
func ParseMap(text, name string) (Map, error) {
	var m Map
	md, err := toml.Decode(text, &m)
	if err != nil {
		return Map{}, fmt.Errorf("map file %s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Map{}, fmt.Errorf("map file %s: unknown keys %s (known per table: old_names, rename, compute, drop)", name, strings.Join(keys, ", "))
	}
	for t, tm := range m.Tables {
		for col := range tm.Compute {
			if _, ok := tm.Rename[col]; ok {
				return Map{}, fmt.Errorf("map file %s: %s.%s is both renamed and computed; keep one", name, t, col)
			}
		}
	}
	return m, nil
}

// Merge returns m with other's tables on top (other wins per table).
func (m Map) Merge(other Map) Map {
	out := Map{Tables: map[string]TableMap{}}
	for k, v := range m.Tables {
		out.Tables[k] = v
	}
	for k, v := range other.Tables {
		out.Tables[k] = v
	}
	return out
}

// Check verifies that every table and column the map names exists in the target catalog.
func (m Map) Check(target Catalog) error {
	var problems []string
	names := make([]string, 0, len(m.Tables))
	for n := range m.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		tm := m.Tables[name]
		t := target[name]
		if t == nil {
			problems = append(problems, fmt.Sprintf("table %s is not in the target", name))
			continue
		}
		for col := range tm.Rename {
			if t.Column(col) == nil {
				problems = append(problems, fmt.Sprintf("column %s.%s (rename) is not in the target", name, col))
			}
		}
		for col := range tm.Compute {
			if t.Column(col) == nil {
				problems = append(problems, fmt.Sprintf("column %s.%s (compute) is not in the target", name, col))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%w: %s", ErrBadMap, strings.Join(problems, "; "))
	}
	return nil
}
