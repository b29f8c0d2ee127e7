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
// console's borrowed connection, through the Service (Signal per batch, or
// SignalPipelined when the Service uses it), and reports sessions/s. With
// these settings 20 batches take 19 intervals, so about 260/s is the most
// it can show. It needs a server with 1,100 connections, so it runs only
// with SLOTWATCH_BENCH_PG=1:
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

// BenchmarkTerminateModes1000 is where the time of a mass terminate goes:
// 1,000 idle sessions terminated in batches of 50 on one server, reported
// in sessions/s (SLOTWATCH_BENCH_PG=1, as above):
//
//	SLOTWATCH_BENCH_PG=1 go test ./actions -run '^$' -bench TerminateModes1000 -benchmem
//
// The modes:
//   - bare: the floor — SELECT pg_terminate_backend(pid) FROM unnest(…) per
//     batch, no re-check at all, then waiting for the batch to be gone; no
//     interval;
//   - serial: Signal per batch (the full re-check, then the batch awaited)
//     one after another, no interval;
//   - pipelined: SignalPipelined, no interval (the next batch is signalled
//     while at most two batches' worth are still exiting);
//   - pipelined-default: SignalPipelined with the default batch size and
//     interval (the interval is the bound: 20 batches take 19 intervals).
func BenchmarkTerminateModes1000(b *testing.B) {
	if os.Getenv("SLOTWATCH_BENCH_PG") != "1" {
		b.Skip("set SLOTWATCH_BENCH_PG=1 to start a server with 1,000 idle sessions")
	}
	srv := testserver.StartPostgres(b, testserver.PGOptions{MaxConnections: 1100})
	srv.Psql(b, "postgres", "CREATE ROLE web LOGIN")
	filter := SessionFilter{App: "bench-idle", States: []string{"idle"}}
	protect := DefaultPolicy().compile().protection()
	unpaced := Pace{BatchSize: 50, Interval: 0}
	def := DefaultPolicy()
	modes := []struct {
		name string
		run  func(ctx context.Context, pg *PGConn, r *testRunner, targets []Backend) ([]TargetResult, error)
	}{
		{"bare", func(ctx context.Context, pg *PGConn, r *testRunner, targets []Backend) ([]TargetResult, error) {
			return bareTerminate(ctx, r, targets, 50)
		}},
		{"serial", func(ctx context.Context, pg *PGConn, r *testRunner, targets []Backend) ([]TargetResult, error) {
			var out []TargetResult
			for i := 0; i < len(targets); i += 50 {
				res, err := pg.Signal(ctx, Terminate, targets[i:min(i+50, len(targets))], filter, protect)
				if err != nil {
					return out, err
				}
				out = append(out, res...)
			}
			return out, nil
		}},
		{"pipelined", func(ctx context.Context, pg *PGConn, r *testRunner, targets []Backend) ([]TargetResult, error) {
			res, _, err := pg.SignalPipelined(ctx, Terminate, targets, filter, protect, unpaced)
			return res, err
		}},
		{"pipelined-default", func(ctx context.Context, pg *PGConn, r *testRunner, targets []Backend) ([]TargetResult, error) {
			res, _, err := pg.SignalPipelined(ctx, Terminate, targets, filter, protect, Pace{BatchSize: def.BatchSize, Interval: def.BatchInterval})
			return res, err
		}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			const n = 1000
			ctx := context.Background()
			runner := newTestRunner(b, srv.DSN)
			pg := NewPGDriver(runner)
			var spent time.Duration
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				conns := openIdle(b, srv.DSNFor("web", "postgres")+"&application_name=bench-idle", n)
				targets := benchTargets(b, pg, "bench-idle")
				if len(targets) != n {
					b.Fatalf("%d targets, want %d", len(targets), n)
				}
				b.StartTimer()
				start := time.Now()
				res, err := m.run(ctx, pg, runner, targets)
				spent += time.Since(start)
				b.StopTimer()
				if c := Counts(res); err != nil || c[Done] != n {
					b.Fatalf("%s: %v, %v", m.name, c, err)
				}
				for _, c := range conns {
					_ = c.Close(ctx)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/spent.Seconds(), "sessions/s")
		})
	}
}

// benchTargets lists the idle backends of app.
func benchTargets(b *testing.B, pg *PGConn, app string) []Backend {
	b.Helper()
	all, err := pg.Backends(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var out []Backend
	for _, t := range all {
		if t.ApplicationName == app && t.State == "idle" {
			out = append(out, t)
		}
	}
	return out
}

// bareTerminate is the floor: each batch signalled with no re-check at all,
// then polled (the same cheap check) until gone.
func bareTerminate(ctx context.Context, r *testRunner, targets []Backend, size int) ([]TargetResult, error) {
	var out []TargetResult
	err := r.WithConn(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		for i := 0; i < len(targets); i += size {
			batch := targets[i:min(i+size, len(targets))]
			pids := make([]int32, len(batch))
			wait := make([]awaiting, len(batch))
			for j, t := range batch {
				pids[j], wait[j] = t.PID, awaiting{target: t, sent: true, deadline: time.Now().Add(DefaultTerminateTimeout)}
			}
			if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM unnest($1::int4[]) AS pid", pids); err != nil {
				return err
			}
			res, err := settleOn(ctx, conn, Terminate, wait, DefaultTerminateTimeout)
			out = append(out, res...)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
