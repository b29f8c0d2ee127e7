// Package metrics serves /metrics for Prometheus from the newest analysis
// frame. It is neither collecting, acting nor drawing: it reads the frames
// the one analysis pipeline publishes (its own latest-wins mailbox, so a
// slow scraper never holds collection back) and renders them at scrape
// time under names compatible with postgres_exporter and redis_exporter,
// plus slotwatch's own (slotwatch_*), with bounded cardinality.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	promcollectors "github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slotwatch/slotwatch/analysis"
)

// DefaultTopN is how many connection groups, Redis groups and jobs get
// their own series; the rest are summed into one "other" series.
const DefaultTopN = 20

// Other is the label value of the series that sums every group beyond
// the top N.
const Other = "other"

// Exporter is a prometheus.Collector over the newest frame.
type Exporter struct {
	feed *analysis.FrameMailbox
	topN int
	d    *descs
	// ds are the same descriptions with the server label, for frames
	// whose snapshot lists several servers.
	ds *descs

	mu     sync.Mutex
	latest analysis.Frame
	have   bool
}

// New returns an exporter reading feed (subscribe it on the frame hub).
// topN <= 0 means DefaultTopN.
func New(feed *analysis.FrameMailbox, topN int) *Exporter {
	if topN <= 0 {
		topN = DefaultTopN
	}
	return &Exporter{feed: feed, topN: topN, d: newDescs(), ds: newDescs(serverLabel)}
}

// Describe sends nothing: the exporter is an unchecked collector, because
// which series exist depends on the sources configured and the groups seen.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect renders the newest frame. It only takes what the mailbox holds
// and never waits for the pipeline.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	if f, ok := e.feed.Take(); ok {
		e.latest, e.have = f, true
	}
	f, have := e.latest, e.have
	e.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(e.d.skipped, prometheus.CounterValue, float64(e.feed.Skipped()))
	if !have {
		return
	}
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	collectFrame(e.d, e.ds, e.topN, &f, emit)
}

// emitFunc sends one sample.
type emitFunc func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string)

// Handler returns the /metrics handler: the frame's metrics plus the Go
// runtime's and the process's, on a registry of its own.
func (e *Exporter) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(e, promcollectors.NewGoCollector(), promcollectors.NewProcessCollector(promcollectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
