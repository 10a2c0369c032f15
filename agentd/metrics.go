package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fitsarchive/agentd/internal/cli"
)

// metrics is what agentd exposes to Prometheus (--metrics-addr): the pool's counters and
// workers, what the handlers and claims take, the queue depth the status loop samples
// (never a count per scrape: 200 hosts scrape), the database, the drain, the md arrays.
type metrics struct {
	reg     *prometheus.Registry
	status  *statusServer
	worked  *prometheus.HistogramVec
	claimed *prometheus.HistogramVec
	descs   map[string]*prometheus.Desc
}

func newMetrics(status *statusServer) *metrics {
	m := &metrics{
		reg:    prometheus.NewRegistry(),
		status: status,
		worked: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentd_item_duration_seconds",
			Help:    "How long the handler of one queue item took.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12), // 5 ms … 3 min
		}, []string{"queue"}),
		claimed: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentd_claim_duration_seconds",
			Help:    "How long one claim statement took (the latency of the queue's coordinator).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 1.5, 24), // 0.5 ms … 5.6 s, fine enough for a p99
		}, []string{"queue"}),
		descs: map[string]*prometheus.Desc{
			"items": prometheus.NewDesc("agentd_items_total",
				"Queue items this process ended or handed on, by outcome (completed, failed, deferred, released, lost), and claimed.",
				[]string{"queue", "outcome"}, nil),
			"workers": prometheus.NewDesc("agentd_workers", "Workers of the queue in this process.", []string{"queue"}, nil),
			"busy":    prometheus.NewDesc("agentd_workers_busy", "Workers working an item now.", []string{"queue"}, nil),
			"pending": prometheus.NewDesc("agentd_queue_pending_items",
				"Items waiting in the whole queue, sampled every 30 s by this agent, counted up to 100000.", []string{"queue"}, nil),
			"db":      prometheus.NewDesc("agentd_database_up", "1 when the agent's database answers, 0 while it waits for it.", nil, nil),
			"drained": prometheus.NewDesc("agentd_drained", "1 while an operator's drain stops new claims.", nil, nil),
			"active":  prometheus.NewDesc("agentd_md_array_active", "1 when the md array is active (assembled and running).", []string{"array"}, nil),
			"missing": prometheus.NewDesc("agentd_md_array_missing_devices", "Members the md array lacks (degraded when above 0).", []string{"array"}, nil),
			"sync": prometheus.NewDesc("agentd_md_array_sync_ratio",
				"Progress of the md array's recovery, resync or check (0 to 1); absent when none runs.", []string{"array", "kind"}, nil),
			"build": prometheus.NewDesc("agentd_build_info", "agentd's version, as a label.", []string{"version"}, nil),
			"spot": prometheus.NewDesc("agentd_spot_notice",
				"1 once the instance metadata gave a notice of the kind (rebalance, interruption); absent off EC2.", []string{"kind"}, nil),
		},
	}
	m.reg.MustRegister(m, m.worked, m.claimed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Worked is the pool's Observer: a handler returned.
func (m *metrics) Worked(q string, took time.Duration) {
	m.worked.WithLabelValues(q).Observe(took.Seconds())
}

// Claimed is the pool's Observer: a claim statement ended.
func (m *metrics) Claimed(q string, items int, took time.Duration) {
	m.claimed.WithLabelValues(q).Observe(took.Seconds())
}

// Describe sends the descriptions of the metrics Collect makes.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
}

// Collect reads the agent's state at scrape time: nothing here asks the database.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.status
	ch <- prometheus.MustNewConstMetric(m.descs["build"], prometheus.GaugeValue, 1, cli.Version())
	s.mu.Lock()
	pool, storage, db, sp := s.pool, s.storage, s.db, s.spot
	s.mu.Unlock()
	if sp != nil {
		st := sp.snapshot()
		for kind, n := range map[string]bool{"rebalance": st.Rebalance != nil, "interruption": st.Interruption != nil} {
			v := 0.0
			if n {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(m.descs["spot"], prometheus.GaugeValue, v, kind)
		}
	}
	if pool != nil {
		for _, q := range pool.State() {
			for outcome, n := range q.Counts {
				ch <- prometheus.MustNewConstMetric(m.descs["items"], prometheus.CounterValue, float64(n), q.Queue, outcome)
			}
			busy := 0
			for _, w := range q.Workers {
				if w.Item != "" {
					busy++
				}
			}
			ch <- prometheus.MustNewConstMetric(m.descs["workers"], prometheus.GaugeValue, float64(len(q.Workers)), q.Queue)
			ch <- prometheus.MustNewConstMetric(m.descs["busy"], prometheus.GaugeValue, float64(busy), q.Queue)
		}
		drained := 0.0
		if pool.Drained() {
			drained = 1
		}
		ch <- prometheus.MustNewConstMetric(m.descs["drained"], prometheus.GaugeValue, drained)
	}
	if db != nil {
		for q, n := range db.sampled() {
			ch <- prometheus.MustNewConstMetric(m.descs["pending"], prometheus.GaugeValue, float64(n), q)
		}
		state, _ := db.get()
		up := 0.0
		if state == "ok" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(m.descs["db"], prometheus.GaugeValue, up)
	}
	if storage != nil {
		for _, a := range storage.Snapshot().Arrays {
			active := 0.0
			if a.Active {
				active = 1
			}
			ch <- prometheus.MustNewConstMetric(m.descs["active"], prometheus.GaugeValue, active, a.Name)
			ch <- prometheus.MustNewConstMetric(m.descs["missing"], prometheus.GaugeValue, float64(a.Degraded), a.Name)
			if a.Sync != nil && !a.Sync.Pending {
				ch <- prometheus.MustNewConstMetric(m.descs["sync"], prometheus.GaugeValue, a.Sync.Percent/100, a.Name, a.Sync.Kind)
			}
		}
	}
}

// serveMetrics serves /metrics on addr until ctx ends. The address is taken at once, so a
// port in use is an error at start (exit 2), not a log line later.
func serveMetrics(ctx context.Context, addr string, m *metrics, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, cli.WithCode(cli.ExitUsage, fmt.Errorf("--metrics-addr %s: %w", addr, err))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{logger}}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { // owner: serve; ends when the returned stop shuts the server down
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics", "err", err)
		}
	}()
	logger.Info("metrics for Prometheus", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
		<-done
	}, nil
}

// slogPrinter is promhttp's error log on slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.l.Warn("metrics: " + strings.TrimSpace(fmt.Sprintln(v...)))
}
