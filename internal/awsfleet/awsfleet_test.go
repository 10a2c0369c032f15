package awsfleet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/ec2test"
)

// awsEnv points the SDK at the fake EC2 endpoint (no real AWS is reachable here) with
// credentials that sign requests.
func awsEnv(t *testing.T, url string) {
	t.Setenv("AWS_ENDPOINT_URL_EC2", url)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Up, List and Down against the fake EC2 Query API, through the SDK's own serializer and
// deserializer: spot instances that terminate on shutdown, tagged with the fleet; partial
// capacity reported; pages of DescribeInstances followed; only live instances terminated.
func TestUpListDown(t *testing.T) {
	srv := ec2test.Start(t)
	srv.Capacity, srv.PageSize = 3, 2
	awsEnv(t, srv.URL)
	ctx := context.Background()
	client, err := Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	f := Fleet{EC2: client, Name: "rebuild-2026"}
	up, err := f.Up(ctx, UpOptions{Count: 5, Image: "ami-123", Type: "m3.medium", MaxPrice: "0.05", Subnet: "subnet-1",
		SecurityGroups: []string{"sg-1"}, Tags: map[string]string{"project": "archive"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(up) != 3 || up[0].State != "pending" || up[0].Lifecycle != "spot" || up[0].PrivateIP == "" {
		t.Fatalf("launched %+v; want the 3 the capacity allowed, pending spot instances", up)
	}
	run := srv.Calls()[0].Params
	for k, want := range map[string]string{"MaxCount": "5", "MinCount": "1", "InstanceMarketOptions.SpotOptions.MaxPrice": "0.05",
		"InstanceMarketOptions.SpotOptions.SpotInstanceType": "one-time", "SubnetId": "subnet-1", "SecurityGroupId.1": "sg-1",
		"TagSpecification.1.ResourceType": "instance", "TagSpecification.1.Tag.1.Key": TagKey, "TagSpecification.1.Tag.1.Value": "rebuild-2026",
		"TagSpecification.1.Tag.2.Key": "project"} {
		if run[k] != want {
			t.Errorf("RunInstances %s = %q, want %q", k, run[k], want)
		}
	}
	// Another fleet's instance is not ours.
	if _, err := (Fleet{EC2: client, Name: "other"}).Up(ctx, UpOptions{Count: 1, Image: "ami-123", Type: "m3.medium"}); err != nil {
		t.Fatal(err)
	}
	srv.Set(up[0].ID, "running")
	srv.Set(up[1].ID, "terminated")
	list, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := Count(list); len(list) != 3 || c["running"] != 1 || c["terminated"] != 1 || c["pending"] != 1 {
		t.Fatalf("list %+v (by state %v)", list, c)
	}
	down, err := f.Down(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(down) != 2 || down[0].State != "shutting-down" {
		t.Fatalf("terminated %+v; want the two live ones", down)
	}
	last := srv.Calls()[len(srv.Calls())-1]
	if last.Action != "TerminateInstances" || last.Params["InstanceId.3"] != "" {
		t.Fatalf("terminate call %+v", last)
	}
}

// Without a region or credentials the fleet names exactly which is missing, before any call.
func TestMissingRegionOrCredentials(t *testing.T) {
	srv := ec2test.Start(t)
	awsEnv(t, srv.URL)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if _, err := Connect(context.Background(), ""); !errors.Is(err, ErrNoRegion) || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Errorf("no region: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := Connect(context.Background(), "us-east-1"); !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("no credentials: %v", err)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("%d calls made without a configuration", n)
	}
}
