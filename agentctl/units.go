package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/hostexec"
	"github.com/fitsarchive/agentd/internal/swap"
	"github.com/fitsarchive/agentd/systemd"
)

func unitsCommands() []*command {
	var root, binary, device string
	var dryRun, prepare, activate bool
	return []*command{{
		name:    "swap-on",
		summary: "make the blank instance-store SSD this spot host's swap (the agentd-swap unit runs it at boot)",
		help: `Makes --device (default: the config's [spot] swap_device) swap: mkswap, then swapon. The
device must be a block device and blank: any signature wipefs finds (a file system, a RAID
member, a partition table, a swap signature from an earlier boot) refuses it (exit 5), the
same proof as the storage agent's, so a wrong name never destroys data. Where the storage
agent runs ([storage] mode not off), a device its candidates match is refused too: an SSD
is a mirror's or swap, never both. The swap area is labelled agentd-swap: one of ours from
an earlier boot is used again, one in use is left alone; with no device configured there
is nothing to do. Needs root.

The agentd-swap unit runs it in two steps: --prepare (the checks and mkswap) in its
sandbox, then --activate (swapon of a swap area labelled agentd-swap, nothing else)
outside it, so that the swap is listed under its real path and systemd can turn it off.

examples:
  agentctl swap-on --device /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_AWS1234
  agentctl swap-on            # [spot] swap_device from the config`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&device, "device", "", "the block device (default: config [spot] swap_device)")
			fs.BoolVar(&prepare, "prepare", false, "only check the device and write the swap area (mkswap); no swapon")
			fs.BoolVar(&activate, "activate", false, "only turn on the swap area --prepare wrote (swapon)")
		},
		run: func(ctx context.Context, a *app, _ []string) error {
			dev := cmp.Or(device, a.cfg.Spot.SwapDevice)
			if dev == "" {
				a.out.Result(map[string]any{"device": "", "done": false}, func(w io.Writer) {
					fmt.Fprintln(w, "no swap device configured ([spot] swap_device): nothing to do")
				})
				return nil
			}
			var reserved []string
			if a.cfg.Storage.Mode != config.StorageOff {
				reserved = a.cfg.Storage.Candidates
			}
			// At boot the device's by-id name may not be there yet (udev is still naming
			// disks): wait for it a while.
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if _, err := os.Stat(dev); err == nil {
					break
				}
			}
			step, done := swap.On, "swap now"
			switch {
			case prepare && activate:
				return cli.Usagef("--prepare and --activate are the two halves of swap-on: give one, or neither for both")
			case prepare:
				step, done = swap.Prepare, "ready to be swap (agentctl swap-on --activate turns it on)"
			case activate:
				step = swap.Activate
			}
			res, err := step(ctx, hostexec.Exec{}, "/proc", dev, reserved)
			if errors.Is(err, swap.ErrNotBlank) || errors.Is(err, swap.ErrReserved) || errors.Is(err, swap.ErrNotPrepared) {
				return cli.WithCode(cli.ExitRefused, err)
			}
			if err != nil {
				return err
			}
			a.out.Result(res, func(w io.Writer) {
				if res.Already {
					fmt.Fprintf(w, "%s is swap already\n", res.Device)
				} else {
					fmt.Fprintf(w, "%s is %s\n", res.Device, done)
				}
			})
			return nil
		},
	}, {
		name:    "install-units",
		summary: "install agentd's systemd units, PostgreSQL's ordering drop-in and the sysusers.d entry",
		help: `Renders and writes the files agentd ships for systemd, under --root (default /):

  etc/systemd/system/agentd-storage.service    the storage agent (root; serves no queue;
                                               starts before PostgreSQL's clusters)
  etc/systemd/system/postgresql@.service.d/agentd-storage.conf
  etc/systemd/system/agentd@.service           a named queue service (agentd@ingest; its
                                               queues in /etc/agentd/NAME.env, e.g.
                                               AGENTD_QUEUES=ingest:3)
  etc/systemd/system/agentd-spot.service       a spot host's rebuild: powers off when done
  etc/systemd/system/agentd-swap.service       a spot host's swap on its blank SSD, at boot
                                               (agentctl swap-on, next to agentd)
  usr/lib/sysusers.d/agentd.conf               user and group agentd

The units run --binary (default /usr/local/bin/agentd, which must exist) with the config
file agentctl read (--config, $AGENTD_CONFIG, or /etc/agentd/agentd.toml), and may write
the config's previews directory. They are Type=notify with a watchdog, restart on failure
but not on exit 2, 4 or 5, and are hardened (systemd-analyze security --offline=true: the
README gives the scores). --dry-run prints them instead. Then:

  systemd-sysusers && systemctl daemon-reload
  systemctl enable --now agentd-storage.service agentd@ingest.service

examples:
  agentctl install-units
  agentctl install-units --dry-run --binary /opt/agentd/bin/agentd
  agentctl install-units --root /tmp/image --json`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&root, "root", "/", "install under this directory (an image being built)")
			fs.StringVar(&binary, "binary", "/usr/local/bin/agentd", "agentd's absolute path, as the units will run it")
			fs.BoolVar(&dryRun, "dry-run", false, "print the files; write nothing")
		},
		run: func(ctx context.Context, a *app, _ []string) error {
			if fi, err := os.Stat(filepath.Join(root, binary)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				if err == nil {
					err = errors.New("not an executable file")
				}
				return cli.Usagef("--binary %s: %v; install agentd there first, or give its path with --binary", binary, err)
			}
			cfgPath := a.configPath
			if cfgPath == "" {
				cfgPath = cmp.Or(a.getenv("AGENTD_CONFIG"), config.DefaultPath)
			}
			if abs, err := filepath.Abs(cfgPath); err == nil {
				cfgPath = abs
			}
			opt := systemd.UnitOptions{Binary: binary, Agentctl: filepath.Join(filepath.Dir(binary), "agentctl"), Config: cfgPath}
			if a.cfg.StorageRoot != "" || a.cfg.PreviewsDir != "" {
				opt.Writable = []string{a.cfg.PreviewsPath()}
			}
			files, err := systemd.Units(opt)
			if err != nil {
				return cli.Usagef("%v", err)
			}
			type written struct {
				Path string `json:"path"`
				What string `json:"what"`
			}
			var done []written
			for _, f := range files {
				path := filepath.Join(root, f.Path)
				if !dryRun {
					if err := writeFileAtomic(path, []byte(f.Content)); err != nil {
						return fmt.Errorf("install %s: %w (%d of %d files written)", path, err, len(done), len(files))
					}
				}
				done = append(done, written{Path: path, What: f.What})
			}
			a.out.Result(map[string]any{"files": done, "dry_run": dryRun}, func(w io.Writer) {
				for i, f := range files {
					if dryRun {
						fmt.Fprintf(w, "# %s — %s\n%s\n", done[i].Path, f.What, f.Content)
						continue
					}
					fmt.Fprintf(w, "wrote %s — %s\n", done[i].Path, f.What)
				}
				if !dryRun {
					fmt.Fprintln(w, "next: systemd-sysusers && systemctl daemon-reload && systemctl enable --now agentd-storage.service")
				}
			})
			return nil
		},
	}}
}

// writeFileAtomic writes data to path through a temporary file renamed over it: a reader
// (systemd's daemon-reload) sees the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
