package systemd

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
)

// UnitOptions are what the units are rendered from.
type UnitOptions struct {
	Binary   string // agentd's absolute path
	Agentctl string // agentctl's absolute path (default: next to agentd)
	Config   string // the config file every unit reads ("" = agentd's default)
	Group    string // the group that may use the control sockets and that the queue services run as (default agentd)
	User     string // the user the queue services run as (default agentd)
	// Writable are the directories a queue service writes besides its state and runtime
	// directories: the previews directory. The storage tree itself is read only.
	Writable []string
	Watchdog time.Duration // WatchdogSec= (default 2m)
}

// File is one rendered file, Path relative to the root it is installed under.
type File struct {
	Path    string
	Content string
	What    string // what it is, for humans
}

// The exit codes a restart cannot fix (agentd's: usage 2, wrong schema 4, refused 5).
const noRestartCodes = "2 4 5"

// Units renders every file agentd ships for systemd: the storage agent's unit, its
// ordering drop-in for PostgreSQL's clusters, the template of named queue services, the
// spot host's unit, and the sysusers.d entry of the user and group.
func Units(o UnitOptions) ([]File, error) {
	if !filepath.IsAbs(o.Binary) {
		return nil, fmt.Errorf("the agentd binary %q is not an absolute path", o.Binary)
	}
	if o.Agentctl == "" {
		o.Agentctl = filepath.Join(filepath.Dir(o.Binary), "agentctl")
	}
	if o.Group == "" {
		o.Group = "agentd"
	}
	if o.User == "" {
		o.User = "agentd"
	}
	if o.Watchdog <= 0 {
		o.Watchdog = 2 * time.Minute
	}
	for _, w := range o.Writable {
		if !filepath.IsAbs(w) {
			return nil, fmt.Errorf("writable directory %q is not an absolute path", w)
		}
	}
	for _, s := range append([]string{o.Binary, o.Agentctl, o.Config, o.Group, o.User}, o.Writable...) {
		if strings.ContainsAny(s, " \t\n\"'\\%$;") {
			return nil, fmt.Errorf("%q: a unit setting may not hold spaces, quotes, %%, $ or ;", s)
		}
	}
	exec := func(args ...string) string {
		cmd := append([]string{o.Binary}, args...)
		if o.Config != "" {
			cmd = append(cmd, "--config", o.Config)
		}
		return strings.Join(cmd, " ")
	}
	files := []File{
		{Path: "etc/systemd/system/agentd-storage.service", What: "the storage agent (md mirrors of the database volume)",
			Content: render(storageHeader, storageUnit(o, exec("--name", "storage", "--storage", "enabled", "--no-queues",
				"--state", "/var/lib/agentd-storage/storage.db")))},
		{Path: "etc/systemd/system/postgresql@.service.d/agentd-storage.conf", What: "PostgreSQL's clusters start after the storage agent",
			Content: render(dropInHeader, []*unit.UnitOption{
				unit.NewUnitOption("Unit", "Wants", "agentd-storage.service"),
				unit.NewUnitOption("Unit", "After", "agentd-storage.service"),
			})},
		{Path: "etc/systemd/system/agentd@.service", What: "a named queue service: agentd@NAME, its queues in /etc/agentd/NAME.env",
			Content: render(queueHeader, queueUnit(o, exec("--name", "%i"), "%i", false))},
		{Path: "etc/systemd/system/agentd-spot.service", What: "a spot host's rebuild: starts at boot, powers the instance off when the queue is empty",
			Content: render(spotHeader, queueUnit(o, exec("--name", "spot", "--empty"), "spot", true))},
		{Path: "etc/systemd/system/agentd-swap.service", What: "a spot host's swap on its blank instance-store SSD, at boot",
			Content: render(swapHeader, swapUnit(o))},
		{Path: "usr/lib/sysusers.d/agentd.conf", What: "the user and group of the queue services and control sockets",
			Content: fmt.Sprintf("# agentd: the queue services' user, and the group that may use the agents' control sockets.\ng %s -\nu %s -:%s \"agentd queue services\" /var/lib/agentd\n",
				o.Group, o.User, o.Group)},
	}
	return files, nil
}

const (
	storageHeader = `# The storage agent: keeps the md mirrors under the database's volume group whole (re-adds
# a blank instance-store SSD after the instance moved to new hardware). It serves no queue
# (--no-queues, whatever the config says) and needs no database, and the database needs its
# disks, so it starts before PostgreSQL (see postgresql@.service.d/agentd-storage.conf).
# Rendered by agentctl install-units.
`
	dropInHeader = `# PostgreSQL's clusters (postgresql@VERSION-NAME on Debian) start after the storage agent,
# which keeps their disks' mirrors whole. Rendered by agentctl install-units.
`
	queueHeader = `# A named agentd queue service: systemctl enable --now agentd@ingest. Its queues, workers
# and other settings come from the config file and from /etc/agentd/NAME.env
# (AGENTD_QUEUES=ingest:3, ...). Rendered by agentctl install-units.
`
	swapHeader = `# A spot host's swap: the instance-store SSD named by [spot] swap_device, made swap at boot
# by agentctl swap-on, which refuses a device that is not blank: the checks and mkswap in
# the sandbox, then swapon (of that swap area only) outside it, where systemd can see the
# swap to turn it off at shutdown. Before the spot rebuild.
# Rendered by agentctl install-units.
`
	spotHeader = `# A spot host's rebuild: starts at boot, serves the queues of the config until nothing is
# pending (--empty), then powers the instance off (SuccessAction=poweroff: with the fleet's
# InstanceInitiatedShutdownBehavior=terminate the instance ends itself). A failure does not
# power off: the instance stays up for a look. A clean stop by hand (systemctl stop) is a
# success too and powers off: to look around, agentctl drain --name spot instead. Rendered
# by agentctl install-units.
`
)

// hardening is what every agentd unit sets, storage agent included.
func hardening() []*unit.UnitOption {
	return options("Service",
		"NoNewPrivileges", "yes",
		"LockPersonality", "yes",
		"RestrictRealtime", "yes",
		"RestrictSUIDSGID", "yes",
		"RestrictNamespaces", "yes",
		"MemoryDenyWriteExecute", "yes",
		"SystemCallArchitectures", "native",
		"ProtectKernelModules", "yes",
		"ProtectKernelLogs", "yes",
		"ProtectControlGroups", "yes",
		"ProtectClock", "yes",
		"ProtectHostname", "yes",
		"ProtectHome", "yes",
		"ProtectSystem", "strict",
		"PrivateTmp", "yes",
		"KeyringMode", "private",
		"UMask", "0027",
	)
}

// storageUnit is the storage agent's service: root (mdadm, lvm), /sys writable (md's
// sync_action), the block devices, mdadm's and lvm's run and config directories.
func storageUnit(o UnitOptions, execStart string) []*unit.UnitOption {
	opts := options("Unit",
		"Description", "agentd storage agent (md mirrors of the database volume)",
		"DefaultDependencies", "no",
		"After", "local-fs-pre.target systemd-udev-settle.service",
		"Before", "postgresql.service shutdown.target",
		"Conflicts", "shutdown.target",
		"Wants", "local-fs-pre.target",
	)
	opts = append(opts, options("Service",
		"Type", "notify",
		"NotifyAccess", "main",
		"ExecStart", execStart,
		"Restart", "on-failure",
		"RestartSec", "5s",
		"RestartPreventExitStatus", noRestartCodes,
		"WatchdogSec", seconds(o.Watchdog),
		// SIGKILL, not systemd's SIGABRT: Go exits 2 on SIGABRT, which RestartPreventExitStatus
		// takes for a usage error, and the agent would stay down (seen under systemd in qemu).
		// The supervisor has logged which loop wedged before the pings stopped.
		"WatchdogSignal", "SIGKILL",
		// Its own state directory: the queue services' (StateDirectory=agentd) is chowned to
		// their user at each start, and the storage agent's action journal is root's.
		"StateDirectory", "agentd-storage",
		"StateDirectoryMode", "0750",
		"RuntimeDirectory", "agentd/storage",
		"RuntimeDirectoryMode", "0750",
		"Group", o.Group,
		"CapabilityBoundingSet", "CAP_SYS_ADMIN CAP_SYS_RAWIO CAP_MKNOD CAP_DAC_OVERRIDE CAP_CHOWN CAP_FOWNER",
		"ReadWritePaths", "-/run/mdadm -/run/lvm -/run/lock/lvm -/etc/lvm -/etc/mdadm -/run/udev",
		"RestrictAddressFamilies", "AF_UNIX AF_NETLINK AF_INET AF_INET6",
		"SystemCallFilter", "@system-service @raw-io",
		"SystemCallFilter", "~@clock @cpu-emulation @debug @module @obsolete @reboot @swap",
		"SystemCallErrorNumber", "EPERM",
		"ProtectProc", "invisible",
	)...)
	opts = append(opts, hardening()...)
	return append(opts, options("Install",
		"WantedBy", "multi-user.target",
	)...)
}

// queueUnit is a queue service (a named one, or the spot host's): an unprivileged user,
// no devices, no capabilities, the file system read-only but its state, its runtime
// directory and the directories it writes (previews).
func queueUnit(o UnitOptions, execStart, runtime string, spot bool) []*unit.UnitOption {
	desc := "agentd queue service %i"
	if spot {
		desc = "agentd rebuild on a spot host (powers off when the queue is empty)"
	}
	opts := options("Unit",
		"Description", desc,
		"Wants", "network-online.target",
		"After", "network-online.target agentd-storage.service postgresql.service",
	)
	if spot {
		opts = append(opts, options("Unit", "SuccessAction", "poweroff")...)
	}
	svc := []string{
		"Type", "notify",
		"NotifyAccess", "main",
		"ExecStart", execStart,
		"User", o.User,
		"Group", o.Group,
		"Restart", "on-failure",
		"RestartSec", "10s",
		"RestartPreventExitStatus", noRestartCodes,
		"WatchdogSec", seconds(o.Watchdog),
		// SIGKILL, not systemd's SIGABRT: Go exits 2 on SIGABRT, which RestartPreventExitStatus
		// takes for a usage error, and the agent would stay down (seen under systemd in qemu).
		// The supervisor has logged which loop wedged before the pings stopped.
		"WatchdogSignal", "SIGKILL",
		"StateDirectory", "agentd",
		"StateDirectoryMode", "0750",
		"RuntimeDirectory", "agentd/" + runtime,
		"RuntimeDirectoryMode", "0750",
		"CapabilityBoundingSet", "",
		"AmbientCapabilities", "",
		"PrivateDevices", "yes",
		"DevicePolicy", "closed",
		"ProtectKernelTunables", "yes",
		"ProtectProc", "invisible",
		"ProcSubset", "pid",
		"RemoveIPC", "yes",
		"RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6",
		"SystemCallFilter", "@system-service",
		"SystemCallFilter", "~@privileged @resources",
		"SystemCallErrorNumber", "EPERM",
		"PrivateUsers", "yes",
	}
	if !spot {
		svc = append(svc, "EnvironmentFile", "-/etc/agentd/%i.env")
	}
	if len(o.Writable) > 0 {
		w := slices.Clone(o.Writable)
		for i := range w {
			w[i] = "-" + w[i] // a directory not mounted yet is no start failure
		}
		svc = append(svc, "ReadWritePaths", strings.Join(w, " "))
	}
	opts = append(opts, options("Service", svc...)...)
	opts = append(opts, hardening()...)
	return append(opts, options("Install", "WantedBy", "multi-user.target")...)
}

// swapUnit is the oneshot that makes the SSD swap in two steps: agentctl swap-on --prepare
// in the sandbox (the checks, and mkswap: the only write to the device), then swap-on
// --activate with full privileges ("+") in the system's own mount namespace (nsenter:
// systemd runs even a "+" command in the unit's namespace): a swap turned on in a private
// namespace is listed under a path (/vdb) that systemd cannot turn off at shutdown. The
// second step only turns on a swap area the first labelled agentd-swap.
func swapUnit(o UnitOptions) []*unit.UnitOption {
	cmd := o.Agentctl + " swap-on"
	if o.Config != "" {
		cmd += " --config " + o.Config
	}
	opts := options("Unit",
		"Description", "swap on the spot host's instance-store SSD (agentctl swap-on)",
		"DefaultDependencies", "no",
		"After", "local-fs.target systemd-udev-settle.service",
		"Before", "agentd-spot.service swap.target shutdown.target",
		"Conflicts", "shutdown.target",
	)
	opts = append(opts, options("Service",
		"Type", "oneshot",
		"RemainAfterExit", "yes",
		"ExecStart", cmd+" --prepare",
		"ExecStart", "+/usr/bin/nsenter --mount=/proc/1/ns/mnt -- "+cmd+" --activate",
		"CapabilityBoundingSet", "CAP_DAC_OVERRIDE",
		"PrivateNetwork", "yes",
		"RestrictAddressFamilies", "AF_UNIX",
		"SystemCallFilter", "@system-service",
		"SystemCallErrorNumber", "EPERM",
		"ProtectKernelTunables", "yes",
		"ProtectProc", "invisible",
	)...)
	opts = append(opts, hardening()...)
	return append(opts, options("Install", "WantedBy", "multi-user.target")...)
}

// options makes a section's options from name, value pairs.
func options(section string, pairs ...string) []*unit.UnitOption {
	out := make([]*unit.UnitOption, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, unit.NewUnitOption(section, pairs[i], pairs[i+1]))
	}
	return out
}

// render is a unit file: its header comment, then its options.
func render(header string, opts []*unit.UnitOption) string {
	body, err := io.ReadAll(unit.Serialize(opts))
	if err != nil {
		panic(errors.New("systemd: serialize a unit from memory: " + err.Error()))
	}
	return header + string(body)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Seconds())) }
