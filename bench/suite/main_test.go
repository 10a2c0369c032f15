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

// A run of some benchmarks (-only) replaces their parts of the section and nothing else:
// the other benchmarks' figures, the section's first line and its closing line stay; a part
// not there yet is added after the others; fenced "### " lines are not headings.
func TestMergeSectionReplacesOnlyTheBenchmarksRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	os.WriteFile(path, []byte("# Benchmarks\n\nIntro.\n\n## History\n"), 0o644)
	full := "Written on day 1.\n" +
		"\n### queue (baseline: River)\n\nQ figures 1\n\n```sh\n### not a heading\n```\n\n(10 s)\n" +
		"\n### enqueue (baseline: find)\n\nE figures 1\n\n(5 s)\n" +
		"\nThe whole suite: 1.0 minutes.\n"
	if err := writeSection(path, "default", full); err != nil {
		t.Fatal(err)
	}
	err := mergeSection(path, "default", "Written on day 2.\n", []string{
		"\n### queue (baseline: River)\n\nQ figures 2\n\n(11 s; run alone)\n",
		"\n### rollcall (baseline: comm)\n\nR figures 2\n\n(3 s; run alone)\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"Written on day 1.", "Q figures 2", "E figures 1", "R figures 2",
		"The whole suite: 1.0 minutes.", "Intro.", "## History"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, gone := range []string{"Q figures 1", "### not a heading", "Written on day 2."} {
		if strings.Contains(got, gone) {
			t.Errorf("%q is still there:\n%s", gone, got)
		}
	}
	q, e, r, total := strings.Index(got, "Q figures 2"), strings.Index(got, "E figures 1"),
		strings.Index(got, "R figures 2"), strings.Index(got, "The whole suite")
	if !(q < e && e < r && r < total) {
		t.Errorf("the parts are not in the order queue, enqueue, rollcall, then the closing line:\n%s", got)
	}
	if strings.Count(got, "bench/suite default: begin") != 1 || strings.Count(got, "## The suite at its default sizes") != 1 {
		t.Errorf("the section is not whole once:\n%s", got)
	}

	// Without a section yet, the run's own header and parts are written.
	fresh := filepath.Join(t.TempDir(), "fresh.md")
	os.WriteFile(fresh, []byte("# Benchmarks\n\nIntro.\n"), 0o644)
	if err := mergeSection(fresh, "default", "Written on day 3.\n", []string{"\n### queue (baseline: River)\n\nq3\n"}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(fresh)
	if !strings.Contains(string(b), "Written on day 3.") || !strings.Contains(string(b), "q3") {
		t.Errorf("a first partial run:\n%s", b)
	}
}
