package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/fitsarchive/agentd/internal/awsfleet"
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/queue"
)

func fleetCommands() []*command {
	var name, region, image, typ, maxPrice, subnet, key string
	var count int
	var groups, tags listFlag
	var yes bool
	common := func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "rebuild", "the fleet's name: the value of its instances' agentd-fleet tag")
		fs.StringVar(&region, "region", "", "AWS region (default: the SDK's: $AWS_REGION, the profile's)")
	}
	connect := func(ctx context.Context) (awsfleet.Fleet, error) {
		client, err := awsfleet.Connect(ctx, region)
		if errors.Is(err, awsfleet.ErrNoRegion) || errors.Is(err, awsfleet.ErrNoCredentials) {
			return awsfleet.Fleet{}, cli.WithCode(cli.ExitUsage, err)
		}
		if err != nil {
			return awsfleet.Fleet{}, cli.WithCode(cli.ExitConnect, err)
		}
		return awsfleet.Fleet{EC2: client, Name: name}, nil
	}
	list := func(ctx context.Context) (awsfleet.Fleet, []awsfleet.Instance, error) {
		f, err := connect(ctx)
		if err != nil {
			return f, nil, err
		}
		l, err := f.List(ctx)
		return f, l, err
	}
	return []*command{
		{
			name:    "fleet up",
			noDB:    true,
			summary: "launch spot instances for a rebuild, tagged as one fleet",
			help: `Launches --count spot instances of --image (an AMI made from a configured host: it starts
agentd's spot unit at boot and reaches the database by its internal address). One-time spot
requests; without --max-price the on-demand price caps the bid. The instances terminate when
they shut down (the spot unit powers the host off when the queue is empty), and carry the
tag agentd-fleet=NAME by which fleet status and fleet down find them. Spot capacity may
start fewer than asked: the count started is printed. Credentials and region come the AWS
SDK's standard way (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance
role; AWS_REGION or --region); a missing one is named (exit 2).

examples:
  agentctl fleet up --count 200 --image ami-0abc --type m3.medium --subnet subnet-1 --security-group sg-1
  agentctl fleet up --name rebuild-2026 --count 10 --image ami-0abc --type m3.medium --max-price 0.03 --tag project=archive`,
			flags: func(fs *flag.FlagSet) {
				common(fs)
				fs.IntVar(&count, "count", 0, "how many instances")
				fs.StringVar(&image, "image", "", "the AMI")
				fs.StringVar(&typ, "type", "m3.medium", "the instance type")
				fs.StringVar(&maxPrice, "max-price", "", "the highest hourly price, USD (default: the on-demand price)")
				fs.StringVar(&subnet, "subnet", "", "the subnet (default: the account's default VPC)")
				fs.Var(&groups, "security-group", "a security group id (repeatable)")
				fs.StringVar(&key, "key", "", "an EC2 key pair's name, for ssh")
				fs.Var(&tags, "tag", "another tag, KEY=VALUE (repeatable)")
			},
			run: func(ctx context.Context, a *app, _ []string) error {
				if count < 1 || image == "" {
					return cli.Usagef("give --count (at least 1) and --image")
				}
				tagMap := map[string]string{}
				for _, t := range tags {
					k, v, ok := strings.Cut(t, "=")
					if !ok || k == "" {
						return cli.Usagef("--tag %q: want KEY=VALUE", t)
					}
					tagMap[k] = v
				}
				f, err := connect(ctx)
				if err != nil {
					return err
				}
				up, err := f.Up(ctx, awsfleet.UpOptions{Count: int32(count), Image: image, Type: typ, MaxPrice: maxPrice,
					Subnet: subnet, SecurityGroups: groups, KeyName: key, Tags: tagMap})
				if err != nil {
					return err
				}
				a.out.Result(map[string]any{"fleet": name, "asked": count, "started": len(up), "instances": up}, func(w io.Writer) {
					fmt.Fprintf(w, "fleet %s: %d of %d instances started\n", name, len(up), count)
					for _, i := range up {
						fmt.Fprintf(w, "  %s %-10s %s %s\n", i.ID, i.State, i.Type, i.PrivateIP)
					}
				})
				return nil
			},
		},
		{
			name:    "fleet status",
			summary: "the fleet's instances by state, and the queue depth (when to stop)",
			help: `Lists the instances tagged agentd-fleet=NAME, counted by state, and the pending items of
the ingest and calcache queues (when the database is reachable): once the queues are empty
and the instances have powered themselves off, the rebuild is over; fleet down ends what is
left.

example:
  agentctl fleet status --name rebuild-2026 --json`,
			flags: common,
			run: func(ctx context.Context, a *app, _ []string) error {
				_, instances, err := list(ctx)
				if err != nil {
					return err
				}
				pending := map[string]int64{}
				dbNote := ""
				if pool, err := a.pool(ctx, "fleet-status"); err != nil {
					dbNote = "queue depth unknown: " + err.Error()
				} else {
					defer pool.Close()
					for _, spec := range []queue.Spec{queue.Ingest(), queue.Calcache()} {
						if n, err := queue.Pending(ctx, pool, spec); err == nil {
							pending[spec.Name] = n
						} else {
							dbNote = "queue depth unknown: " + err.Error()
						}
					}
				}
				byState := awsfleet.Count(instances)
				a.out.Result(map[string]any{"fleet": name, "by_state": byState, "instances": instances, "pending": pending, "note": dbNote},
					func(w io.Writer) {
						states := make([]string, 0, len(byState))
						for s := range byState {
							states = append(states, s)
						}
						sort.Strings(states)
						parts := make([]string, len(states))
						for i, s := range states {
							parts[i] = fmt.Sprintf("%d %s", byState[s], s)
						}
						fmt.Fprintf(w, "fleet %s: %d instances (%s)\n", name, len(instances), strings.Join(parts, ", "))
						for q, n := range pending {
							fmt.Fprintf(w, "  queue %s: %d pending\n", q, n)
						}
						if dbNote != "" {
							fmt.Fprintln(w, "  "+dbNote)
						}
					})
				return nil
			},
		},
		{
			name:    "fleet down",
			noDB:    true,
			summary: "terminate every instance of the fleet",
			help: `Terminates the instances tagged agentd-fleet=NAME that are not ending already. It asks,
naming the count, on a terminal; otherwise it needs --yes (exit 5 without). Work in flight
on them is released by agentd's interruption handling or rescued after their leases.

example:
  agentctl fleet down --name rebuild-2026 --yes`,
			flags: func(fs *flag.FlagSet) {
				common(fs)
				fs.BoolVar(&yes, "yes", false, "terminate without asking")
			},
			run: func(ctx context.Context, a *app, _ []string) error {
				f, instances, err := list(ctx)
				if err != nil {
					return err
				}
				live := 0
				for _, i := range instances {
					if i.Live() {
						live++
					}
				}
				if live == 0 {
					a.out.Result(map[string]any{"fleet": name, "terminated": []awsfleet.Instance{}}, func(w io.Writer) {
						fmt.Fprintf(w, "fleet %s: no live instance\n", name)
					})
					return nil
				}
				what := fmt.Sprintf("terminate the %d live instances of fleet %s", live, name)
				if !yes && !a.confirm(what) {
					return cli.WithCode(cli.ExitRefused, fmt.Errorf("fleet down would %s; it needs confirmation: type yes at the prompt, or give --yes", what))
				}
				down, err := f.Down(ctx)
				if err != nil {
					return err
				}
				a.out.Result(map[string]any{"fleet": name, "terminated": down}, func(w io.Writer) {
					fmt.Fprintf(w, "fleet %s: %d instances terminating\n", name, len(down))
				})
				return nil
			},
		},
	}
}
