package collectors

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// The collector's backend keeps its memory between ticks: a plain
// connection's backend faults its snapshot of every backend's status in
// again on each activity query (glibc gave the memory back), the
// collector's does not. The server is local, so its backends' page
// faults are in /proc.
func TestCollectorBackendKeepsItsMemory(t *testing.T) {
	t.Parallel()
	const held = 250
	p := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: held + 20})
	conns := testserver.ConnectMany(t, p.DSN+"&application_name=held", held)
	t.Cleanup(func() { runtime.KeepAlive(conns) })
	ctx := context.Background()

	c := newPGCollector(PGConfig{DSN: p.DSN, Interval: time.Second, StatementTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second}, nil)
	t.Cleanup(c.link.shutdown)
	var s Snapshot
	s.Errors = map[string]string{}
	tick := func() {
		c.collect(ctx)(&s)
		if msg := s.Errors[SourcePostgres]; msg != "" {
			t.Fatal(msg)
		}
	}
	tick() // connects
	collectorFaults := faultsPerCall(t, int(c.link.pid), tick)

	plain, err := pgx.Connect(ctx, p.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plain.Close(context.Background()) })
	query := func() {
		rows, err := plain.Query(ctx, wholeActivityQuery, int64(-1))
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	plainFaults := faultsPerCall(t, int(plain.PgConn().PID()), query)

	t.Logf("page faults per activity query with %d backends: collector %.1f, plain connection %.1f", held, collectorFaults, plainFaults)
	if plainFaults < 20 {
		t.Fatalf("a plain connection's backend faults %.1f pages per activity query; the server no longer gives the memory back, so this test measures nothing", plainFaults)
	}
	if collectorFaults > plainFaults/4 {
		t.Errorf("the collector's backend faults %.1f pages per tick, a plain connection's %.1f: it does not keep its memory", collectorFaults, plainFaults)
	}
}

// faultsPerCall runs fn a few times to settle, then measures the minor
// page faults of a local backend per call.
func faultsPerCall(t *testing.T, pid int, fn func()) float64 {
	t.Helper()
	for range 3 {
		fn()
	}
	const calls = 20
	before := minorFaults(t, pid)
	for range calls {
		fn()
	}
	return float64(minorFaults(t, pid)-before) / calls
}

func minorFaults(t *testing.T, pid int) int64 { return procStat(t, pid, 7)[0] }
