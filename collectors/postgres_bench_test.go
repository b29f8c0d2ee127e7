package collectors

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// BenchmarkPGCollect is one PostgreSQL collection (one tick) with N client
// backends held in the benchmarks' mix: 60 % idle, 20 % idle in transaction (one
// of them holding a row lock), 10 % active in pg_sleep, 10 % waiting on that
// row lock. It needs a server with N connections, so it runs only with
// SLOTWATCH_BENCH_PG=1; SLOTWATCH_BENCH_PG_BACKENDS lists the N (default
// 1000), e.g.
//
//	SLOTWATCH_BENCH_PG=1 SLOTWATCH_BENCH_PG_BACKENDS=100,1000,5000 \
//	    go test ./collectors -run '^$' -bench PGCollect -benchmem
//
// Besides ns/op it reports, from pg_stat_statements on the throwaway server,
// the server's execution time of every query of the collector per tick
// (server-ms/tick: the activity query plus the wait graph's lock pass,
// which runs once per waitGraphRefresh, and its pg_blocking_pids query over
// every waiter, once per waitGraphDeepRefresh), of one activity query
// (activity-ms/call, and the fastest call: activity-min-ms), of
// PostgreSQL's own floor for any such listing (pgfloor-ms/call), of the
// per-backend functions' listing that avoids it (perbackend-ms/call), of one lock
// pass (lockpass-ms/call) and of one pg_blocking_pids query over every
// waiter (blocking-ms/call); the same per tick as CPU time
// of the collector's backend from /proc (server-cpu-ms/tick: on a busy
// machine pg_stat_statements' wall times grow, CPU time does not); and
// slotwatch's own CPU per tick (cpu-ms/op).
func BenchmarkPGCollect(b *testing.B) {
	for _, n := range benchBackends(b) {
		b.Run(fmt.Sprintf("backends=%d", n), func(b *testing.B) { benchmarkPGCollect(b, n) })
	}
}

// benchBackends is SLOTWATCH_BENCH_PG_BACKENDS (default 1000); the
// benchmarks that need it are skipped without SLOTWATCH_BENCH_PG=1.
func benchBackends(b *testing.B) []int {
	if os.Getenv("SLOTWATCH_BENCH_PG") != "1" {
		b.Skip("set SLOTWATCH_BENCH_PG=1 to start a server with 1,000 client backends")
	}
	counts := []int{1000}
	if v := os.Getenv("SLOTWATCH_BENCH_PG_BACKENDS"); v != "" {
		counts = counts[:0]
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 10 || n > 10000 {
				b.Fatalf("SLOTWATCH_BENCH_PG_BACKENDS=%q: want counts from 10 to 10000, comma-separated", v)
			}
			counts = append(counts, n)
		}
	}
	return counts
}

func benchmarkPGCollect(b *testing.B, n int) {
	p := testserver.StartPostgres(b, testserver.PGOptions{MaxConnections: n + 60, Settings: map[string]string{
		"shared_preload_libraries": "'pg_stat_statements'", "pg_stat_statements.track": "all",
	}})
	p.Psql(b, "postgres", `CREATE EXTENSION pg_stat_statements; CREATE ROLE app LOGIN;
		CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0); GRANT ALL ON t TO app`)
	waiting := holdBenchMix(b, p, n)

	c := newPGCollector(PGConfig{DSN: p.DSN, Interval: time.Second, StatementTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second}, nil)
	defer c.close()
	ctx := context.Background()
	var s Snapshot
	s.Errors = map[string]string{}
	c.collect(ctx)(&s)
	if s.Postgres == nil || benchSessions(s.Postgres) != n || s.Postgres.Waiting != waiting {
		b.Fatalf("collected %v; want %d sessions, %d waiting (errors %v)", s.Postgres, n, waiting, s.Errors)
	}
	p.Psql(b, "postgres", "SELECT pg_stat_statements_reset()")
	backend := int(c.link.pid) // the server is local: its CPU is in /proc
	cpuBefore, serverBefore := cpuTime(), procCPU(b, backend)
	b.ReportAllocs()
	b.ResetTimer()
	ticks := 0
	for b.Loop() {
		c.collect(ctx)(&s)
		if msg := s.Errors[SourcePostgres]; msg != "" || benchSessions(s.Postgres) != n {
			b.Fatalf("a tick collected %d held sessions: %s", benchSessions(s.Postgres), msg)
		}
		ticks++
	}
	b.StopTimer()
	perTick := func(d time.Duration, ticks int) float64 { return float64(d.Microseconds()) / 1000 / float64(ticks) }
	b.ReportMetric(perTick(cpuTime()-cpuBefore, ticks), "cpu-ms/op")
	tickCPU := perTick(procCPU(b, backend)-serverBefore, ticks)
	// The loop may be shorter than waitGraphRefresh: ticks that check
	// every waiter measure the wait graph's other queries — the lock pass
	// of each waitGraphRefresh and the pg_blocking_pids query of each
	// waitGraphDeepRefresh.
	const passTicks, deepTicks = 10, 3
	serverBefore = procCPU(b, backend)
	for range passTicks {
		c.waits.fullAt = time.Time{}
		c.collect(ctx)(&s)
	}
	passCPU := perTick(procCPU(b, backend)-serverBefore, passTicks) - tickCPU
	// Waiters the last pass could not decide, left to pg_blocking_pids.
	b.ReportMetric(float64(c.waits.asked), "undecided-waiters")
	if c.waits.passes != 1 || c.waits.passed+c.waits.asked != waiting {
		b.Fatalf("a checking tick read %d lock passes answering %d of %d waiters (%d asked)", c.waits.passes, c.waits.passed, waiting, c.waits.asked)
	}
	serverBefore = procCPU(b, backend)
	for range deepTicks {
		c.waits.fullAt, c.waits.deepAt = time.Time{}, time.Unix(1, 0)
		c.collect(ctx)(&s)
	}
	deepCPU := perTick(procCPU(b, backend)-serverBefore, deepTicks) - tickCPU
	// PostgreSQL's own floor: any listing of every backend's state pays
	// this, whatever it selects (the question is what of the activity
	// query's time is ours).
	const floorCalls = 20
	err := c.link.use(ctx, false, func(ctx context.Context, conn *pgx.Conn) error {
		for range floorCalls {
			if _, err := conn.Exec(ctx, floorQuery); err != nil {
				return err
			}
			if _, err := conn.Exec(ctx, perBackendQuery); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("count pg_stat_get_activity's rows: %v", err)
	}
	out := p.Psql(b, "postgres", `SELECT
		coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%pg_stat_get_activity%' AND query NOT LIKE '%count(*)%'), 0),
		coalesce(sum(calls) FILTER (WHERE query LIKE '%pg_stat_get_activity%' AND query NOT LIKE '%count(*)%'), 0),
		coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%count(*) FROM pg_stat_get_activity%'), 0),
		coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%pg_locks%'), 0),
		coalesce(sum(calls) FILTER (WHERE query LIKE '%pg_locks%'), 0),
		coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%pg_blocking_pids%'), 0),
		coalesce(sum(calls) FILTER (WHERE query LIKE '%pg_blocking_pids%'), 0),
		coalesce(min(min_exec_time) FILTER (WHERE query LIKE '%pg_stat_get_activity%' AND query NOT LIKE '%count(*)%'), 0),
		coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%pg_stat_get_backend_idset%'), 0)
		FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'`)
	var activity, calls, floor, pass, passCalls, blocking, blockingCalls, fastest, perBackend float64
	if _, err := fmt.Sscanf(strings.ReplaceAll(out, "|", " "), "%g %g %g %g %g %g %g %g %g", &activity, &calls, &floor, &pass, &passCalls,
		&blocking, &blockingCalls, &fastest, &perBackend); err != nil || calls == 0 || passCalls == 0 || blockingCalls == 0 {
		b.Fatalf("read pg_stat_statements %q: %v", out, err)
	}
	// Per tick at the default 1 s interval: one activity query, the lock
	// pass once per waitGraphRefresh and pg_blocking_pids over every
	// waiter once per waitGraphDeepRefresh (a steady wait graph asks
	// nothing in between). pg_stat_statements times are wall time in the
	// backend (a busy machine inflates them); the backend's CPU time from
	// /proc is not.
	passShare := float64(time.Second) / float64(waitGraphRefresh)
	deepShare := float64(time.Second) / float64(waitGraphDeepRefresh)
	b.ReportMetric(activity/calls, "activity-ms/call")
	b.ReportMetric(fastest, "activity-min-ms")
	b.ReportMetric(floor/floorCalls, "pgfloor-ms/call")
	b.ReportMetric(perBackend/floorCalls, "perbackend-ms/call")
	b.ReportMetric(pass/passCalls, "lockpass-ms/call")
	b.ReportMetric(blocking/blockingCalls, "blocking-ms/call")
	b.ReportMetric(activity/calls+passShare*pass/passCalls+deepShare*blocking/blockingCalls, "server-ms/tick")
	b.ReportMetric(tickCPU+passShare*max(passCPU, 0)+deepShare*max(deepCPU, 0), "server-cpu-ms/tick")
}

// procCPU is a local process's user + system time (/proc, in clock ticks
// of 10 ms: measure many ticks).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	f := procStat(b, pid, 11, 12)           // utime, stime
	const clockTick = 10 * time.Millisecond // USER_HZ 100 on Linux
	return time.Duration(f[0]+f[1]) * clockTick
}

// procStat reads the given numeric fields of a local process's
// /proc/<pid>/stat, counted from the first field after the command name
// (which is in parentheses and may hold spaces): 7 is minflt, 11 utime,
// 12 stime.
func procStat(tb testing.TB, pid int, fields ...int) []int64 {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("read process %d's statistics: %v", pid, err)
	}
	all := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	out := make([]int64, len(fields))
	for k, i := range fields {
		if out[k], err = strconv.ParseInt(all[i], 10, 64); err != nil {
			tb.Fatalf("read process %d's statistics: field %d is %q", pid, i, all[i])
		}
	}
	return out
}

// floorQuery is what PostgreSQL itself spends listing every backend:
// pg_stat_get_activity builds every column of every row whatever the query
// selects, and looks each row's process up in the proc array.
const floorQuery = `SELECT count(*) FROM pg_stat_get_activity(NULL)`

// perBackendQuery is the one listing that stays linear: the per-backend
// functions look a backend up in the status snapshot, not the proc array.
// It is measured, not used: nothing of this kind gives a session's state,
// wait event or application_name (README, Known limits).
const perBackendQuery = `SELECT pg_stat_get_backend_pid(b), pg_stat_get_backend_dbid(b), pg_stat_get_backend_userid(b),
  pg_stat_get_backend_start(b), pg_stat_get_backend_xact_start(b), pg_stat_get_backend_activity_start(b),
  pg_stat_get_backend_activity(b)
FROM pg_stat_get_backend_idset() b`

// benchSessions counts the held sessions: a psql of the setup may still be
// exiting during the first ticks.
func benchSessions(st *PGStats) int {
	n := 0
	for i := range st.Sessions {
		if st.Sessions[i].ApplicationName == "bench-app" {
			n++
		}
	}
	return n
}

// holdBenchMix holds n backends of role app in the benchmarks' mix and returns
// how many wait on the row lock. The connections end with the server at
// cleanup: several are busy in a statement, and a pgx connection must not be
// closed while in use. They stay reachable until then, or the garbage
// collector would close their sockets.
func holdBenchMix(b *testing.B, p *testserver.Postgres, n int) int {
	b.Helper()
	conns := testserver.ConnectMany(b, p.DSNFor("app", "postgres")+"&application_name=bench-app", n)
	b.Cleanup(func() { runtime.KeepAlive(conns) })
	ctx := context.Background()
	idleTx, active, waiting := n/5, n/10, n/10
	run := func(c *pgx.Conn, sqls ...string) {
		for _, q := range sqls {
			if _, err := c.Exec(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	}
	for i, c := range conns {
		switch {
		case i == 0:
			run(c, "BEGIN", "UPDATE t SET v = v + 1 WHERE id = 1")
		case i < idleTx:
			run(c, "BEGIN", "SELECT 1")
		case i < idleTx+active:
			go func() { _, _ = c.Exec(ctx, "SELECT pg_sleep(3600)") }()
		case i < idleTx+active+waiting:
			go func() { _, _ = c.Exec(ctx, "UPDATE t SET v = v + 1 WHERE id = 1") }()
		default:
			run(c, "SELECT 1")
		}
	}
	want := fmt.Sprintf("%d|%d", waiting, active)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got := p.Psql(b, "postgres", `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),
			count(*) FILTER (WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active') FROM pg_stat_activity`)
		if got == want {
			return waiting
		}
		if time.Now().After(deadline) {
			b.Fatalf("waiting|sleeping sessions are %s after 60 s, want %s", got, want)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
