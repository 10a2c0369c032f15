package main

import (
	"slices"
	"testing"
)

// -fleet-paths takes direct and pgbouncer, each at most once, in the order given; anything
// else is refused before any run.
func TestFleetPathNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil: refused
	}{
		{"direct", []string{"direct"}},
		{"pgbouncer", []string{"pgbouncer"}},
		{"direct,pgbouncer", []string{"direct", "pgbouncer"}},
		{"pgbouncer, direct", []string{"pgbouncer", "direct"}},
		{"direct,direct", nil},
		{"", nil},
		{"direct,", nil},
		{"bouncer", nil},
	} {
		got, err := fleetPathNames(tc.in)
		if (err != nil) != (tc.want == nil) || !slices.Equal(got, tc.want) {
			t.Errorf("fleetPathNames(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
