package collectors

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// The wait graph must give exactly pg_blocking_pids's answer on the same
// server state — several blockers and a lock queue — while asking the
// server again only when a waiter or one of its blockers changed.
func TestWaitGraphMatchesPgBlockingPids(t *testing.T) {
	t.Parallel()
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	pg.Psql(t, "postgres", "CREATE TABLE w (id int PRIMARY KEY); INSERT INTO w VALUES (1), (2)")
	ctx := context.Background()
	conn := func(app string) *pgx.Conn { return connectAs(t, pg, app) }
	exec := func(c *pgx.Conn, sql string) { execAll(t, c, sql) }
	// Two share-lock holders block an exclusive request (several
	// blockers); a row lock holder has a queue of two behind it.
	s1, s2 := conn("holder-1"), conn("holder-2")
	exec(s1, "BEGIN")
	exec(s1, "LOCK TABLE w IN ACCESS SHARE MODE")
	exec(s2, "BEGIN")
	exec(s2, "SELECT * FROM w WHERE id = 2 FOR UPDATE")
	exclusive := conn("wants-exclusive")
	exec(exclusive, "BEGIN")
	queued := []*pgx.Conn{conn("queued-0"), conn("queued-1")}
	// The waiting statements end (cancelled) before their connections
	// close: cleanups run last-registered first.
	waitCtx, stop := context.WithCancel(ctx)
	var waiting sync.WaitGroup
	t.Cleanup(func() { stop(); waiting.Wait() })
	waiting.Go(func() { _, _ = exclusive.Exec(waitCtx, "LOCK TABLE w IN ACCESS EXCLUSIVE MODE") })
	waitLocks(t, pg, 1)
	for i, w := range queued {
		waiting.Go(func() { _, _ = w.Exec(waitCtx, "UPDATE w SET id = id WHERE id = 2") })
		waitLocks(t, pg, 2+i)
	}
	watcher := conn("watcher")
	c := &pgCollector{waits: newWaitGraph()}
	check := func(wantAsked int) {
		t.Helper()
		sessions, _, _, changes, err := c.queryActivity(ctx, watcher, -1)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.waits.fill(ctx, watcher, sessions, changes, time.Now()); err != nil {
			t.Fatal(err)
		}
		if c.waits.asked != wantAsked {
			t.Fatalf("asked the server about %d waiters, want %d (reused %d)", c.waits.asked, wantAsked, c.waits.reused)
		}
		for _, s := range sessions {
			if s.WaitEventType != "Lock" {
				continue
			}
			direct := directBlockers(t, watcher, s.PID)
			if !slices.Equal(s.BlockedBy, direct) {
				t.Errorf("pid %d (%s): blocked_by %v, pg_blocking_pids %v", s.PID, s.ApplicationName, s.BlockedBy, direct)
			}
		}
	}
	check(3) // first tick: every waiter is new
	check(0) // nothing changed: the cached answers are still pg_blocking_pids's
	exec(s1, "COMMIT")
	// The exclusive request now waits only for the row lock holder's
	// access share lock... or proceeds: either way its blocker changed and
	// it is asked about again.
	time.Sleep(200 * time.Millisecond)
	sessions, _, _, changes, err := c.queryActivity(ctx, watcher, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.waits.fill(ctx, watcher, sessions, changes, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if s.WaitEventType == "Lock" {
			if direct := directBlockers(t, watcher, s.PID); !slices.Equal(s.BlockedBy, direct) {
				t.Errorf("after a blocker committed, pid %d blocked_by %v, pg_blocking_pids %v", s.PID, s.BlockedBy, direct)
			}
		}
	}
	if c.waits.asked == 0 {
		t.Error("a blocker's commit did not make the wait graph ask again")
	}
}

// connectAs opens a connection named app, closed when the test ends.
func connectAs(t *testing.T, pg *testserver.Postgres, app string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), pg.DSN+"&application_name="+app)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func execAll(t *testing.T, c *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		if _, err := c.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func directBlockers(t *testing.T, c *pgx.Conn, pid int32) []int32 {
	t.Helper()
	var b []int32
	if err := c.QueryRow(context.Background(), "SELECT ARRAY(SELECT unnest(pg_blocking_pids($1)) ORDER BY 1)", pid).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if b == nil {
		b = []int32{}
	}
	return b
}

func waitLocks(t *testing.T, pg *testserver.Postgres, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == fmt.Sprint(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d sessions wait on locks after 10 s", n)
		}
	}
}

// The lock pass must give pg_blocking_pids's answer on the same server
// state, and hand to pg_blocking_pids exactly what it cannot decide: two
// share holders before an exclusive request with a mixed queue behind it,
// a row-lock queue (transaction id and tuple locks), shared and exclusive
// advisory locks, and a lock upgrade (a waiter that holds a mode of the
// same table), which it leaves to pg_blocking_pids.
func TestLockPassMatchesPgBlockingPids(t *testing.T) {
	t.Parallel()
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40})
	pg.Psql(t, "postgres", "CREATE TABLE a (id int); CREATE TABLE u (id int); CREATE TABLE w (id int PRIMARY KEY); INSERT INTO w VALUES (1)")
	ctx := context.Background()
	conn := func(app string) *pgx.Conn { return connectAs(t, pg, app) }
	exec := func(c *pgx.Conn, sqls ...string) { execAll(t, c, sqls...) }
	waitCtx, stop := context.WithCancel(ctx)
	var waiting sync.WaitGroup
	waiters := 0
	// block runs a statement that waits until the test ends; the
	// statement is cancelled and done before its connection closes
	// (cleanups run last-registered first).
	block := func(c *pgx.Conn, sql string) {
		t.Cleanup(func() { stop(); waiting.Wait() })
		waiting.Go(func() { _, _ = c.Exec(waitCtx, sql) })
		waiters++
		waitLocks(t, pg, waiters)
	}
	wait := func(app string, sqls ...string) {
		c := conn(app)
		exec(c, sqls[:len(sqls)-1]...)
		block(c, sqls[len(sqls)-1])
	}
	exec(conn("a-share-1"), "BEGIN", "LOCK TABLE a IN ACCESS SHARE MODE")
	exec(conn("a-share-2"), "BEGIN", "LOCK TABLE a IN ACCESS SHARE MODE")
	wait("a-exclusive", "BEGIN", "LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
	wait("a-share-queued", "BEGIN", "LOCK TABLE a IN ACCESS SHARE MODE")
	wait("a-share-mode-queued", "BEGIN", "LOCK TABLE a IN SHARE MODE")
	exec(conn("w-holder"), "BEGIN", "SELECT * FROM w WHERE id = 1 FOR UPDATE")
	for i := range 3 {
		wait(fmt.Sprintf("w-queued-%d", i), "UPDATE w SET id = id WHERE id = 1")
	}
	exec(conn("adv-shared-1"), "SELECT pg_advisory_lock_shared(42)")
	exec(conn("adv-shared-2"), "SELECT pg_advisory_lock_shared(42)")
	wait("adv-exclusive", "SELECT pg_advisory_lock(42)")
	wait("adv-shared-queued", "SELECT pg_advisory_lock_shared(42)")
	upgrader := conn("u-upgrade")
	exec(upgrader, "BEGIN", "LOCK TABLE u IN ACCESS SHARE MODE")
	exec(conn("u-share"), "BEGIN", "LOCK TABLE u IN ACCESS SHARE MODE")
	block(upgrader, "LOCK TABLE u IN ACCESS EXCLUSIVE MODE")
	for deadline := time.Now().Add(10 * time.Second); pg.Psql(t, "postgres",
		"SELECT count(*) FROM pg_locks WHERE NOT granted AND waitstart IS NULL") != "0"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a waiter's waitstart is still NULL after 10 s")
		}
	}

	watcher := conn("watcher")
	c := &pgCollector{waits: newWaitGraph()}
	c.waits.lockPass = true
	sessions, _, _, changes, err := c.queryActivity(ctx, watcher, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.waits.fill(ctx, watcher, sessions, changes, time.Now()); err != nil {
		t.Fatal(err)
	}
	byApp := map[string][]int32{}
	for _, s := range sessions {
		byApp[s.ApplicationName] = append(byApp[s.ApplicationName], s.PID)
	}
	for _, s := range sessions {
		if s.WaitEventType != "Lock" {
			continue
		}
		if direct := directBlockers(t, watcher, s.PID); !slices.Equal(s.BlockedBy, direct) {
			t.Errorf("%s (pid %d): blocked_by %v, pg_blocking_pids %v", s.ApplicationName, s.PID, s.BlockedBy, direct)
		}
	}
	if c.waits.passes != 1 || c.waits.passed != waiters-1 || c.waits.asked != 1 {
		t.Errorf("first tick: %d lock passes answered %d waiters and pg_blocking_pids %d; want 1 pass answering all %d but the upgrade, which pg_blocking_pids answers",
			c.waits.passes, c.waits.passed, c.waits.asked, waiters-1)
	}
	// The answers name what the states above were built to have, so that
	// a pass and a pg_blocking_pids that agree on nothing cannot pass.
	pid := func(app string) int32 { return byApp[app][0] }
	want := map[string][]int32{
		"a-exclusive":       sortedPIDs([]int32{pid("a-share-1"), pid("a-share-2")}),
		"a-share-queued":    {pid("a-exclusive")},
		"adv-shared-queued": {pid("adv-exclusive")},
		"u-upgrade":         {pid("u-share")},
	}
	for _, s := range sessions {
		if w, ok := want[s.ApplicationName]; ok && !slices.Equal(s.BlockedBy, w) {
			t.Errorf("%s: blocked_by %v, want %v", s.ApplicationName, s.BlockedBy, w)
		}
	}

	// Nothing changed: the next tick asks nothing and reads no lock pass.
	sessions, _, _, changes, err = c.queryActivity(ctx, watcher, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.waits.fill(ctx, watcher, sessions, changes, time.Now()); err != nil {
		t.Fatal(err)
	}
	if c.waits.passes+c.waits.asked != 0 || c.waits.reused != waiters {
		t.Errorf("steady tick: %d passes, %d asked, %d reused; want 0, 0, %d", c.waits.passes, c.waits.asked, c.waits.reused, waiters)
	}
}
