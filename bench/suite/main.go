// Command suite runs every benchmark of bench/, each against its baseline measured in the
// same run (River; pg_dump | pg_restore; md5sum and bzip2 -dc | md5sum; find | psql \copy;
// a find-based listing; the per-item calcache service; the upgrade's steps), and writes
// what they print into docs/benchmarks.md, with the machine's description and the date.
//
// Each size has its own section of the file, between markers of its name, replaced whole
// by a run of that size and by nothing else: a quick run never overwrites the large figures,
// and the hand-written history of the file (what was tried, old against new) stays as it is.
// The default size keeps the whole suite under 15 minutes on 2 cores; -size large runs each
// program at its own defaults (an hour or more).
//
//	eval "$(scripts/pg.sh start)" && export TEST_DATABASE_URL && go run ./bench/suite
//	go run ./bench/suite -size large
//	go run ./bench/suite -only queue,enqueue
//
// With -only, the parts of the benchmarks run replace theirs in the section and the others'
// figures stay (each part run alone says so, with its date).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// benchmark is one program of bench/ and its arguments at each size.
type benchmark struct {
	name, program, baseline string
	args                    map[string][]string // by size; nil: the program's defaults
}

var benchmarks = []benchmark{
	{name: "queue", program: "queuebench", baseline: "River (FetchCooldown 1 ms); 1 × 8 workers for the fleet, on the same path", args: map[string][]string{
		"default": {"-items", "20000", "-rounds", "5", "-fleet", "50x12", "-fleet-items", "60000", "-fleet-rounds", "2", "-fleet-paths", "direct,pgbouncer"},
	}},
	{name: "enqueue", program: "enqueuebench", baseline: "find | psql \\copy", args: map[string][]string{
		"default": {"-files", "100000", "-rounds", "3"},
	}},
	{name: "ingest", program: "ingestbench", baseline: "md5sum, bzip2 -dc | md5sum", args: map[string][]string{
		"default": {"-files", "40", "-mb", "5", "-rounds", "2"},
	}},
	{name: "transfer", program: "transferbench", baseline: "pg_dump -Fc | pg_restore --data-only", args: map[string][]string{
		"default": {"-usagelog", "300000", "-rounds", "3"},
	}},
	{name: "rollcall", program: "rollcallbench", baseline: "find | sort, psql | sort, comm", args: map[string][]string{
		"default": {"-files", "100000"},
	}},
	{name: "calcache", program: "calcachebench", baseline: "the per-item service (agentd --queue calcache)", args: map[string][]string{
		"default": {"-nights", "60", "-items", "1000"},
	}},
	{name: "upgrade", program: "upgrade", baseline: "none: the procedure's steps, checked", args: map[string][]string{
		"default": {"-nights", "40", "-logs", "50000", "-users", "500", "-qa", "1000"},
	}},
}

func main() {
	size := flag.String("size", "default", "default (under 15 minutes on 2 cores) or large (each program's own defaults)")
	out := flag.String("out", "docs/benchmarks.md", "the file whose section of this size is replaced")
	only := flag.String("only", "", "run only these benchmarks (comma-separated: "+names()+")")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *size, *out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		os.Exit(1)
	}
}

func names() string {
	var n []string
	for _, b := range benchmarks {
		n = append(n, b.name)
	}
	return strings.Join(n, ", ")
}

func run(ctx context.Context, size, out, only string) error {
	if size != "default" && size != "large" {
		return fmt.Errorf("-size %q: want default or large", size)
	}
	if os.Getenv("TEST_DATABASE_URL") == "" {
		return fmt.Errorf("TEST_DATABASE_URL is not set; run: eval \"$(scripts/pg.sh start)\" && export TEST_DATABASE_URL")
	}
	if _, err := os.Stat("bench"); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if !slices.ContainsFunc(benchmarks, func(b benchmark) bool { return b.name == n }) {
				return fmt.Errorf("-only %q: no benchmark %q (they are: %s)", only, n, names())
			}
			want[n] = true
		}
	}
	bin, err := os.MkdirTemp("", "suite-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)

	start := time.Now()
	header := fmt.Sprintf("Written by `go run ./bench/suite -size %s` on %s: %s. Each table compares both sides in the same run.\n",
		size, start.UTC().Format("2006-01-02 15:04 UTC"), machine())
	var blocks []string // each benchmark's part of the section
	var failed []string
	for _, b := range benchmarks {
		if len(want) > 0 && !want[b.name] {
			continue
		}
		args := b.args[size] // nil at size large: the program's defaults
		exe := filepath.Join(bin, b.program)
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", exe, "./bench/"+b.program).CombinedOutput(); err != nil {
			return fmt.Errorf("build bench/%s: %v\n%s", b.program, err, out)
		}
		fmt.Fprintf(os.Stderr, "suite: %s: go run ./bench/%s %s\n", b.name, b.program, strings.Join(args, " "))
		began := time.Now()
		var stdout bytes.Buffer
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Stdout = io.MultiWriter(&stdout, os.Stderr)
		cmd.Stderr = os.Stderr
		err := cmd.Run()
		took := time.Since(began)
		var body bytes.Buffer
		fmt.Fprintf(&body, "\n### %s (baseline: %s)\n\n```sh\ngo run ./bench/%s %s\n```\n\n", b.name, b.baseline, b.program, strings.Join(args, " "))
		if err != nil {
			failed = append(failed, b.name)
			fmt.Fprintf(&body, "**Failed** after %.0f s: %v. What it printed:\n\n", took.Seconds(), err)
		}
		body.WriteString(demote(strings.TrimSpace(stdout.String())))
		if len(want) > 0 {
			fmt.Fprintf(&body, "\n\n(%.0f s; run alone, `-only`, on %s)\n", took.Seconds(), began.UTC().Format("2006-01-02 15:04 UTC"))
		} else {
			fmt.Fprintf(&body, "\n\n(%.0f s)\n", took.Seconds())
		}
		blocks = append(blocks, body.String())
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if len(want) == 0 {
		total := fmt.Sprintf("%s%.1f minutes.\n", suiteTotal, time.Since(start).Minutes())
		err = writeSection(out, size, header+strings.Join(blocks, "")+total)
	} else {
		// Only some ran: their parts replace theirs in the section, the others' figures stay.
		err = mergeSection(out, size, header, blocks)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "suite: wrote the %q section of %s (%.1f minutes)\n", size, out, time.Since(start).Minutes())
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s (their output is in the file)", strings.Join(failed, ", "))
	}
	return nil
}

// demote moves a program's own headings below the suite's (### per benchmark).
func demote(s string) string {
	lines := strings.Split(s, "\n")
	fence := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if !fence && strings.HasPrefix(l, "#") {
			lines[i] = "###" + l
		}
	}
	return strings.Join(lines, "\n")
}

// mergeSection puts the parts of the benchmarks that ran (blocks, each beginning with its
// "### name (" heading) into the section of this size in the file: each replaces the part of
// the same benchmark, or is added after the others; the other parts, the section's first line
// and its last ("The whole suite: …") stay as they were. Without a section yet, it is
// written with header and the blocks.
func mergeSection(path, size, header string, blocks []string) error {
	old, found, err := readSection(path, size)
	if err != nil {
		return err
	}
	if !found {
		return writeSection(path, size, header+strings.Join(blocks, ""))
	}
	head, parts, tail := splitBlocks(old)
	for _, b := range blocks {
		name := blockName(b)
		i := slices.IndexFunc(parts, func(p string) bool { return blockName(p) == name })
		if i < 0 {
			parts = append(parts, b)
		} else {
			parts[i] = b
		}
	}
	for i, p := range parts {
		parts[i] = "\n" + strings.Trim(p, "\n") + "\n"
	}
	return writeSection(path, size, strings.TrimRight(head, "\n")+"\n"+strings.Join(parts, "")+tail)
}

// suiteTotal opens the section's closing line: the whole run's time.
const suiteTotal = "\nThe whole suite: "

// splitBlocks cuts a section's text into what comes before the first benchmark's heading,
// the benchmarks' parts (each from its "### " heading), and the closing "The whole suite"
// line (empty when there is none).
func splitBlocks(text string) (head string, parts []string, tail string) {
	if i := strings.LastIndex(text, suiteTotal); i >= 0 {
		text, tail = text[:i], text[i:]
	}
	starts := []int{}
	fence := false
	at := 0
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if !fence && strings.HasPrefix(line, "### ") {
			starts = append(starts, at)
		}
		at += len(line)
	}
	if len(starts) == 0 {
		return text, nil, tail
	}
	head = text[:starts[0]]
	for k, st := range starts {
		end := len(text)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		parts = append(parts, text[st:end])
	}
	return head, parts, tail
}

// blockName is the benchmark's name in a part's "### name (baseline: …)" heading.
func blockName(part string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(part, "\n"), "\n")
	name, _, _ := strings.Cut(strings.TrimPrefix(line, "### "), " ")
	return name
}

// readSection returns the text of the section of this size in the file, between its title
// and its end marker, and whether the file has it.
func readSection(path, size string) (string, bool, error) {
	begin, end, title := sectionMarkers(size)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	text := string(b)
	i, j, err := findSection(path, size, text)
	if err != nil || i < 0 {
		return "", false, err
	}
	body := strings.TrimPrefix(text[i+len(begin):j-len(end)], "\n")
	body = strings.TrimPrefix(body, title+"\n\n")
	return body, true, nil
}

// findSection returns where the section of this size begins (its begin marker) and ends
// (after its end marker) in text, the file at path; -1 when text has none.
func findSection(path, size, text string) (i, j int, err error) {
	begin, end, _ := sectionMarkers(size)
	i = strings.Index(text, begin)
	if i < 0 {
		return -1, -1, nil
	}
	k := strings.Index(text[i:], end)
	if k < 0 {
		return -1, -1, fmt.Errorf("%s: the %s section has no end marker (%s); restore it, then run again", path, size, end)
	}
	return i, i + k + len(end), nil
}

// sectionMarkers are the lines that open and close the section of a size, and its title.
func sectionMarkers(size string) (begin, end, title string) {
	begin = fmt.Sprintf("<!-- bench/suite %s: begin (written by go run ./bench/suite -size %s; edits here are lost) -->", size, size)
	end = fmt.Sprintf("<!-- bench/suite %s: end -->", size)
	title = map[string]string{"default": "## The suite at its default sizes", "large": "## The suite at large sizes"}[size]
	return begin, end, title
}

// writeSection replaces the section of this size in the file (between its two markers), or
// adds it after the file's first paragraph when it is not there yet.
func writeSection(path, size, body string) error {
	begin, end, title := sectionMarkers(size)
	section := begin + "\n" + title + "\n\n" + strings.TrimSpace(body) + "\n" + end
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	i, j, err := findSection(path, size, text)
	if err != nil {
		return err
	}
	var next string
	if i >= 0 {
		next = text[:i] + section + text[j:]
	} else {
		// After the title and the first paragraph, before the first section.
		at := strings.Index(text, "\n## ")
		if at < 0 {
			at = len(text)
		}
		next = text[:at] + "\n" + section + "\n" + text[at:]
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(next), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// machine describes the machine: CPU model and count, memory, kernel.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d × %s%s%s", runtime.NumCPU(), model, mem, kernel)
}
