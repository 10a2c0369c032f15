package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedenceFileThenEnv(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "agentd.toml")
	body := `role = "summit"
database_url = "postgresql:///fromfile"
storage_root = "/data/file"
[agentd]
name = "rebuild"
grace = "5s"
[agentd.queues.ingest]
workers = 3
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, true, envOf(map[string]string{"DATABASE_URL": "postgresql:///fromenv"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgresql:///fromenv" {
		t.Errorf("DatabaseURL = %q, want the environment's", c.DatabaseURL)
	}
	if c.StorageRoot != "/data/file" || c.Role != RoleSummit || c.Agentd.Name != "rebuild" {
		t.Errorf("file settings not applied: %+v", c)
	}
	if c.Agentd.Grace.Duration != 5*time.Second || c.Agentd.Queues["ingest"].Workers != 3 {
		t.Errorf("agentd settings = %+v", c.Agentd)
	}
	if c.Agentd.StatePath() != "/var/lib/agentd/rebuild.db" {
		t.Errorf("StatePath = %q", c.Agentd.StatePath())
	}
}

func TestMissingFile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "none.toml")
	if _, err := Load(missing, false, envOf(nil)); err != nil {
		t.Errorf("missing default file: %v, want no error", err)
	}
	if _, err := Load(missing, true, envOf(nil)); err == nil {
		t.Error("missing explicit file: no error")
	}
}

func TestUnknownSettingAndBadRole(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "agentd.toml")
	os.WriteFile(path, []byte("databse_url = 'x'\n"), 0o644)
	if _, err := Load(path, true, envOf(nil)); err == nil || !strings.Contains(err.Error(), "databse_url") {
		t.Errorf("misspelt setting: err = %v, want it named", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "x"), false, envOf(map[string]string{"AGENTD_ROLE": "cloud"})); err == nil {
		t.Error("role cloud accepted")
	}
}

func TestParseQueues(t *testing.T) {
	t.Parallel()
	q, err := ParseQueues("ingest:3, calcache")
	if err != nil || q["ingest"].Workers != 3 || q["calcache"].Workers != 1 {
		t.Fatalf("ParseQueues = %v, %v", q, err)
	}
	if _, err := ParseQueues("ingest:0"); err == nil {
		t.Error("zero workers accepted")
	}
}

func TestPoolConfigDefaultDatabase(t *testing.T) {
	t.Parallel()
	pc, err := Config{}.PoolConfig("agentctl/x", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if pc.ConnConfig.Database != DefaultDatabase {
		t.Errorf("database = %q, want %q", pc.ConnConfig.Database, DefaultDatabase)
	}
	if pc.ConnConfig.RuntimeParams["application_name"] != "agentctl/x" {
		t.Errorf("application_name = %q", pc.ConnConfig.RuntimeParams["application_name"])
	}
}

// A config holding a database password must not be readable by every user; one without a
// password may be. An unreadable default config is ignored; an unreadable explicit one is
// an error.
func TestConfigWithPasswordMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.toml")
	os.WriteFile(secret, []byte(`database_url = "postgresql://agentd:Sekr1t@db/fitsdata"`+"\n"), 0o644)
	if _, err := Load(secret, true, envOf(nil)); err == nil || !strings.Contains(err.Error(), "chmod") || strings.Contains(err.Error(), "Sekr1t") {
		t.Fatalf("world-readable config with a password: %v; want a refusal that does not show it", err)
	}
	os.Chmod(secret, 0o640)
	if _, err := Load(secret, true, envOf(nil)); err != nil {
		t.Fatalf("private config with a password: %v", err)
	}
	plain := filepath.Join(dir, "plain.toml")
	os.WriteFile(plain, []byte(`database_url = "postgresql:///fitsdata"`+"\n"), 0o644)
	if _, err := Load(plain, true, envOf(nil)); err != nil {
		t.Fatalf("world-readable config without a password: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Skip("root reads every file: the unreadable-config half needs another user")
	}
	os.Chmod(secret, 0)
	if _, err := Load(secret, false, envOf(nil)); err != nil {
		t.Fatalf("unreadable default config: %v; want it ignored", err)
	}
	if _, err := Load(secret, true, envOf(nil)); err == nil {
		t.Fatal("unreadable explicit config: no error")
	}
}
