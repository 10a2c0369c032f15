package fleet

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Histogram is a cumulative latency histogram: Counts[i] observations at or below
// Bounds[i] seconds (Prometheus buckets), Count in all.
type Histogram struct {
	Bounds []float64
	Counts []float64
	Count  float64
}

// Quantile estimates the q-th quantile (0 < q ≤ 1) in seconds, interpolating linearly
// inside the bucket it falls in (as Prometheus' histogram_quantile does); +Inf when it lies
// beyond the last bound, NaN with no observation.
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 {
		return math.NaN()
	}
	rank := q * h.Count
	lower, below := 0.0, 0.0
	for i, b := range h.Bounds {
		if h.Counts[i] >= rank {
			in := h.Counts[i] - below
			if in <= 0 {
				return b
			}
			return lower + (b-lower)*(rank-below)/in
		}
		lower, below = b, h.Counts[i]
	}
	return math.Inf(1)
}

// claimScraper keeps the last claim-latency histogram each agent served.
type claimScraper struct {
	mu   sync.Mutex
	last map[string]Histogram // agent name → its last scrape
}

func newClaimScraper() *claimScraper { return &claimScraper{last: map[string]Histogram{}} }

// run scrapes every agent's metrics every second until ctx ends; an agent that is gone
// keeps its last scrape.
func (c *claimScraper) run(ctx context.Context, agents func() []*agent) {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for _, a := range agents() {
			if a.metrics == "" {
				continue
			}
			select {
			case <-a.done:
				continue
			default:
			}
			if h, err := scrapeClaims(ctx, client, a.metrics); err == nil && h.Count > 0 {
				c.mu.Lock()
				c.last[a.name] = h
				c.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// total sums the agents' histograms.
func (c *claimScraper) total() Histogram {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sum Histogram
	for _, h := range c.last {
		if sum.Bounds == nil {
			sum.Bounds, sum.Counts = h.Bounds, make([]float64, len(h.Counts))
		}
		if len(h.Counts) != len(sum.Counts) {
			continue // another agentd's buckets: not comparable
		}
		for i, n := range h.Counts {
			sum.Counts[i] += n
		}
		sum.Count += h.Count
	}
	return sum
}

// scrapeClaims reads agentd_claim_duration_seconds of the ingest queue from an agent's
// metrics page.
func scrapeClaims(ctx context.Context, client *http.Client, addr string) (Histogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return Histogram{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Histogram{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Histogram{}, fmt.Errorf("metrics of %s: %s", addr, resp.Status)
	}
	return parseClaims(bufio.NewScanner(resp.Body))
}

func parseClaims(sc *bufio.Scanner) (Histogram, error) {
	const bucket = `agentd_claim_duration_seconds_bucket{queue="ingest",le="`
	const count = `agentd_claim_duration_seconds_count{queue="ingest"} `
	type pair struct{ le, n float64 }
	var pairs []pair
	var h Histogram
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, bucket):
			rest := strings.TrimPrefix(line, bucket)
			end := strings.Index(rest, `"} `)
			if end < 0 {
				continue
			}
			le, err1 := strconv.ParseFloat(rest[:end], 64)
			n, err2 := strconv.ParseFloat(rest[end+3:], 64)
			if err1 != nil || err2 != nil || math.IsInf(le, 1) {
				continue
			}
			pairs = append(pairs, pair{le, n})
		case strings.HasPrefix(line, count):
			h.Count, _ = strconv.ParseFloat(strings.TrimPrefix(line, count), 64)
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].le < pairs[j].le })
	for _, p := range pairs {
		h.Bounds, h.Counts = append(h.Bounds, p.le), append(h.Counts, p.n)
	}
	return h, sc.Err()
}
