package actions

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// BenchmarkTerminate1000Idle terminates 1,000 idle sessions with the
// default batch settings (50 per batch, a batch every 200ms) on the
// console's borrowed connection, and reports sessions/s. It needs a server
// with 1,100 connections, so it runs only with SLOTWATCH_BENCH_PG=1:
//
//	SLOTWATCH_BENCH_PG=1 go test ./actions -run '^$' -bench Terminate1000Idle -benchmem
func BenchmarkTerminate1000Idle(b *testing.B) {
	if os.Getenv("SLOTWATCH_BENCH_PG") != "1" {
		b.Skip("set SLOTWATCH_BENCH_PG=1 to start a server with 1,000 idle sessions")
	}
	const n = 1000
	srv := testserver.StartPostgres(b, testserver.PGOptions{MaxConnections: 1100})
	srv.Psql(b, "postgres", "CREATE ROLE web LOGIN")
	ctx := context.Background()
	runner := newTestRunner(b, srv.DSN)
	svc := NewService(NewPGDriver(runner), nil, DefaultPolicy(), nil, Operator{User: "bench"})
	req := SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "bench-idle", States: []string{"idle"}}}
	var spent time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		conns := openIdle(b, srv.DSNFor("web", "postgres")+"&application_name=bench-idle", n)
		plan, err := svc.PreviewSessions(ctx, req)
		if err != nil || len(plan.Targets) != n {
			b.Fatalf("preview: %d targets, %v", len(plan.Targets), err)
		}
		b.StartTimer()
		start := time.Now()
		report, err := svc.ExecuteSessions(ctx, plan)
		spent += time.Since(start)
		b.StopTimer()
		if c := Counts(report.Results); err != nil || c[Done] != n {
			b.Fatalf("terminate: %v, %v", c, err)
		}
		for _, c := range conns {
			_ = c.Close(ctx)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/spent.Seconds(), "sessions/s")
}

// openIdle opens n idle sessions, sixteen at a time.
func openIdle(b *testing.B, dsn string, n int) []*pgx.Conn {
	b.Helper()
	conns := make([]*pgx.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				b.Error(err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return conns
}
