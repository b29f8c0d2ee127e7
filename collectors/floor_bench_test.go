package collectors

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// benchWholeQuery is wholeActivityQuery, the read of every row whole (after
// a reconnect, or on a server where most backends changed since the last
// tick); the extra condition only gives it a pg_stat_statements entry apart
// from the collector's own whole reads.
var benchWholeQuery = wholeActivityQuery + " AND 1 = 1"

// BenchmarkPGActivityVsFloor sets the activity query beside PostgreSQL's
// own floor for listing every backend (floorQuery) on the same server and
// connection, one of each per iteration so that both see the same load,
// in BenchmarkPGCollect's mix of N backends (SLOTWATCH_BENCH_PG=1;
// SLOTWATCH_BENCH_PG_BACKENDS lists the N), a tenth of which run a
// statement every second. Each iteration stands for one tick of a
// collector with a 1 s interval. It reports each query's mean and fastest
// server time (pg_stat_statements), their ratios, the time above the floor
// per 1,000 backends (linear growth keeps it flat), and the same query
// with every row whole, the worst case (every backend changed):
//
//	SLOTWATCH_BENCH_PG=1 SLOTWATCH_BENCH_PG_BACKENDS=100,1000,5000 \
//	    go test ./collectors -run '^$' -bench PGActivityVsFloor -benchmem -benchtime 200x
func BenchmarkPGActivityVsFloor(b *testing.B) {
	for _, n := range benchBackends(b) {
		b.Run(fmt.Sprintf("backends=%d", n), func(b *testing.B) { benchActivityVsFloor(b, n) })
	}
}

func benchActivityVsFloor(b *testing.B, n int) {
	p := testserver.StartPostgres(b, testserver.PGOptions{MaxConnections: n + 60, Settings: map[string]string{
		"shared_preload_libraries": "'pg_stat_statements'", "pg_stat_statements.track": "all",
	}})
	p.Psql(b, "postgres", `CREATE EXTENSION pg_stat_statements; CREATE ROLE app LOGIN;
		CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0); GRANT ALL ON t TO app`)
	churners := n / 10
	holdBenchMix(b, p, n-churners)
	churn(b, p, churners, time.Second)
	const interval = time.Second
	c := newPGCollector(PGConfig{DSN: p.DSN, Interval: interval, StatementTimeout: 10 * time.Second, ConnectTimeout: 5 * time.Second}, nil)
	defer c.close()
	ctx := context.Background()
	var s Snapshot
	s.Errors = map[string]string{}
	c.collect(ctx)(&s) // connect, read names and settings
	// Measure the steady state: the held backends' own changes (the
	// statements that set up the mix) older than a tick's window.
	time.Sleep(2*interval + changeSlack)
	p.Psql(b, "postgres", "SELECT pg_stat_statements_reset()")
	b.ReportAllocs()
	for b.Loop() {
		err := c.link.use(ctx, false, func(ctx context.Context, conn *pgx.Conn) error {
			sessions, _, _, _, err := c.queryActivity(ctx, conn, -1)
			if err != nil {
				return err
			}
			if len(sessions) < n {
				return fmt.Errorf("the activity query listed %d of %d held sessions", len(sessions), n)
			}
			// The iterations come faster than ticks: the next one asks
			// about the interval a real tick would.
			c.known.since.Time = c.known.since.Time.Add(-interval)
			if _, err := conn.Exec(ctx, floorQuery); err != nil {
				return err
			}
			rows, err := conn.Query(ctx, benchWholeQuery, int64(-1))
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stat := func(like, notLike string) (mean, fastest float64) {
		out := p.Psql(b, "postgres", fmt.Sprintf(`SELECT sum(total_exec_time) / sum(calls), min(min_exec_time) FROM pg_stat_statements
			WHERE query LIKE '%s' AND query NOT LIKE '%s' AND query NOT LIKE '%%pg_stat_statements%%'`, like, notLike))
		if _, err := fmt.Sscanf(strings.ReplaceAll(out, "|", " "), "%g %g", &mean, &fastest); err != nil {
			b.Fatalf("read pg_stat_statements for %s: %q: %v", like, out, err)
		}
		return mean, fastest
	}
	// pg_stat_statements shows constants as $n: tell the three by words.
	act, actMin := stat("%ROW(datid%", "%count(*) FROM%")
	floor, floorMin := stat("%count(*) FROM pg_stat_get_activity%", "%ROW(datid%")
	whole, wholeMin := stat("%int8) AND $% = $%", "%ROW(datid%")
	b.ReportMetric(act, "activity-ms")
	b.ReportMetric(actMin, "activity-min-ms")
	b.ReportMetric(floor, "floor-ms")
	b.ReportMetric(floorMin, "floor-min-ms")
	b.ReportMetric(whole, "whole-ms")
	b.ReportMetric(wholeMin, "whole-min-ms")
	b.ReportMetric(act/floor, "activity/floor")
	b.ReportMetric(actMin/floorMin, "fastest-activity/floor")
	b.ReportMetric(wholeMin/floorMin, "fastest-whole/floor")
	b.ReportMetric((act-floor)/float64(n)*1000, "above-floor-ms/1000-backends")
	b.ReportMetric((actMin-floorMin)/float64(n)*1000, "fastest-above-floor-ms/1000-backends")
}

// churn holds n more backends of role app, each running a statement every
// period (spread across it), as a load's busy connections do; they stop at
// cleanup.
func churn(b *testing.B, p *testserver.Postgres, n int, period time.Duration) {
	b.Helper()
	conns := testserver.ConnectMany(b, p.DSNFor("app", "postgres")+"&application_name=bench-churn", n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, n)
	b.Cleanup(func() {
		cancel()
		for range n {
			<-done
		}
		for _, c := range conns {
			_ = c.Close(context.Background())
		}
	})
	for i, c := range conns {
		go func() {
			defer func() { done <- struct{}{} }()
			time.Sleep(period * time.Duration(i) / time.Duration(max(n, 1)))
			t := time.NewTicker(period)
			defer t.Stop()
			for {
				if _, err := c.Exec(ctx, "SELECT 1"); err != nil && ctx.Err() == nil {
					b.Errorf("a churning backend's statement failed: %v", err)
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
}
