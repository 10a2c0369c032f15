// Package lvm reads LVM's JSON reports (`lvm fullreport --reportformat json --units b`, or
// pvs/vgs/lvs --reportformat json) into Go values and says what is unhealthy: missing
// physical volumes, partial volume groups and logical volumes. It never changes anything.
package lvm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fitsarchive/agentd/internal/hostexec"
)

// PV is a physical volume.
type PV struct {
	Name    string `json:"name"`
	VG      string `json:"vg"`
	Attr    string `json:"attr"`
	Size    int64  `json:"size_bytes"`
	Free    int64  `json:"free_bytes"`
	Missing bool   `json:"missing"`
	// DevSize is the size of the device under the PV (dev_size; 0 when not reported).
	DevSize int64 `json:"dev_size_bytes,omitempty"`
}

// VG is a volume group.
type VG struct {
	Name    string `json:"name"`
	Attr    string `json:"attr"`
	Size    int64  `json:"size_bytes"`
	Free    int64  `json:"free_bytes"`
	PVCount int    `json:"pv_count"`
	LVCount int    `json:"lv_count"`
	Partial bool   `json:"partial"`
	// ExtentSize is the VG's physical extent size (vg_extent_size; 0 when not reported).
	ExtentSize int64 `json:"extent_size_bytes,omitempty"`
}

// LV is a logical volume.
type LV struct {
	Name    string   `json:"name"`
	VG      string   `json:"vg"`
	Attr    string   `json:"attr"`
	Size    int64    `json:"size_bytes"`
	Active  bool     `json:"active"`
	Health  string   `json:"health,omitempty"` // "partial", "refresh needed", "mismatches", "writemostly", "unknown"
	Devices []string `json:"devices,omitempty"`
	// Pvmove says the LV is a pvmove in progress (lvs -a: "[pvmove0]", attr p…); MovePV is
	// the PV it moves off and CopyPercent how far it is.
	Pvmove      bool    `json:"pvmove,omitempty"`
	MovePV      string  `json:"move_pv,omitempty"`
	CopyPercent float64 `json:"copy_percent,omitempty"`
}

// Report is what LVM reported.
type Report struct {
	PVs []PV `json:"pvs"`
	VGs []VG `json:"vgs"`
	LVs []LV `json:"lvs"`
}

type rawReport struct {
	Report []map[string][]map[string]string `json:"report"`
}

// Parse reads one or more JSON reports (fullreport, or pvs, vgs and lvs) into one Report.
// Segment rows of one LV (lvs -o +devices) merge into that LV.
func Parse(docs ...[]byte) (Report, error) {
	var r Report
	lvIndex := map[string]int{}
	for _, doc := range docs {
		var raw rawReport
		if err := json.Unmarshal(doc, &raw); err != nil {
			return Report{}, fmt.Errorf("LVM JSON report: %w", err)
		}
		if raw.Report == nil {
			return Report{}, errors.New(`LVM JSON report: no "report" list (not lvm --reportformat json output?)`)
		}
		for _, part := range raw.Report {
			for _, row := range part["pv"] {
				pv := PV{Name: row["pv_name"], VG: row["vg_name"], Attr: row["pv_attr"]}
				var err error
				if pv.Size, err = Size(row["pv_size"]); err != nil {
					return Report{}, fmt.Errorf("pv %s: %w", pv.Name, err)
				}
				if pv.Free, err = Size(row["pv_free"]); err != nil {
					return Report{}, fmt.Errorf("pv %s: %w", pv.Name, err)
				}
				pv.Missing = attr(pv.Attr, 2) == 'm' || row["pv_missing"] == "missing"
				if pv.DevSize, err = Size(row["dev_size"]); err != nil {
					return Report{}, fmt.Errorf("pv %s: %w", pv.Name, err)
				}
				r.PVs = append(r.PVs, pv)
			}
			for _, row := range part["vg"] {
				vg := VG{Name: row["vg_name"], Attr: row["vg_attr"]}
				var err error
				if vg.Size, err = Size(row["vg_size"]); err != nil {
					return Report{}, fmt.Errorf("vg %s: %w", vg.Name, err)
				}
				if vg.Free, err = Size(row["vg_free"]); err != nil {
					return Report{}, fmt.Errorf("vg %s: %w", vg.Name, err)
				}
				vg.PVCount, _ = strconv.Atoi(strings.TrimSpace(row["pv_count"]))
				vg.LVCount, _ = strconv.Atoi(strings.TrimSpace(row["lv_count"]))
				vg.Partial = attr(vg.Attr, 3) == 'p'
				if vg.ExtentSize, err = Size(row["vg_extent_size"]); err != nil {
					return Report{}, fmt.Errorf("vg %s: %w", vg.Name, err)
				}
				r.VGs = append(r.VGs, vg)
			}
			for _, row := range part["lv"] {
				key := row["vg_name"] + "/" + row["lv_name"]
				i, seen := lvIndex[key]
				if !seen {
					lv := LV{Name: row["lv_name"], VG: row["vg_name"], Attr: row["lv_attr"]}
					var err error
					if lv.Size, err = Size(row["lv_size"]); err != nil {
						return Report{}, fmt.Errorf("lv %s: %w", key, err)
					}
					lv.Active = attr(lv.Attr, 4) == 'a'
					lv.Health = lvHealth(attr(lv.Attr, 8))
					lv.Pvmove = attr(lv.Attr, 0) == 'p'
					lv.MovePV = strings.TrimSpace(row["move_pv"])
					if c := strings.TrimSpace(row["copy_percent"]); c != "" {
						if lv.CopyPercent, err = strconv.ParseFloat(c, 64); err != nil {
							return Report{}, fmt.Errorf("lv %s: copy_percent %q: %w", key, c, err)
						}
					}
					r.LVs = append(r.LVs, lv)
					i = len(r.LVs) - 1
					lvIndex[key] = i
				}
				if d := strings.TrimSpace(row["devices"]); d != "" {
					r.LVs[i].Devices = append(r.LVs[i].Devices, strings.Split(d, ",")...)
				}
			}
		}
	}
	return r, nil
}

func attr(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return '-'
}

func lvHealth(c byte) string {
	switch c {
	case 'p':
		return "partial"
	case 'r':
		return "refresh needed"
	case 'm':
		return "mismatches"
	case 'w':
		return "writemostly"
	case 'X':
		return "unknown"
	}
	return ""
}

// Size reads an LVM size: "264241152B" or "264241152" (--units b), "252.00m" (lowercase:
// powers of 1024), "252.00M" (uppercase: powers of 1000), "0 ".
func Size(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	mult := 1.0
	last := s[len(s)-1]
	if last < '0' || last > '9' {
		s = s[:len(s)-1]
		i := strings.IndexByte("bkmgtpe", lower(last))
		if i < 0 {
			return 0, fmt.Errorf("size %q: unknown unit", s+string(last))
		}
		base := 1024.0
		if last >= 'A' && last <= 'Z' && last != 'B' {
			base = 1000
		}
		mult = math.Pow(base, float64(i))
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return int64(math.Round(v * mult)), nil
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Problems lists what is unhealthy, one line each.
func (r Report) Problems() []string {
	var out []string
	for _, pv := range r.PVs {
		if pv.Missing {
			out = append(out, fmt.Sprintf("physical volume %s of %s is missing", pv.Name, pv.VG))
		}
	}
	for _, vg := range r.VGs {
		if vg.Partial {
			out = append(out, fmt.Sprintf("volume group %s is partial (a physical volume is missing)", vg.Name))
		}
	}
	for _, lv := range r.LVs {
		if lv.Health != "" && lv.Health != "writemostly" {
			out = append(out, fmt.Sprintf("logical volume %s/%s: %s", lv.VG, lv.Name, lv.Health))
		}
	}
	return out
}

// ErrNoVG is returned by ReadVG for a volume group that does not exist.
var ErrNoVG = errors.New("no such volume group")

// ErrNoLVM is returned when the lvm command is not installed.
var ErrNoLVM = errors.New("lvm is not installed")

// Read runs `lvm fullreport` (read-only) through run (the one runner: the system's lvm,
// LC_ALL=C, a clean environment) and parses it.
func Read(ctx context.Context, run hostexec.Runner) (Report, error) {
	out, _, err := run.Run(ctx, "lvm", "fullreport", "--reportformat", "json", "--units", "b")
	if errors.Is(err, hostexec.ErrNotFound) {
		return Report{}, ErrNoLVM
	}
	if err != nil {
		return Report{}, err
	}
	return Parse(out)
}

// ReadVG reports on the PVs (every one: those of other VGs and orphans too), the volume
// group vg and its LVs, hidden ones included (a pvmove in progress), with the fields a
// move needs (dev_size, vg_extent_size, move_pv, copy_percent). Read-only. A volume group
// that does not exist gives ErrNoVG, with the PVs read; vg "" reports on every one.
//
// The report is consistent across a move's start and end: pvs, vgs and lvs are three
// commands, and a pvmove that ends between them would show its target's extents taken
// (pvs) with no move under way (lvs), as if the source still had all of it to move. So
// the moves are read before and after, and the whole read is taken again when they differ.
func ReadVG(ctx context.Context, run hostexec.Runner, vg string) (Report, error) {
	const attempts = 5
	var r Report
	var err error
	for range attempts {
		var before []string
		if b, berr := report(ctx, run, lvsArgs(vg)); berr == nil {
			if br, perr := Parse(b); perr == nil {
				before = moves(br)
			}
		} // an error here shows again below, where it is reported
		r, err = readVGOnce(ctx, run, vg)
		if err != nil || slices.Equal(before, moves(r)) {
			return r, err
		}
	}
	return r, fmt.Errorf("volume group %s: its pvmoves kept changing while LVM was read (%d tries); read it again", vg, attempts)
}

// moves lists the pvmoves under way in r (name and source), in a stable order.
func moves(r Report) []string {
	var m []string
	for _, lv := range r.LVs {
		if lv.Pvmove {
			m = append(m, lv.VG+"/"+lv.Name+" off "+lv.MovePV)
		}
	}
	slices.Sort(m)
	return m
}

func lvsArgs(vg string) []string {
	return []string{"lvs", "-a", "-o", "lv_name,vg_name,lv_attr,lv_size,move_pv,copy_percent,devices", vg}
}

// report runs one JSON report command (pvs, vgs, lvs with their options; a last argument ""
// means every volume group).
func report(ctx context.Context, run hostexec.Runner, argv []string) ([]byte, error) {
	if argv[len(argv)-1] == "" {
		argv = argv[:len(argv)-1]
	}
	args := append([]string{argv[0], "--reportformat", "json", "--units", "b", "--nosuffix"}, argv[1:]...)
	out, _, err := run.Run(ctx, "lvm", args...)
	return out, err
}

func readVGOnce(ctx context.Context, run hostexec.Runner, vg string) (Report, error) {
	var docs [][]byte
	for _, argv := range [][]string{
		{"pvs", "-o", "pv_name,vg_name,pv_attr,pv_size,pv_free,dev_size"},
		{"vgs", "-o", "vg_name,vg_attr,vg_size,vg_free,vg_extent_size,pv_count,lv_count", vg},
		lvsArgs(vg),
	} {
		out, err := report(ctx, run, argv)
		if errors.Is(err, hostexec.ErrNotFound) {
			return Report{}, ErrNoLVM
		}
		var he *hostexec.Error
		if errors.As(err, &he) && argv[0] != "pvs" && strings.Contains(he.Stderr, "not found") {
			r, perr := Parse(docs...) // the PVs, read already
			if perr != nil {
				return Report{}, perr
			}
			return r, fmt.Errorf("volume group %s: %w", vg, ErrNoVG)
		}
		if err != nil {
			return Report{}, err
		}
		docs = append(docs, out)
	}
	return Parse(docs...)
}
