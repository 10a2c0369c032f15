package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fitsarchive/agentd/internal/connstr"
)

// Setting is one effective setting and where it came from.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // "flag --x", "environment $X", "file PATH", "PG* variables", "default"
}

// setting describes one key: its environment variable and how to print it.
type settingDef struct {
	key, env string
	get      func(Config) string
}

var settingDefs = []settingDef{
	{"role", "AGENTD_ROLE", func(c Config) string { return c.Role }},
	{"database_url", "DATABASE_URL", func(c Config) string { return describeURL(c.DatabaseURL) }},
	{"storage_root", "AGENTD_STORAGE_ROOT", func(c Config) string { return c.StorageRoot }},
	{"previews_dir", "AGENTD_PREVIEWS_DIR", func(c Config) string { return c.PreviewsPath() }},
	{"calcache_rules", "AGENTD_CALCACHE_RULES", func(c Config) string { return cmp.Or(c.CalcacheRules, "built-in") }},
	{"agentd.name", "AGENTD_NAME", func(c Config) string { return c.Agentd.Name }},
	{"agentd.lock_dir", "AGENTD_LOCK_DIR", func(c Config) string { return c.Agentd.LockPath() }},
	{"agentd.state", "AGENTD_STATE", func(c Config) string { return c.Agentd.StatePath() }},
	{"agentd.socket", "AGENTD_SOCKET", func(c Config) string { return c.Agentd.SocketPath() }},
	{"agentd.socket_group", "AGENTD_SOCKET_GROUP", func(c Config) string { return c.Agentd.SocketGroup }},
	{"agentd.metrics_addr", "AGENTD_METRICS_ADDR", func(c Config) string { return c.Agentd.MetricsAddr }},
	{"agentd.grace", "AGENTD_GRACE", func(c Config) string { return c.Agentd.Grace.String() }},
	{"agentd.lease", "", func(c Config) string { return c.Agentd.Lease.String() }},
	{"agentd.foreign_lease", "", func(c Config) string { return c.Agentd.ForeignLease.String() }},
	{"agentd.make_previews", "", func(c Config) string { return fmt.Sprint(c.Agentd.MakePreviews) }},
	{"agentd.queues", "AGENTD_QUEUES", func(c Config) string { return queuesText(c.Agentd.Queues) }},
	{"rollcall.sentinel", "", func(c Config) string { return c.Rollcall.Sentinel }},
	{"spot.mode", "", func(c Config) string { return c.Spot.Mode }},
	{"spot.metadata_endpoint", "", func(c Config) string { return c.Spot.MetadataEndpoint }},
	{"spot.rebalance_resume", "", func(c Config) string { return c.Spot.RebalanceResume.String() }},
	{"spot.interruption_margin", "", func(c Config) string { return c.Spot.InterruptionMargin.String() }},
	{"spot.poweroff_when_empty", "", func(c Config) string { return fmt.Sprint(c.Spot.PoweroffWhenEmpty) }},
	{"spot.swap_device", "", func(c Config) string { return c.Spot.SwapDevice }},
	{"storage.mode", "", func(c Config) string { return c.Storage.Mode }},
	{"storage.arrays", "", func(c Config) string { return strings.Join(c.Storage.Arrays, ",") }},
	{"storage.candidates", "", func(c Config) string { return strings.Join(c.Storage.Candidates, ",") }},
	{"storage.grace", "", func(c Config) string { return c.Storage.Grace.String() }},
	{"storage.max_parallel", "", func(c Config) string { return fmt.Sprint(c.Storage.MaxParallel) }},
	{"storage.pairing", "", func(c Config) string { return c.Storage.Pairing }},
}

// describeURL names a database URL without its password ("" stays "").
func describeURL(u string) string {
	if u == "" {
		return ""
	}
	pc, err := pgconn.ParseConfig(u)
	if err != nil {
		return "(does not parse; not shown)"
	}
	return connstr.Describe(pc)
}

func queuesText(q map[string]QueueConfig) string {
	var parts []string
	for name, qc := range q {
		parts = append(parts, fmt.Sprintf("%s:%d", name, qc.Workers))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Explain lists the effective settings of cfg (loaded from path with getenv, then with
// the flags applied) and where each came from; flags maps a setting key to the flag that
// set it. Passwords are never shown. The database agentctl and agentd connect to is listed
// last, resolved as libpq would (PG* variables, defaults).
func Explain(cfg Config, path string, getenv func(string) string, flags map[string]string) ([]Setting, error) {
	if path == "" {
		path = DefaultPath
	}
	var inFile toml.MetaData
	fileFound := false
	probe := Defaults()
	md, err := toml.DecodeFile(path, &probe)
	switch {
	case err == nil:
		inFile, fileFound = md, true
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
	default:
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	var out []Setting
	for _, d := range settingDefs {
		s := Setting{Key: d.key, Value: d.get(cfg), Source: "default"}
		switch {
		case flags[d.key] != "":
			s.Source = "flag " + flags[d.key]
		case d.env != "" && getenv(d.env) != "":
			s.Source = "environment $" + d.env
		case fileFound && inFile.IsDefined(strings.Split(d.key, ".")...):
			s.Source = "file " + path
		}
		out = append(out, s)
	}
	pc, err := cfg.PoolConfig("agentctl config", getenv)
	if err != nil {
		return out, err
	}
	src := "database_url"
	if cfg.DatabaseURL == "" {
		src = "PG* variables and libpq defaults"
		if getenv("PGDATABASE") == "" {
			src += " (database " + DefaultDatabase + ")"
		}
	}
	out = append(out, Setting{Key: "database", Value: connstr.Describe(&pc.ConnConfig.Config), Source: src})
	return out, nil
}
