// Package instancemeta asks the EC2 instance metadata service which block devices are
// instance storage (block-device-mapping/ephemeral*), for device names that do not say so
// themselves (xvd* on Xen hosts).
package instancemeta

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// EphemeralDevices returns the kernel names of the instance-store devices the metadata
// lists, in both spellings the kernel may use (sdb and xvdb). endpoint "" is the real
// service (169.254.169.254).
func EphemeralDevices(ctx context.Context, endpoint string) (map[string]bool, error) {
	opt := imds.Options{}
	if endpoint != "" {
		opt.Endpoint = endpoint
	}
	client := imds.New(opt)
	list, err := get(ctx, client, "block-device-mapping/")
	if err != nil {
		return nil, fmt.Errorf("instance metadata: block-device-mapping: %w", err)
	}
	out := map[string]bool{}
	for _, key := range strings.Fields(list) {
		key = strings.TrimSuffix(key, "/")
		if !strings.HasPrefix(key, "ephemeral") {
			continue
		}
		dev, err := get(ctx, client, "block-device-mapping/"+key)
		if err != nil {
			return nil, fmt.Errorf("instance metadata: block-device-mapping/%s: %w", key, err)
		}
		name := strings.TrimPrefix(strings.TrimSpace(dev), "/dev/")
		out[name] = true
		switch {
		case strings.HasPrefix(name, "sd"):
			out["xvd"+strings.TrimPrefix(name, "sd")] = true
		case strings.HasPrefix(name, "xvd"):
			out["sd"+strings.TrimPrefix(name, "xvd")] = true
		}
	}
	return out, nil
}

func get(ctx context.Context, c *imds.Client, path string) (string, error) {
	res, err := c.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", err
	}
	defer res.Content.Close()
	b, err := io.ReadAll(res.Content)
	return string(b), err
}
