package mdraid

import (
	"os"
	"path/filepath"
	"testing"
)

// Whatever /proc/mdstat holds, Read returns arrays or an error, never a panic.
func FuzzReadMdstat(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/mdstat-*.txt")
	for _, file := range files[:5] {
		b, _ := os.ReadFile(file)
		f.Add(string(b))
	}
	f.Add("Personalities : [raid1]\nmd0 : inactive vdb[1](S)\n      261048 blocks super 1.2\n\nunused devices: <none>\n")
	dir := f.TempDir()
	proc, sys := filepath.Join(dir, "proc"), filepath.Join(dir, "sys")
	os.MkdirAll(proc, 0o755)
	os.MkdirAll(sys, 0o755)
	f.Fuzz(func(t *testing.T, text string) {
		if err := os.WriteFile(filepath.Join(proc, "mdstat"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		arrays, err := Read(proc, sys)
		if err != nil {
			return
		}
		for _, a := range arrays {
			_ = Plan(Input{Arrays: []Array{a}})
		}
	})
}

func FuzzParseExamine(f *testing.F) {
	b, _ := os.ReadFile("testdata/migrate/mdadm-examine-ebs0-migrated.txt")
	f.Add(string(b))
	f.Fuzz(func(t *testing.T, text string) {
		e := ParseExamine("x", text)
		if e.WriteMostly && !e.Superblock && e.ArrayUUID == "" && e.RaidLevel == "" {
			return // a Flags line alone: still parsed, harmless
		}
	})
}
