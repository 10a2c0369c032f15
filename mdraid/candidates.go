package mdraid

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fitsarchive/agentd/internal/hostexec"
)

// DefaultCandidatePatterns are the names AWS gives instance-store NVMe devices.
var DefaultCandidatePatterns = []string{"/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_*"}

// Discovery finds the devices that might replace a lost SSD and describes each: size, use,
// signatures. It changes nothing.
type Discovery struct {
	DevRoot  string   // where /dev is found under ("/" on a live host)
	SysRoot  string   // "/sys"
	ProcRoot string   // "/proc"
	Patterns []string // globs of device paths, e.g. DefaultCandidatePatterns
	// InstanceStore says whether a matched device is positively instance storage. Nil: its
	// path must name AWS instance storage (…Instance_Storage…); names that say nothing
	// (xvd* on Xen hosts) need a check against the instance metadata here.
	InstanceStore func(path, device string) bool
	// Ephemeral, when set, lists the devices the instance metadata calls instance storage
	// (block-device-mapping/ephemeral*): a matched device whose name does not say so is
	// instance storage when it is listed there.
	Ephemeral func(ctx context.Context) (map[string]bool, error)
	Run       hostexec.Runner // wipefs
}

// Find lists the candidates matched by the patterns, described against the arrays.
func (d Discovery) Find(ctx context.Context, arrays []Array) ([]Candidate, error) {
	root := d.DevRoot
	if root == "" {
		root = "/"
	}
	mounted := mountedDevices(filepath.Join(d.ProcRoot, "self", "mountinfo"))
	members := map[string]string{}
	for _, a := range arrays {
		for _, m := range a.Members {
			members[m.Device] = a.Name
		}
	}
	seen := map[string]bool{}
	var ephemeral map[string]bool
	ephemeralErr := error(nil)
	ephemeralAsked := false
	var out []Candidate
	for _, pat := range d.Patterns {
		matches, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			return nil, fmt.Errorf("candidate pattern %q: %w", pat, err)
		}
		sort.Strings(matches)
		for _, full := range matches {
			real, err := filepath.EvalSymlinks(full)
			if err != nil {
				continue // vanished
			}
			dev := filepath.Base(real)
			if seen[dev] {
				continue
			}
			seen[dev] = true
			path := "/" + strings.TrimPrefix(strings.TrimPrefix(full, root), "/")
			c := Candidate{Path: path, Device: dev}
			c.SizeBytes = blockSize(d.SysRoot, dev)
			c.Slot = Slot(d.SysRoot, dev)
			switch {
			case d.InstanceStore != nil:
				c.InstanceStore = d.InstanceStore(path, dev)
			case strings.Contains(path, "Amazon_EC2_NVMe_Instance_Storage"):
				c.InstanceStore = true
			case d.Ephemeral != nil:
				if !ephemeralAsked {
					ephemeralAsked = true
					ephemeral, ephemeralErr = d.Ephemeral(ctx)
				}
				c.InstanceStore = ephemeralErr == nil && ephemeral[dev]
				if ephemeralErr != nil {
					c.InstanceStoreNote = "instance metadata: " + ephemeralErr.Error()
				}
			}
			c.InUse = inUse(d.SysRoot, dev, mounted, members)
			c.Signatures, c.MDUUID = d.signatures(ctx, real)
			out = append(out, c)
		}
	}
	return out, nil
}

// inUse says why a device is busy ("" when it is not): an array member, mounted, held by
// another device (device-mapper, md), or holding partitions.
func inUse(sysRoot, dev string, mounted map[string]string, members map[string]string) string {
	var why []string
	if md, ok := members[dev]; ok {
		why = append(why, "member of "+md)
	}
	base := filepath.Join(sysRoot, "class", "block", dev)
	if b, err := os.ReadFile(filepath.Join(base, "dev")); err == nil {
		if at, ok := mounted[strings.TrimSpace(string(b))]; ok {
			why = append(why, "mounted at "+at)
		}
	}
	if hs, _ := os.ReadDir(filepath.Join(base, "holders")); len(hs) > 0 {
		names := make([]string, len(hs))
		for i, h := range hs {
			names[i] = h.Name()
		}
		why = append(why, "held by "+strings.Join(names, ", "))
	}
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(base, e.Name(), "partition")); err == nil {
			why = append(why, "has partition "+e.Name())
		}
	}
	return strings.Join(why, "; ")
}

// mountedDevices maps major:minor to mount point, from mountinfo.
func mountedDevices(mountinfo string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(mountinfo)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out[fields[2]] = fields[4]
		}
	}
	return out
}

// Signature is one signature wipefs finds on a device.
type Signature struct {
	Type  string `json:"type"` // e.g. ext4, linux_raid_member, swap; "unknown (…)" when it cannot tell
	UUID  string `json:"uuid,omitempty"`
	Label string `json:"label,omitempty"`
}

type wipefsReport struct {
	Signatures []struct {
		Device string `json:"device"`
		Offset string `json:"offset"`
		Signature
	} `json:"signatures"`
}

// Signatures asks wipefs (which writes nothing with --no-act) what the device at path
// holds: none for a blank device. When it cannot tell, the answer says "unknown (…)", which
// is not blank either: the storage agent's, and the swap's, proof of a blank device.
func (d Discovery) Signatures(ctx context.Context, path string) []string {
	types, _ := d.signatures(ctx, path)
	return types
}

// Probe is Signatures with each signature's UUID and label.
func (d Discovery) Probe(ctx context.Context, path string) []Signature {
	if d.Run == nil {
		return []Signature{{Type: "unknown (no wipefs runner)"}}
	}
	out, _, err := d.Run.Run(ctx, "wipefs", "--no-act", "--json", path)
	if err != nil {
		return []Signature{{Type: "unknown (" + err.Error() + ")"}}
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return nil // wipefs prints nothing for a blank device
	}
	var r wipefsReport
	if err := json.Unmarshal(out, &r); err != nil {
		return []Signature{{Type: "unknown (wipefs output: " + err.Error() + ")"}}
	}
	sigs := make([]Signature, len(r.Signatures))
	for i, s := range r.Signatures {
		sigs[i] = s.Signature
	}
	return sigs
}

// signatures asks wipefs what the device holds, and the md UUID of a RAID member. When it
// cannot tell, the device is not blank as far as the agent is concerned.
func (d Discovery) signatures(ctx context.Context, path string) ([]string, string) {
	var types []string
	uuid := ""
	for _, s := range d.Probe(ctx, path) {
		types = append(types, s.Type)
		if s.Type == "linux_raid_member" {
			uuid = s.UUID
		}
	}
	return types, uuid
}
