package calcache

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// rulesDir is a copy of the built-in rules files in a directory of the test's, with each
// edit (file, old text, new text) applied; an edit whose old text is absent fails the test.
func rulesDir(t *testing.T, edits ...[3]string) string {
	t.Helper()
	dir := t.TempDir()
	builtin := BuiltinRules()
	entries, err := fs.ReadDir(builtin, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(builtin, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range edits {
		path := filepath.Join(dir, e[0])
		data, err := os.ReadFile(path)
		if err != nil && e[1] != "" {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), e[1]) {
			t.Fatalf("%s holds no %q to edit", e[0], e[1])
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(data), e[1], e[2], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A rules file with a mistake is refused whole, before any observation is computed with
// it, with the file, the rule and the mistake named: an unknown descriptor, caltype,
// observation type or class, condition, table, key; a processed form the database has no
// caltype for; a count, tolerance, day limit or date that makes no sense; a set structure
// that leaves instruments without rules or with two sets.
func TestRulesFileMistakesAreNamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	for _, c := range []struct {
		name  string
		edits [][3]string
		is    error
		want  []string
	}{
		{"unknown descriptor", [][3]string{{"gmos.yml", "read_speed_setting, gain_setting]\n    conditional: [gmos_amps]\n    days: 90",
			"read_speed_setting, gain_setting, amp_speed]\n    conditional: [gmos_amps]\n    days: 90"}},
			ErrRules, []string{`gmos.yml: rule 1 (bias): unknown descriptor "amp_speed": not a column of gmos nor of header`}},
		{"unknown descriptor in when", [][3]string{{"default.yml", "not_equal: {reduction: PROCESSED_SCIENCE}}",
			"not_equal: {reduction: PROCESSED_SCIENCE, redshift: 0}}"}},
			ErrRules, []string{`default.yml: rule 1 (bias): unknown descriptor "redshift": not a column of header`}},
		{"descriptor of another table", [][3]string{{"f2.yml", "match: &dark [exposure_time, read_mode]", "match: &dark [exposure_time, gmos.read_mode]"}},
			ErrRules, []string{`f2.yml: rule 1 (dark): descriptor "gmos.read_mode": gmos is neither header nor this file's table`}},
		{"unknown tolerance descriptor", [][3]string{{"niri.yml", "within: {exposure_time: 0.01}", "within: {exposure: 0.01}"}},
			ErrRules, []string{`niri.yml: rule 1 (dark): unknown descriptor "exposure"`}},
		{"unknown caltype", [][3]string{{"default.yml", "caltype: bias", "caltype: bais"}},
			ErrRules, []string{`default.yml: rule 1 (bais): caltype "bais" is not one of the database's`}},
		{"no processed form", [][3]string{{"niri.yml", "    conditional: [lamp_off]\n    days: 1\n    raw: {keep: 10, observation_type: FLAT}",
			"    conditional: [lamp_off]\n    days: 1\n    raw: {keep: 10, observation_type: FLAT}\n    processed: {keep: 1}"}},
			ErrRules, []string{`niri.yml: rule 6 (lampoff_flat): processed: caltype "processed_lampoff_flat" is not one of the database's`}},
		{"unknown observation type", [][3]string{{"default.yml", "raw: {keep: 1, observation_type: BIAS}", "raw: {keep: 1, observation_type: BAIS}"}},
			ErrRules, []string{`default.yml: rule 1 (bias): observation_type "BAIS" is not one of the database's`}},
		{"unknown observation class", [][3]string{{"niri.yml", "observation_class: [science]}", "observation_class: [sceince]}"}},
			ErrRules, []string{`niri.yml: rule 1 (dark): when: observation_class: "sceince" is not one of the database's`}},
		{"unknown condition", [][3]string{{"gmos.yml", "processed: {keep: 1, conditional: [gmos_prepared_bias]}",
			"processed: {keep: 1, conditional: [gmos_prepared]}"}},
			ErrRules, []string{`gmos.yml: rule 1 (bias): conditional: unknown condition "gmos_prepared" (known: gmos_amps`}},
		{"unknown table", [][3]string{{"f2.yml", "table: f2", "table: flamingos2"}},
			ErrRules, []string{`f2.yml: table "flamingos2": the database has no such table`}},
		{"not an instrument table", [][3]string{{"f2.yml", "table: f2", "table: diskfile"}},
			ErrRules, []string{`f2.yml: table "diskfile": not an instrument table (no header_id column)`}},
		{"keep nothing", [][3]string{{"default.yml", "raw: {keep: 1, observation_type: BIAS}", "raw: {keep: 0, observation_type: BIAS}"}},
			ErrRules, []string{`default.yml: rule 1 (bias): keep: 0; keep at least 1`}},
		{"no frames to keep", [][3]string{{"default.yml", "    days: 90\n    raw: {keep: 1, observation_type: BIAS}", "    days: 90"}},
			ErrRules, []string{`default.yml: rule 1 (bias): neither raw: nor processed: says how many to keep`}},
		{"negative days", [][3]string{{"default.yml", "days: 90", "days: -90"}},
			ErrRules, []string{`default.yml: rule 1 (bias): days: -90 is negative`}},
		{"tolerance not a number", [][3]string{{"default.yml", "within: {exposure_time: 1%}", "within: {exposure_time: .nan}"}},
			ErrRules, []string{`default.yml: rule 2 (dark): within: exposure_time: ".nan": want a positive number`}},
		{"negative tolerance", [][3]string{{"default.yml", "within: {exposure_time: 1%}", "within: {exposure_time: -1%}"}},
			ErrRules, []string{`default.yml: rule 2 (dark): within: exposure_time: "-1%": want a positive number`}},
		{"bad date", [][3]string{{"gmos.yml", "before: 2020-01-01", "before: 2020-13-01"}},
			ErrRules, []string{`gmos.yml: rule 5 (dark): when: before: "2020-13-01" is no date (YYYY-MM-DD)`}},
		{"instrument in two sets", [][3]string{{"f2.yml", "instruments: [F2]", "instruments: [F2, NIRI]"}},
			ErrRules, []string{`instrument NIRI is already served by`}},
		{"no default", [][3]string{{"default.yml", "instruments: []", "instruments: [GNIRS]"}},
			ErrRules, []string{`no default rules: one file must have no instruments`}},
		{"two defaults", [][3]string{{"extra.yml", "", "instruments: []\nrules:\n  - caltype: bias\n    raw: {keep: 1}\n"}},
			ErrRules, []string{`more than one default rules file (default.yml, extra.yml)`}},
		{"misspelt key", [][3]string{{"default.yml", "    match: [instrument, detector_binning, filter_name]", "    mach: [instrument, detector_binning, filter_name]"}},
			ErrRulesFile, []string{`default.yml: yaml: unmarshal errors:`, `field mach not found`}},
		{"not YAML", [][3]string{{"default.yml", "instruments: []", "instruments: [\n"}},
			ErrRulesFile, []string{`default.yml: yaml:`}},
		{"every mistake at once", [][3]string{{"default.yml", "caltype: bias", "caltype: bais"}, {"niri.yml", "within: {exposure_time: 0.01}", "within: {exposure: 0.01}"}},
			ErrRules, []string{`default.yml: rule 1 (bais)`, `niri.yml: rule 1 (dark): unknown descriptor "exposure"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(ctx, db, rulesDir(t, c.edits...))
			if !errors.Is(err, c.is) {
				t.Fatalf("%v; want %v", err, c.is)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\nsays nothing of %q", err, w)
				}
			}
		})
	}
	// And a directory without rules files.
	if _, err := Load(ctx, db, t.TempDir()); !errors.Is(err, ErrRulesFile) || !strings.Contains(err.Error(), "no rules files") {
		t.Errorf("an empty directory: %v", err)
	}
	if _, err := Load(ctx, db, filepath.Join(t.TempDir(), "absent")); !errors.Is(err, ErrRulesFile) {
		t.Errorf("a missing directory: %v", err)
	}
}

// An archive's own rules change what is cached: here GMOS biases kept 2 instead of 50 and
// a condition on the object whose value is SQL-shaped text, which the server quoted (the
// rule matches the text literally, and nothing else happens).
func TestOwnRulesDirectoryIsUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	bias := func(name string, at time.Duration) frame {
		return spectrum(name).with(func(f *frame) {
			f.obstype, f.class, f.object, f.spect, f.cw, f.at = "BIAS", "dayCal", "Bias", false, 0, at
		})
	}
	hostile := `x'); DROP TABLE calcache; --`
	ids := insert(t, db, spectrum("S"), spectrum("H").with(func(f *frame) { f.object = hostile }),
		bias("B1", time.Hour), bias("B2", 2*time.Hour), bias("B3", 3*time.Hour))

	builtin, err := Load(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	own, err := Load(ctx, db, rulesDir(t, [3]string{"gmos.yml", "raw: {keep: 50, observation_type: BIAS}", "raw: {keep: 2, observation_type: BIAS}"},
		[3]string{"gmos.yml", "not_equal: {reduction: PROCESSED_SCIENCE, detector_roi_setting: Central Stamp}",
			"not_equal: {reduction: PROCESSED_SCIENCE, detector_roi_setting: Central Stamp, object: \"" + hostile + "\"}"}))
	if err != nil {
		t.Fatal(err)
	}
	if own.Source == "built-in" || builtin.Source != "built-in" {
		t.Fatalf("sources %q and %q", builtin.Source, own.Source)
	}
	for _, c := range []struct {
		rs   *Rules
		obs  string
		want string
	}{{builtin, "S", "B1 B2 B3"}, {builtin, "H", "B1 B2 B3"}, {own, "S", "B1 B2"}, {own, "H", ""}} {
		loaded.Store(db, c.rs)
		recompute(t, db, ids[c.obs])
		if got := cache(t, db, ids[c.obs])["bias"]; got != c.want {
			t.Errorf("%s rules, %s: biases %q, want %q", c.rs.Source, c.obs, got, c.want)
		}
	}
	loaded.Delete(db)
}

// The rules parser takes any bytes without panicking, and whatever it accepts resolves
// against a catalog without panicking either.
func FuzzParseRuleFile(f *testing.F) {
	entries, _ := fs.ReadDir(BuiltinRules(), ".")
	for _, e := range entries {
		data, _ := fs.ReadFile(BuiltinRules(), e.Name())
		f.Add(data)
	}
	f.Add([]byte("rules:\n  - caltype: bias\n    within: {x: 1%}\n    raw: {keep: 1}\n"))
	cat := catalog{
		columns: map[string]map[string]bool{"header": {"instrument": true, "exposure_time": true}, "gmos": {"header_id": true, "gain_setting": true}},
		enums:   map[string]map[string]bool{enumCalType: {"bias": true, "processed_bias": true}, enumObsType: {"BIAS": true}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := parseRuleFile("fuzz.yml", data)
		if err != nil {
			return
		}
		set, _ := rf.resolve(cat)
		checkSets([]Set{set})
	})
}
