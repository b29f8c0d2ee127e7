package collectors

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// After the first read, a tick asks the server only for the backends that
// changed, and what it builds from the rows it kept is still the
// pg_stat_activity view, field by field, durations included: a renamed
// session, a new one, one that closed, idle ones whose state ages, a lock
// waiter whose wait goes on. A row the collector lost makes the tick read
// every row again, and a server where most backends changed is read whole.
// It runs on the default server and on every version of the matrix
// (SLOTWATCH_PG_MATRIX), since the record's binary form is the server's.
func TestActivityAsksOnlyForChangedRows(t *testing.T) {
	t.Parallel()
	bins, err := testserver.MatrixBins()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("default", func(t *testing.T) { t.Parallel(); testChangedRows(t, "") })
	for major, bin := range bins {
		t.Run(fmt.Sprintf("PostgreSQL%d", major), func(t *testing.T) { t.Parallel(); testChangedRows(t, bin) })
	}
}

func testChangedRows(t *testing.T, bin string) {
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40, Bin: bin})
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN; CREATE TABLE r (id int PRIMARY KEY); INSERT INTO r VALUES (1); GRANT ALL ON r TO app")
	ctx := context.Background()
	app := pg.DSNFor("app", "postgres")
	openAs, run := testSessions(t)
	open := func(name string) *pgx.Conn { t.Helper(); return openAs(app, name) }
	renamed, closing, untouched := open("idle-a"), open("idle-b"), open("idle-c")
	for range 6 {
		run(open("idle-more"), "SELECT 1")
	}
	run(open("holder"), "BEGIN", "UPDATE r SET id = id WHERE id = 1")
	waiter := open("waiter")
	busyCtx, stop := context.WithCancel(ctx)
	var busy sync.WaitGroup
	t.Cleanup(func() { stop(); busy.Wait() })
	busy.Go(func() { _, _ = waiter.Exec(busyCtx, "UPDATE r SET id = id WHERE id = 1") })
	waitLocks(t, pg, 1)
	run(untouched, "SELECT 1")

	watcher := open("slotwatch-test")
	c := &pgCollector{waits: newWaitGraph()}
	tick := func() map[int32]Session {
		t.Helper()
		run(watcher, "BEGIN") // one snapshot and one now() for both reads
		defer run(watcher, "ROLLBACK")
		want := viewRows(t, watcher)
		got, _, _, _, err := c.queryActivity(ctx, watcher, -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d sessions, the view has %d", len(got), len(want))
		}
		byPID := map[int32]Session{}
		for _, s := range got {
			byPID[s.PID] = s
		}
		for _, w := range want {
			g, ok := byPID[w.PID]
			if !ok {
				t.Fatalf("pid %d (%s) is in the view, not in the collector's rows", w.PID, w.ApplicationName)
			}
			sameSession(t, g, w)
		}
		return byPID
	}

	// A wait event is read live, not from the transaction's snapshot of the
	// backends: a session a moment past its statement may show none in the
	// view and ClientRead a moment later. Each tick starts once every idle
	// session sits in ClientRead.
	settle := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); pg.Psql(t, "postgres",
			"SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state = 'idle' AND wait_event IS DISTINCT FROM 'ClientRead'") != "0"; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("idle sessions did not settle in ClientRead within 10 s")
			}
		}
	}

	time.Sleep(changeSlack + 200*time.Millisecond) // every state older than a tick's window
	settle()
	first := tick()
	if c.known.partial || c.known.wholeRows != len(first) {
		t.Fatalf("the first read asked for changed rows only (%v) or got %d of %d rows whole", c.known.partial, c.known.wholeRows, len(first))
	}

	run(renamed, "SET application_name = 'renamed'")
	closedPID := closing.PgConn().PID()
	_ = closing.Close(ctx)
	for deadline := time.Now().Add(10 * time.Second); pg.Psql(t, "postgres", fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE pid = %d", closedPID)) != "0"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the closed session's backend did not exit within 10 s")
		}
	}
	fresh := open("fresh")
	settle()
	second := tick()
	// The renamed and the new session come whole; on a loaded machine a
	// backend whose change fell inside the slack may too, never most.
	if !c.known.partial || c.known.wholeRows < 2 || 2*c.known.wholeRows >= c.known.listed {
		t.Fatalf("the second tick asked for changed rows only: %v, with %d of %d rows whole; want the renamed and the new session, not most", c.known.partial, c.known.wholeRows, c.known.listed)
	}
	if s := second[int32(renamed.PgConn().PID())]; s.ApplicationName != "renamed" {
		t.Errorf("the renamed session reads %q", s.ApplicationName)
	}
	if _, ok := second[int32(closedPID)]; ok {
		t.Error("the closed session is still listed")
	}
	if _, ok := second[int32(fresh.PgConn().PID())]; !ok {
		t.Error("the new session is not listed")
	}
	if s, was := second[int32(untouched.PgConn().PID())], first[int32(untouched.PgConn().PID())]; s.StateSeconds <= was.StateSeconds {
		t.Errorf("an unchanged idle session did not age: %v s, then %v s", was.StateSeconds, s.StateSeconds)
	}

	delete(c.known.rows, int32(untouched.PgConn().PID()))
	tick()
	if c.known.partial || c.known.rows[int32(untouched.PgConn().PID())].row.pid == 0 {
		t.Error("a tick that met a backend it had no row for did not read every row again")
	}

	time.Sleep(changeSlack + 200*time.Millisecond)
	tick()
	var conns []*pgx.Conn
	for range 12 {
		conns = append(conns, open("idle-more"))
	}
	for _, cn := range conns {
		run(cn, "SELECT 2")
	}
	settle()
	tick() // most backends changed: counted, so the next tick reads whole
	if 3*c.known.changed <= c.known.listed {
		t.Fatalf("%d of %d backends counted as changed after most ran a statement", c.known.changed, c.known.listed)
	}
	tick()
	if c.known.partial {
		t.Error("a server where most backends changed was read with changed rows only")
	}
}

// The running collector, not only queryActivity called by hand, reads a
// steady server with the changed-rows query: pg_stat_statements counts its
// whole reads (the first, and one every wholeEvery) and its partial ones.
func TestRunningCollectorReadsChangedRows(t *testing.T) {
	t.Parallel()
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 60, Settings: map[string]string{
		"shared_preload_libraries": "'pg_stat_statements'", "pg_stat_statements.track": "all",
	}})
	pg.Psql(t, "postgres", "CREATE EXTENSION pg_stat_statements; CREATE ROLE app LOGIN")
	for _, c := range testserver.ConnectMany(t, pg.DSNFor("app", "postgres"), 30) {
		t.Cleanup(func() { _ = c.Close(context.Background()) })
	}
	_, mb, cancel := startSet(t, Config{PG: &PGConfig{DSN: pg.DSN, Interval: 100 * time.Millisecond}})
	defer cancel()
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && len(s.Postgres.Sessions) >= 30 })
	// Ten ticks after every state is older than a tick's window.
	time.Sleep(changeSlack + time.Second)
	calls := func() (whole, changed int) {
		out := pg.Psql(t, "postgres", `SELECT coalesce(sum(calls) FILTER (WHERE query NOT LIKE '%ROW(datid%'), 0),
			coalesce(sum(calls) FILTER (WHERE query LIKE '%ROW(datid%'), 0)
			FROM pg_stat_statements WHERE query LIKE '%pg_stat_get_activity(%' AND query NOT LIKE '%pg_stat_statements%'`)
		if _, err := fmt.Sscanf(out, "%d|%d", &whole, &changed); err != nil {
			t.Fatalf("read pg_stat_statements %q: %v", out, err)
		}
		return whole, changed
	}
	whole0, changed0 := calls()
	time.Sleep(time.Second)
	whole1, changed1 := calls()
	if changed1-changed0 < 5 || whole1 != whole0 {
		t.Fatalf("in a steady second the collector read %d times with changed rows only and %d times whole; want about 10 and 0",
			changed1-changed0, whole1-whole0)
	}
}
