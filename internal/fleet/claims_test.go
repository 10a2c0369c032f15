package fleet

import (
	"bufio"
	"math"
	"strings"
	"testing"
)

// The scrape reads the ingest queue's claim histogram from agentd's metrics page, and the
// quantiles interpolate inside the bucket, as Prometheus' histogram_quantile does.
func TestClaimHistogramFromMetrics(t *testing.T) {
	page := `# HELP agentd_claim_duration_seconds How long one claim statement took.
# TYPE agentd_claim_duration_seconds histogram
agentd_claim_duration_seconds_bucket{queue="calcache",le="0.001"} 99
agentd_claim_duration_seconds_bucket{queue="ingest",le="0.001"} 0
agentd_claim_duration_seconds_bucket{queue="ingest",le="0.002"} 50
agentd_claim_duration_seconds_bucket{queue="ingest",le="0.004"} 90
agentd_claim_duration_seconds_bucket{queue="ingest",le="0.1"} 100
agentd_claim_duration_seconds_bucket{queue="ingest",le="+Inf"} 100
agentd_claim_duration_seconds_sum{queue="ingest"} 0.5
agentd_claim_duration_seconds_count{queue="ingest"} 100
`
	h, err := parseClaims(bufio.NewScanner(strings.NewReader(page)))
	if err != nil || h.Count != 100 || len(h.Bounds) != 4 {
		t.Fatalf("parsed %+v, %v", h, err)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 0.002}, {0.25, 0.0015}, {0.7, 0.003}, {0.99, 0.1 - 0.096*0.1}} {
		if got := h.Quantile(c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q%.2f = %g, want %g", c.q, got, c.want)
		}
	}
	sum := (&claimScraper{last: map[string]Histogram{"a": h, "b": h}}).total()
	if sum.Count != 200 || sum.Counts[2] != 180 || sum.Quantile(0.5) != h.Quantile(0.5) {
		t.Errorf("the sum of two equal histograms: %+v", sum)
	}
	if !math.IsNaN((Histogram{}).Quantile(0.5)) {
		t.Error("an empty histogram has a quantile")
	}
}
