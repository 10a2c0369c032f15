package mdraid

import (
	"bufio"
	"path/filepath"
	"strings"
)

// Detail is what `mdadm --detail /dev/mdX` says of an array: the fallback for member roles
// when sysfs cannot be read.
type Detail struct {
	Device  string         `json:"device"`
	State   string         `json:"state"` // "clean, degraded"
	Level   string         `json:"level"`
	UUID    string         `json:"uuid"`
	Members []DetailMember `json:"members"`
}

// DetailMember is one row of the device table.
type DetailMember struct {
	Device      string `json:"device"` // kernel name
	State       string `json:"state"`  // "active sync writemostly", "spare rebuilding", "faulty"
	WriteMostly bool   `json:"write_mostly"`
	Faulty      bool   `json:"faulty"`
	Spare       bool   `json:"spare"`
	InSync      bool   `json:"in_sync"`
}

// ParseDetail reads the output of `mdadm --detail DEVICE`.
func ParseDetail(text string) Detail {
	var d Detail
	table := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "/dev/") && strings.HasSuffix(line, ":") {
			d.Device = strings.TrimSuffix(line, ":")
			continue
		}
		if strings.Contains(line, "RaidDevice State") {
			table = true
			continue
		}
		if table {
			f := strings.Fields(line)
			if len(f) < 5 || !strings.HasPrefix(f[len(f)-1], "/dev/") {
				continue // "removed" rows name no device
			}
			state := strings.Join(f[4:len(f)-1], " ")
			m := DetailMember{Device: filepath.Base(f[len(f)-1]), State: state}
			for _, w := range strings.Fields(state) {
				switch w {
				case "writemostly":
					m.WriteMostly = true
				case "faulty":
					m.Faulty = true
				case "spare":
					m.Spare = true
				case "sync":
					m.InSync = true
				}
			}
			d.Members = append(d.Members, m)
			continue
		}
		key, value, ok := strings.Cut(line, " : ")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "State":
			d.State = strings.TrimSpace(value)
		case "Raid Level":
			d.Level = strings.TrimSpace(value)
		case "UUID":
			d.UUID = strings.TrimSpace(value)
		}
	}
	return d
}

// ApplyDetail fills the member states of an array whose sysfs could not be read.
func ApplyDetail(a *Array, d Detail) {
	for _, dm := range d.Members {
		m := a.Member(dm.Device)
		if m == nil {
			a.Members = append(a.Members, Member{Device: dm.Device, Slot: -1})
			m = &a.Members[len(a.Members)-1]
		}
		m.WriteMostly = m.WriteMostly || dm.WriteMostly
		m.Faulty, m.Spare, m.InSync = dm.Faulty, dm.Spare, dm.InSync
	}
	if a.UUID == "" {
		a.UUID = d.UUID
	}
}

// ScanArray is one ARRAY line of `mdadm --detail --scan`, `--examine --scan` or mdadm.conf.
type ScanArray struct {
	Device, UUID, Name string
}

// ParseScan reads ARRAY lines.
func ParseScan(text string) []ScanArray {
	var out []ScanArray
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "ARRAY" {
			continue
		}
		a := ScanArray{Device: f[1]}
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "UUID":
				a.UUID = v
			case "name":
				a.Name = v
			}
		}
		out = append(out, a)
	}
	return out
}
