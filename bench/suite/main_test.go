package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run writes its size's section only: added after the first paragraph the first time,
// replaced in place after that, the rest of the file (and the other size) untouched.
func TestWriteSectionReplacesOnlyItsSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	hand := "# Benchmarks\n\nIntro.\n\n## Queue: ours vs River\n\nHistory.\n"
	if err := os.WriteFile(path, []byte(hand), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := writeSection(path, "large", "large figures 1"); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "default", "small figures 1"); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "default", "small figures 2"); err != nil {
		t.Fatal(err)
	}
	got := read()
	for _, want := range []string{"large figures 1", "small figures 2", "Intro.", "## Queue: ours vs River\n\nHistory."} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "small figures 1") || strings.Count(got, "bench/suite default: begin") != 1 {
		t.Errorf("the default section was not replaced in place:\n%s", got)
	}
	if strings.Index(got, "Intro.") > strings.Index(got, "bench/suite") || strings.Index(got, "bench/suite") > strings.Index(got, "## Queue") {
		t.Errorf("the sections are not between the first paragraph and the first section:\n%s", got)
	}
	// A section whose end marker was lost is refused, the file left as it was.
	broken := strings.Replace(got, "<!-- bench/suite default: end -->", "", 1)
	os.WriteFile(path, []byte(broken), 0o644)
	if err := writeSection(path, "default", "small figures 3"); err == nil || read() != broken {
		t.Errorf("a section without its end marker: err %v, file changed %v", err, read() != broken)
	}
}
