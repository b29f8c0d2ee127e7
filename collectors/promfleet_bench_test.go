package collectors

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/internal/promtest"
)

// Shape of the benchmark fleet: 500 instances, half an hour of 15 s
// samples, as postgres_exporter, redis_exporter and pgbouncer_exporter
// name them.
const (
	benchPG, benchRedis, benchPgBouncer = 300, 150, 50
	benchSpan                           = 30 * time.Minute
	benchStep                           = 15 * time.Second
)

// writeFleetOpenMetrics writes the fleet's history ending at end.
func writeFleetOpenMetrics(path string, end time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	points := int(benchSpan / benchStep)
	start := end.Add(-benchSpan)
	target := func(job string, i int) string {
		return fmt.Sprintf(`job="%s",instance="%s-%03d.internal:9100",cluster="c%d",region="r%d",host="%s-%03d.internal"`,
			job, job, i, i%10, i%4, job, i)
	}
	family := func(name string, each func(emit func(labels string, v func(p int) float64))) {
		fmt.Fprintf(w, "# TYPE %s gauge\n", name)
		each(func(labels string, v func(p int) float64) {
			for p := 0; p <= points; p++ {
				fmt.Fprintf(w, "%s{%s} %g %d\n", name, labels, v(p), start.Add(time.Duration(p)*benchStep).Unix())
			}
		})
	}
	const1 := func(c float64) func(int) float64 { return func(int) float64 { return c } }
	family("up", func(emit func(string, func(int) float64)) {
		for i := range benchPG {
			emit(target("postgres", i), const1(1))
		}
		for i := range benchRedis {
			emit(target("redis", i), const1(1))
		}
		for i := range benchPgBouncer {
			emit(target("pgbouncer", i), const1(1))
		}
	})
	family("pg_up", func(emit func(string, func(int) float64)) {
		for i := range benchPG {
			emit(target("postgres", i), const1(1))
		}
	})
	family("pg_settings_max_connections", func(emit func(string, func(int) float64)) {
		for i := range benchPG {
			emit(target("postgres", i)+`,server="db:5432"`, const1(100+float64(i%5)*100))
		}
	})
	family("pg_settings_superuser_reserved_connections", func(emit func(string, func(int) float64)) {
		for i := range benchPG {
			emit(target("postgres", i)+`,server="db:5432"`, const1(3))
		}
	})
	family("pg_stat_activity_count", func(emit func(string, func(int) float64)) {
		for i := range benchPG {
			for s, state := range []string{"active", "idle", "idle in transaction"} {
				emit(target("postgres", i)+`,server="db:5432",datname="app",state="`+state+`"`,
					func(p int) float64 { return float64((i + s*7 + p/4) % 40) })
			}
		}
	})
	family("redis_up", func(emit func(string, func(int) float64)) {
		for i := range benchRedis {
			emit(target("redis", i), const1(1))
		}
	})
	family("redis_connected_clients", func(emit func(string, func(int) float64)) {
		for i := range benchRedis {
			emit(target("redis", i), func(p int) float64 { return float64(100 + (i*13+p)%900) })
		}
	})
	family("redis_config_maxclients", func(emit func(string, func(int) float64)) {
		for i := range benchRedis {
			emit(target("redis", i), const1(10000))
		}
	})
	family("pgbouncer_up", func(emit func(string, func(int) float64)) {
		for i := range benchPgBouncer {
			emit(target("pgbouncer", i), const1(1))
		}
	})
	for _, name := range []string{"pgbouncer_pools_client_waiting_connections", "pgbouncer_pools_client_maxwait_seconds"} {
		family(name, func(emit func(string, func(int) float64)) {
			for i := range benchPgBouncer {
				for _, db := range []string{"app", "jobs"} {
					emit(target("pgbouncer", i)+`,database="`+db+`",user="app"`, func(p int) float64 { return float64((i + p) % 5) })
				}
			}
		})
	}
	family("ALERTS", func(emit func(string, func(int) float64)) {
		for i := 0; i < benchPG; i += 15 {
			emit(target("postgres", i)+`,alertname="PostgresConnectionLimitReached",alertstate="firing"`, const1(1))
		}
	})
	fmt.Fprintln(w, "# EOF")
	return w.Flush()
}

// fleetTSDB builds the benchmark fleet's TSDB with promtool and serves it
// with a real Prometheus; it returns the server and the data's end.
func fleetTSDB(b *testing.B) (*promtest.Server, time.Time) {
	b.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		b.Skip("promtool is not installed (Debian package prometheus)")
	}
	dir := b.TempDir()
	end := time.Now().Truncate(benchStep)
	om := filepath.Join(dir, "fleet.om")
	if err := writeFleetOpenMetrics(om, end); err != nil {
		b.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", om, data).CombinedOutput(); err != nil {
		b.Fatalf("promtool: %v\n%s", err, out)
	}
	_ = os.Remove(om)
	return promtest.StartPrometheus(b, promtest.PrometheusConfig{DataDir: data}), end
}

// BenchmarkPromFleetRefresh500 is one refresh of a 500-instance fleet
// served by a real Prometheus from a promtool-built TSDB: the four
// queries, their decoding and the join. B/op is what a refresh allocates;
// retained-B is what the snapshot keeps.
func BenchmarkPromFleetRefresh500(b *testing.B) {
	prom, end := fleetTSDB(b)
	c, err := newPromFleetCollector(PromFleetConfig{URL: prom.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	ctx := context.Background()
	st, err := c.read(ctx, end)
	if err != nil {
		b.Fatal(err)
	}
	n := st.Count()
	if len(st.Instances) != benchPG+benchRedis+benchPgBouncer || n[FleetUp] != len(st.Instances) || st.Queries != 4 {
		b.Fatalf("the fleet read %d instances (%v) in %d queries, want 500 up in 4", len(st.Instances), n, st.Queries)
	}
	for _, in := range st.Instances {
		if len(in.Spark) != c.cfg.Points+1 || (in.Kind != FleetPgBouncer && !in.Used.Known) {
			b.Fatalf("%s: spark %d points, used %v", in.Key, len(in.Spark), in.Used)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept, err := c.read(ctx, end)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	retained := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	b.Run("refresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.read(ctx, end); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(retained, "retained-B")
	})
	// Where a refresh's time goes, query by query.
	step := c.step()
	for _, q := range []struct {
		name string
		run  func() ([]promSeries, error)
	}{
		{"raw", func() ([]promSeries, error) { return c.api.query(ctx, promFleetRaw, end) }},
		{"sums", func() ([]promSeries, error) { return c.api.query(ctx, promFleetAgg, end) }},
		{"alerts", func() ([]promSeries, error) { return c.api.query(ctx, promFleetAlerts, end) }},
		{"range", func() ([]promSeries, error) {
			return c.api.queryRange(ctx, promFleetSpark, end.Add(-time.Duration(c.cfg.Points)*step), end, step)
		}},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := q.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
