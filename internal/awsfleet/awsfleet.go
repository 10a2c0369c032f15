// Package awsfleet launches, lists and terminates the spot instances of a rebuild on EC2
// (aws-sdk-go-v2/service/ec2): every instance carries the tag agentd-fleet=NAME, which is
// how the fleet is found again. Credentials and region come the SDK's standard way
// (environment, shared files, an instance role); AWS_ENDPOINT_URL_EC2 points it elsewhere.
//
// # Caveats
//
// Up asks for Count instances and takes what spot capacity gives (MinCount 1): it reports
// how many started. Without a maximum price the on-demand price caps the bid (AWS's default),
// as the archive's notes advise. Instances shut themselves down into termination
// (InstanceInitiatedShutdownBehavior=terminate): an agent that powers its host off ends it.
package awsfleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TagKey is the tag that names an instance's fleet.
const TagKey = "agentd-fleet"

// ErrNoCredentials and ErrNoRegion say what of the AWS configuration is missing.
var (
	ErrNoCredentials = errors.New("no AWS credentials")
	ErrNoRegion      = errors.New("no AWS region")
)

// Connect loads the SDK's standard configuration and checks, before any call, that it has a
// region and credentials, naming what is missing and where it is looked for.
func Connect(ctx context.Context, region string) (*ec2.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: give --region, or set AWS_REGION (or region in ~/.aws/config for AWS_PROFILE)", ErrNoRegion)
	}
	credCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(credCtx); err != nil {
		return nil, fmt.Errorf("%w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials, "+
			"or run where an instance role provides them (%v)", ErrNoCredentials, err)
	}
	return ec2.NewFromConfig(cfg), nil
}

// Fleet is the instances tagged agentd-fleet=Name.
type Fleet struct {
	EC2  *ec2.Client
	Name string
}

// Instance is one instance of the fleet.
type Instance struct {
	ID        string    `json:"id"`
	State     string    `json:"state"` // pending, running, shutting-down, terminated, stopping, stopped
	Type      string    `json:"type"`
	PrivateIP string    `json:"private_ip,omitempty"`
	Lifecycle string    `json:"lifecycle,omitempty"` // spot
	Launched  time.Time `json:"launched"`
}

// Live reports whether the instance is not ending already (terminated or shutting down).
func (i Instance) Live() bool {
	return i.State != string(types.InstanceStateNameTerminated) && i.State != string(types.InstanceStateNameShuttingDown)
}

// UpOptions describe the instances to launch.
type UpOptions struct {
	Count          int32
	Image          string // AMI
	Type           string // instance type
	MaxPrice       string // "" = capped at the on-demand price
	Subnet         string
	SecurityGroups []string
	KeyName        string
	Tags           map[string]string // more tags (the fleet's is added)
}

// Up launches the instances: spot, one-time, terminated when they shut down, tagged.
func (f Fleet) Up(ctx context.Context, o UpOptions) ([]Instance, error) {
	switch {
	case f.Name == "":
		return nil, errors.New("the fleet has no name")
	case o.Count < 1:
		return nil, fmt.Errorf("count %d: launch at least one instance", o.Count)
	case o.Image == "" || o.Type == "":
		return nil, errors.New("an image (AMI) and an instance type are needed")
	}
	tags := []types.Tag{{Key: aws.String(TagKey), Value: aws.String(f.Name)}}
	keys := make([]string, 0, len(o.Tags))
	for k := range o.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == TagKey {
			return nil, fmt.Errorf("tag %s is the fleet's own; name the fleet with --name", TagKey)
		}
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(o.Tags[k])})
	}
	spot := &types.SpotMarketOptions{SpotInstanceType: types.SpotInstanceTypeOneTime,
		InstanceInterruptionBehavior: types.InstanceInterruptionBehaviorTerminate}
	if o.MaxPrice != "" {
		spot.MaxPrice = aws.String(o.MaxPrice)
	}
	in := &ec2.RunInstancesInput{
		ImageId:                           aws.String(o.Image),
		InstanceType:                      types.InstanceType(o.Type),
		MinCount:                          aws.Int32(1),
		MaxCount:                          aws.Int32(o.Count),
		InstanceInitiatedShutdownBehavior: types.ShutdownBehaviorTerminate,
		InstanceMarketOptions:             &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot, SpotOptions: spot},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		},
	}
	if o.Subnet != "" {
		in.SubnetId = aws.String(o.Subnet)
	}
	if len(o.SecurityGroups) > 0 {
		in.SecurityGroupIds = o.SecurityGroups
	}
	if o.KeyName != "" {
		in.KeyName = aws.String(o.KeyName)
	}
	out, err := f.EC2.RunInstances(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("launch %d %s instances of %s: %w", o.Count, o.Type, o.Image, err)
	}
	var launched []Instance
	for _, i := range out.Instances {
		launched = append(launched, instanceOf(i))
	}
	return launched, nil
}

// List returns the fleet's instances (terminated ones too, for a while after), by id.
func (f Fleet) List(ctx context.Context) ([]Instance, error) {
	in := &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:" + TagKey), Values: []string{f.Name}}}}
	var all []Instance
	p := ec2.NewDescribeInstancesPaginator(f.EC2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list fleet %s: %w", f.Name, err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				all = append(all, instanceOf(i))
			}
		}
	}
	slices.SortFunc(all, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	return all, nil
}

// Down terminates the fleet's instances that are not terminated or shutting down already,
// and returns them with their new state.
func (f Fleet) Down(ctx context.Context) ([]Instance, error) {
	list, err := f.List(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, i := range list {
		if i.Live() {
			ids = append(ids, i.ID)
		}
	}
	var ended []Instance
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 1000)]
		ids = ids[len(batch):]
		out, err := f.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: batch})
		if err != nil {
			return ended, fmt.Errorf("terminate %d instances of fleet %s (%d terminated before): %w", len(batch), f.Name, len(ended), err)
		}
		for _, c := range out.TerminatingInstances {
			i := Instance{ID: aws.ToString(c.InstanceId)}
			if c.CurrentState != nil {
				i.State = string(c.CurrentState.Name)
			}
			ended = append(ended, i)
		}
	}
	return ended, nil
}

// Count counts instances by state.
func Count(list []Instance) map[string]int {
	out := map[string]int{}
	for _, i := range list {
		out[i.State]++
	}
	return out
}

func instanceOf(i types.Instance) Instance {
	out := Instance{ID: aws.ToString(i.InstanceId), Type: string(i.InstanceType), PrivateIP: aws.ToString(i.PrivateIpAddress),
		Lifecycle: string(i.InstanceLifecycle)}
	if i.State != nil {
		out.State = string(i.State.Name)
	}
	if i.LaunchTime != nil {
		out.Launched = *i.LaunchTime
	}
	return out
}
