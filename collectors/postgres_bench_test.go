package collectors

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// BenchmarkPGCollect1000 is one PostgreSQL collection (one tick) with 1,000
// client backends: 800 idle, 150 idle in transaction, 41 active (one holding a row
// lock), 9 waiting on that lock. It needs a server with 1,000 connections, so it runs only
// with SLOTWATCH_BENCH_PG=1. Besides ns/op it reports the server's execution
// time of the activity query (pg_stat_statements) and slotwatch's own CPU
// time per tick.
func BenchmarkPGCollect1000(b *testing.B) {
	if os.Getenv("SLOTWATCH_BENCH_PG") != "1" {
		b.Skip("set SLOTWATCH_BENCH_PG=1 to start a server with 1,000 client backends")
	}
	p := testserver.StartPostgres(b, testserver.PGOptions{MaxConnections: 1100, Settings: map[string]string{
		"shared_preload_libraries": "'pg_stat_statements'", "pg_stat_statements.track": "all",
	}})
	p.Psql(b, "postgres", "CREATE EXTENSION pg_stat_statements; CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 10) g")
	// The sessions end with the server at cleanup: several are busy in a
	// statement, and a pgx connection must not be closed while in use. They
	// must stay reachable until then, or the garbage collector closes their
	// sockets.
	conns := openBenchSessions(b, p)
	defer runtime.KeepAlive(conns)

	c := newPGCollector(PGConfig{DSN: p.DSN, Interval: time.Second, StatementTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second}, nil)
	defer c.close()
	ctx := context.Background()
	var s Snapshot
	s.Errors = map[string]string{}
	c.collect(ctx)(&s)
	if s.Postgres.Total != 1000 || s.Postgres.Waiting != 9 {
		b.Fatalf("collected %d sessions, %d waiting; want 1000 and 9 (errors %v)", s.Postgres.Total, s.Postgres.Waiting, s.Errors)
	}
	p.Psql(b, "postgres", "SELECT pg_stat_statements_reset()")
	cpuBefore := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.collect(ctx)(&s)
		if msg := s.Errors[SourcePostgres]; msg != "" || s.Postgres.Total != 1000 {
			b.Fatalf("a tick collected %d sessions: %s", s.Postgres.Total, msg)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpuBefore).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	out := p.Psql(b, "postgres", "SELECT calls, total_exec_time FROM pg_stat_statements WHERE query LIKE '%FROM pg_stat_get_activity%' AND query NOT LIKE '%pg_stat_statements%'")
	var calls int
	var totalMS float64
	if _, err := fmt.Sscanf(out, "%d|%g", &calls, &totalMS); err == nil && calls > 0 {
		b.ReportMetric(totalMS/float64(calls), "server-ms/op")
	}
}

func openBenchSessions(b *testing.B, p *testserver.Postgres) []*pgx.Conn {
	ctx := context.Background()
	var conns []*pgx.Conn
	open := func(app string) *pgx.Conn {
		c, err := holdConn(p.DSN, app)
		if err != nil {
			b.Fatalf("open session %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		return c
	}
	for i := range 800 {
		open("django-" + strconv.Itoa(i%8))
	}
	for range 150 {
		if _, err := open("celery").Exec(ctx, "BEGIN; SELECT 1"); err != nil {
			b.Fatal(err)
		}
	}
	for range 40 {
		c := open("reports")
		go func() { _, _ = c.Exec(ctx, "SELECT pg_sleep(3600)") }()
	}
	locker := open("locker")
	if _, err := locker.Exec(ctx, "BEGIN; UPDATE t SET v = v + 1 WHERE id = 1"); err != nil {
		b.Fatal(err)
	}
	for range 9 {
		c := open("waiter")
		go func() { _, _ = c.Exec(ctx, "UPDATE t SET v = v + 1 WHERE id = 1") }()
	}
	// Wait until every background statement is running.
	deadline := time.Now().Add(30 * time.Second)
	for p.Psql(b, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") != "9" ||
		p.Psql(b, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'") != "40" {
		if time.Now().After(deadline) {
			b.Fatal("the benchmark sessions did not settle within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return conns
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
