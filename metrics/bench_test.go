package metrics

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// BenchmarkScrape renders one /metrics answer for a server with 1,000
// connection groups and 2,000 Redis groups (top 20 each + other), the
// frame's metrics only (no Go runtime collector).
func BenchmarkScrape(b *testing.B) {
	at := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	rg := make([]collectors.RedisGroup, 2000)
	for i := range rg {
		rg[i] = collectors.RedisGroup{Host: fmt.Sprintf("10.0.%d.%d", i/250, i%250), Name: "cache-#", Count: 1 + i%9}
	}
	s := collectors.Snapshot{TakenAt: at, Errors: map[string]string{},
		Postgres: &collectors.PGStats{Sample: collectors.Sample{SampledAt: at}, MaxConnections: 5000, Total: 4000, Groups: manyGroups(1000, 50)},
		Redis:    &collectors.RedisStats{Sample: collectors.Sample{SampledAt: at}, MaxClients: 10000, Groups: rg},
	}
	f := analysis.NewPipeline(analysis.DefaultRules()).Step(s)
	e := exporterWith(f, DefaultTopN)
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
