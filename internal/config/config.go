// Package config resolves the settings of agentd and agentctl. Precedence, highest first:
// command-line flags (applied by the binaries), environment (DATABASE_URL, AGENTD_*), the
// TOML config file (default /etc/agentd/agentd.toml), libpq's PG* variables (read by pgx),
// then defaults.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/connstr"
)

// DefaultPath is where the config file is looked for when --config is not given.
const DefaultPath = "/etc/agentd/agentd.toml"

// DefaultDatabase is the database used when neither a URL nor PGDATABASE names one.
const DefaultDatabase = "fitsdata"

// Roles of a host.
const (
	RoleArchive = "archive" // the cloud archive: creates calcache items, keeps the user tables
	RoleSummit  = "summit"  // a summit server
)

// Config is the whole configuration of both binaries.
type Config struct {
	Role        string `toml:"role"`
	DatabaseURL string `toml:"database_url"`
	// Pooler says what sits between agentd and PostgreSQL: "" (nothing: a direct
	// connection) or "pgbouncer" (transaction pooling: no prepared statements, no LISTEN;
	// the queues are polled).
	Pooler      string `toml:"pooler"`
	StorageRoot string `toml:"storage_root"`
	// PreviewsDir is where previews are written (default <storage_root>/previews): on the
	// shared storage every host reads, never a spot host's own disk.
	PreviewsDir string `toml:"previews_dir"`
	// CalcacheRules is a directory of calibration rules files (*.yml) that replaces the
	// built-in rules ("" = the built-in ones; agentctl calcache rules --export writes them).
	CalcacheRules string   `toml:"calcache_rules"`
	Agentd        Agentd   `toml:"agentd"`
	Rollcall      Rollcall `toml:"rollcall"`
	Storage       Storage  `toml:"storage"`
	Spot          Spot     `toml:"spot"`
}

// Spot modes.
const (
	SpotAuto = "auto" // watch for notices when an instance metadata service answers
	SpotOff  = "off"
)

// Spot is what agentd does on a spot host ([spot]).
type Spot struct {
	Mode             string `toml:"mode"`              // auto (default) or off
	MetadataEndpoint string `toml:"metadata_endpoint"` // "" = the real service
	// RebalanceResume: after a rebalance recommendation (claims stopped), claiming resumes
	// if no interruption notice came within this long.
	RebalanceResume Duration `toml:"rebalance_resume"`
	// InterruptionMargin: after an interruption notice, the agent has stopped (items
	// finished or released) this long before the notice's time.
	InterruptionMargin Duration `toml:"interruption_margin"`
	// PoweroffWhenEmpty: an --empty run that ends with every queue empty powers the
	// instance off (systemctl poweroff); with the fleet's InstanceInitiatedShutdownBehavior
	// terminate, the instance ends itself.
	PoweroffWhenEmpty bool `toml:"poweroff_when_empty"`
	// SwapDevice is the instance-store SSD made swap at boot (agentctl swap-on, the
	// agentd-swap unit); refused unless blank. "" = none.
	SwapDevice string `toml:"swap_device"`
}

// Storage modes.
const (
	StorageOff     = "off"          // no watcher
	StorageObserve = "observe-only" // watch and log what would be done
	StorageEnabled = "enabled"      // watch and repair
)

// Pairings of a mirror with a replacement SSD ([storage] pairing).
const (
	PairingSlot = "slot" // the SSD of the slot recorded for the mirror (any, with no record)
	PairingAny  = "any"  // any blank instance-store SSD
)

// Storage is the md mirror watcher of agentd ([storage]).
type Storage struct {
	Mode        string   `toml:"mode"`         // off (default), observe-only, enabled
	Arrays      []string `toml:"arrays"`       // md names to watch; empty or ["all"]: every array
	Candidates  []string `toml:"candidates"`   // glob patterns of replacement devices
	Grace       Duration `toml:"grace"`        // before an inactive mirror is run
	MaxParallel int      `toml:"max_parallel"` // mirrors recovering at once
	// Pairing: "slot" (default) gives a mirror only the blank SSD of the slot its SSD sat
	// in (recorded while it was healthy; any SSD while there is no record); "any" gives it
	// any blank instance-store SSD.
	Pairing string   `toml:"pairing"`
	Rescan  Duration `toml:"rescan"` // the periodic re-read behind the change events
	// ConfirmWithMetadata: a candidate whose name does not say it is instance storage (xvd*
	// on Xen hosts) counts as such only when the instance metadata lists it as ephemeral.
	ConfirmWithMetadata bool   `toml:"confirm_with_metadata"`
	MetadataEndpoint    string `toml:"metadata_endpoint"` // "" = the real service
	ProcRoot            string `toml:"proc_root"`         // "/proc" (tests use captured trees)
	SysRoot             string `toml:"sys_root"`          // "/sys"
}

// Watches reports whether the storage agent looks after array name.
func (s Storage) Watches(name string) bool {
	if len(s.Arrays) == 0 {
		return true
	}
	for _, a := range s.Arrays {
		if a == "all" || a == name {
			return true
		}
	}
	return false
}

// Rollcall holds agentctl rollcall's guard.
type Rollcall struct {
	// Sentinel is a file that must exist under the storage root before a rollcall may mark
	// anything (an unmounted file system then fails loudly).
	Sentinel string `toml:"sentinel"`
}

// Agentd holds the daemon's settings.
type Agentd struct {
	Name    string `toml:"name"`
	LockDir string `toml:"lock_dir"`
	State   string `toml:"state"`
	Socket  string `toml:"socket"`
	// SocketGroup may use the control socket besides root and the agent's user (mode 0660);
	// when the group does not exist the socket is the user's alone (0600).
	SocketGroup string `toml:"socket_group"`
	// MetricsAddr is where Prometheus metrics are served (host:port; "" = off).
	MetricsAddr  string   `toml:"metrics_addr"`
	Empty        bool     `toml:"empty"`
	FastRebuild  bool     `toml:"fast_rebuild"`
	MakePreviews bool     `toml:"make_previews"` // make previews while ingesting (else queued on the archive)
	Grace        Duration `toml:"grace"`
	Lease        Duration `toml:"lease"`
	// ForeignLease is how long a row FitsStorage's own worker set in progress (it takes no
	// lease) counts as worked on before agentd treats it as abandoned.
	ForeignLease Duration               `toml:"foreign_lease"`
	Queues       map[string]QueueConfig `toml:"queues"`
}

// QueueConfig is one serviced queue.
type QueueConfig struct {
	Workers int `toml:"workers"`
}

// Duration is a time.Duration written as "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses "30s", "2m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Defaults returns the built-in settings.
func Defaults() Config {
	return Config{
		Role: RoleArchive,
		Agentd: Agentd{
			Name:         "agentd",
			Grace:        Duration{30 * time.Second},
			SocketGroup:  "agentd",
			Lease:        Duration{60 * time.Second},
			ForeignLease: Duration{time.Hour},
		},
		Spot: Spot{Mode: SpotAuto, RebalanceResume: Duration{10 * time.Minute}, InterruptionMargin: Duration{15 * time.Second}},
		Storage: Storage{
			Mode:        StorageOff,
			Candidates:  []string{"/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_*"},
			Grace:       Duration{30 * time.Second},
			MaxParallel: 1,
			Pairing:     PairingSlot,
			Rescan:      Duration{30 * time.Second},
			ProcRoot:    "/proc",
			SysRoot:     "/sys",
		},
	}
}

// Load reads the config file at path over the defaults, then the environment over that.
// When explicit is false a missing file is not an error (the default path is optional).
func Load(path string, explicit bool, getenv func(string) string) (Config, error) {
	c := Defaults()
	if path == "" {
		path = DefaultPath
	}
	md, err := toml.DecodeFile(path, &c)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
	case errors.Is(err, fs.ErrPermission) && !explicit:
		// The default config is agentd's; an operator who may not read it gets the
		// defaults, the environment and the flags.
	case err != nil:
		return c, fmt.Errorf("read config %s: %w", path, err)
	default:
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return c, fmt.Errorf("config %s: unknown setting %s", path, strings.Join(keys, ", "))
		}
		if err := checkSecretMode(path, c.DatabaseURL); err != nil {
			return c, err
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// checkSecretMode refuses a config file that holds a database password and that every user
// of the host may read.
func checkSecretMode(path, databaseURL string) error {
	if databaseURL == "" {
		return nil
	}
	pc, err := pgconn.ParseConfig(databaseURL)
	if err != nil || pc.Password == "" {
		return nil // no password (a parse error is reported where the URL is used)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return fmt.Errorf("config %s holds a database password and every user may read it (mode %#o); chmod o-r it "+
			"(e.g. 0640 root:agentd), or keep the password in the agent's ~/.pgpass", path, fi.Mode().Perm())
	}
	return nil
}

func (c *Config) applyEnv(getenv func(string) string) error {
	set := func(dst *string, key string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	set(&c.DatabaseURL, "DATABASE_URL")
	set(&c.Pooler, "AGENTD_POOLER")
	set(&c.Role, "AGENTD_ROLE")
	set(&c.StorageRoot, "AGENTD_STORAGE_ROOT")
	set(&c.PreviewsDir, "AGENTD_PREVIEWS_DIR")
	set(&c.CalcacheRules, "AGENTD_CALCACHE_RULES")
	set(&c.Agentd.Name, "AGENTD_NAME")
	set(&c.Agentd.LockDir, "AGENTD_LOCK_DIR")
	set(&c.Agentd.State, "AGENTD_STATE")
	set(&c.Agentd.Socket, "AGENTD_SOCKET")
	set(&c.Agentd.SocketGroup, "AGENTD_SOCKET_GROUP")
	set(&c.Agentd.MetricsAddr, "AGENTD_METRICS_ADDR")
	if v := getenv("AGENTD_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("AGENTD_GRACE: %w", err)
		}
		c.Agentd.Grace.Duration = d
	}
	if v := getenv("AGENTD_QUEUES"); v != "" {
		q, err := ParseQueues(v)
		if err != nil {
			return fmt.Errorf("AGENTD_QUEUES: %w", err)
		}
		c.Agentd.Queues = q
	}
	return nil
}

// ParseQueues reads "ingest:3,calcache:2" (a queue without a count gets one worker).
func ParseQueues(s string) (map[string]QueueConfig, error) {
	out := map[string]QueueConfig{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, n, hasN := strings.Cut(part, ":")
		qc := QueueConfig{Workers: 1}
		if hasN {
			w, err := strconv.Atoi(n)
			if err != nil || w < 1 {
				return nil, fmt.Errorf("bad worker count in %q", part)
			}
			qc.Workers = w
		}
		out[name] = qc
	}
	return out, nil
}

// Validate checks values that have a fixed set of choices.
func (c Config) Validate() error {
	if c.Role != RoleArchive && c.Role != RoleSummit {
		return fmt.Errorf("role %q: must be %q or %q", c.Role, RoleArchive, RoleSummit)
	}
	if c.Pooler != "" && c.Pooler != PoolerPgBouncer {
		return fmt.Errorf("pooler %q: must be %q, or empty for a direct connection", c.Pooler, PoolerPgBouncer)
	}
	if c.Agentd.Lease.Duration <= 0 || c.Agentd.ForeignLease.Duration <= 0 {
		return fmt.Errorf("agentd lease %s and foreign_lease %s: both must be positive durations", c.Agentd.Lease, c.Agentd.ForeignLease)
	}
	for name, q := range c.Agentd.Queues {
		if q.Workers < 1 {
			return fmt.Errorf("queue %s: workers must be at least 1", name)
		}
	}
	switch c.Storage.Mode {
	case StorageOff, StorageObserve, StorageEnabled:
	default:
		return fmt.Errorf("[storage] mode %q: must be %q, %q or %q", c.Storage.Mode, StorageOff, StorageObserve, StorageEnabled)
	}
	switch c.Storage.Pairing {
	case PairingSlot, PairingAny:
	default:
		return fmt.Errorf("[storage] pairing %q: must be %q or %q", c.Storage.Pairing, PairingSlot, PairingAny)
	}
	if c.Storage.MaxParallel < 1 {
		return fmt.Errorf("[storage] max_parallel must be at least 1")
	}
	if c.Spot.Mode != SpotAuto && c.Spot.Mode != SpotOff {
		return fmt.Errorf("[spot] mode %q: must be %q or %q", c.Spot.Mode, SpotAuto, SpotOff)
	}
	if c.Spot.RebalanceResume.Duration <= 0 || c.Spot.InterruptionMargin.Duration < 0 {
		return fmt.Errorf("[spot] rebalance_resume %s must be positive and interruption_margin %s not negative",
			c.Spot.RebalanceResume, c.Spot.InterruptionMargin)
	}
	return nil
}

// PreviewsPath is the previews directory: configured, else <storage_root>/previews.
func (c Config) PreviewsPath() string {
	if c.PreviewsDir != "" {
		return c.PreviewsDir
	}
	return filepath.Join(c.StorageRoot, "previews")
}

// StatePath is the bbolt state file: configured, else /var/lib/agentd/<name>.db.
func (a Agentd) StatePath() string {
	if a.State != "" {
		return a.State
	}
	return "/var/lib/agentd/" + a.Name + ".db"
}

// RuntimeDir is the agent's own runtime directory, /run/agentd/<name> (its unit's
// RuntimeDirectory=agentd/<name>): one per name, so that a unit that stops removes its own
// socket and locks, never another's.
func (a Agentd) RuntimeDir() string { return "/run/agentd/" + a.Name }

// SocketPath is the control socket: configured, else /run/agentd/<name>/agentd.sock.
func (a Agentd) SocketPath() string {
	if a.Socket != "" {
		return a.Socket
	}
	return a.RuntimeDir() + "/agentd.sock"
}

// LockPath is the directory of the worker lock files: configured, else
// /run/agentd/<name>/locks.
func (a Agentd) LockPath() string {
	if a.LockDir != "" {
		return a.LockDir
	}
	return a.RuntimeDir() + "/locks"
}

// PoolConfig parses the database URL (empty: libpq's PG* variables, then the default database)
// and names the connections for pg_stat_activity, unless a transaction pooler is between:
// PgBouncer gives each server connection the name of the client it serves (one more
// statement each time the client changes) and leaves it there after that client is gone,
// where it would pass for a live agent (package queue: a rescue counts no death against a
// holder with a session on the server). The ingest names its transactions all the same.
func (c Config) PoolConfig(applicationName string, getenv func(string) string) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.DatabaseURL)
	if err != nil {
		return nil, connstr.ParseError("database URL", err)
	}
	if c.DatabaseURL == "" && getenv("PGDATABASE") == "" {
		pc.ConnConfig.Database = DefaultDatabase
	}
	if c.Pooler == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = AppName(applicationName)
	}
	if c.Pooler == PoolerPgBouncer {
		// Transaction pooling hands each transaction (each statement outside one) to any
		// server connection: a statement prepared on one is unknown on the next. pgx's
		// exec mode sends each statement whole in one round trip (the unnamed statement),
		// which any pooler passes through.
		pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	return pc, nil
}

// PoolerPgBouncer is the pooler setting for PgBouncer in transaction pooling mode.
const PoolerPgBouncer = "pgbouncer"

// Polled says whether the queues must be polled: LISTEN needs a session of its own, which a
// transaction pooler does not give.
func (c Config) Polled() bool { return c.Pooler == PoolerPgBouncer }

// AppName trims an application_name to PostgreSQL's 63 bytes.
func AppName(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}
