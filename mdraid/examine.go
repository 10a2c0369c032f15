package mdraid

import (
	"bufio"
	"strconv"
	"strings"
)

// Examine is what `mdadm --examine DEVICE` says of a member's superblock. For an inactive
// array it is the only place the write-mostly flag survives (mdstat shows just (S)).
type Examine struct {
	Device       string `json:"device"`
	Superblock   bool   `json:"superblock"` // false: "No md superblock detected"
	ArrayUUID    string `json:"array_uuid,omitempty"`
	RaidLevel    string `json:"raid_level,omitempty"`
	RaidDevices  int    `json:"raid_devices,omitempty"`
	WriteMostly  bool   `json:"write_mostly"`
	Role         string `json:"role,omitempty"` // "Active device 1", "spare"
	AvailSectors int64  `json:"avail_sectors,omitempty"`
	DataOffset   int64  `json:"data_offset_sectors,omitempty"`
	Events       int64  `json:"events,omitempty"`
}

// ParseExamine reads the output of `mdadm --examine DEVICE` (stdout and stderr together).
// Text that holds no superblock fields gives Superblock false.
func ParseExamine(device, text string) Examine {
	e := Examine{Device: device}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), " : ")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "Magic":
			e.Superblock = value == "a92b4efc"
		case "Array UUID", "UUID":
			e.ArrayUUID = value
		case "Raid Level":
			e.RaidLevel = value
		case "Raid Devices":
			e.RaidDevices, _ = strconv.Atoi(value)
		case "Flags":
			for _, f := range strings.Fields(value) {
				if f == "write-mostly" {
					e.WriteMostly = true
				}
			}
		case "Device Role":
			e.Role = value
		case "Avail Dev Size":
			e.AvailSectors = leadingInt(value)
		case "Data Offset":
			e.DataOffset = leadingInt(value)
		case "Events":
			e.Events = leadingInt(value)
		}
	}
	return e
}

func leadingInt(s string) int64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}

// SameUUID compares md UUIDs whatever their punctuation (mdadm writes a8b11440:0e639865:…,
// blkid and wipefs a8b11440-0e63-9865-…).
func SameUUID(a, b string) bool {
	return CanonicalUUID(a) != "" && CanonicalUUID(a) == CanonicalUUID(b)
}

// CanonicalUUID is an md UUID as lowercase hex digits alone; "" for none, and for the
// all-zero UUID sysfs shows for an array still being assembled (inactive): it names no
// array, and two such arrays must never be taken for one.
func CanonicalUUID(s string) string {
	c := strings.ToLower(strings.NewReplacer(":", "", "-", "", " ", "").Replace(s))
	if strings.Trim(c, "0") == "" {
		return ""
	}
	return c
}
