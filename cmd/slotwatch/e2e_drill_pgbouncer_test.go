package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/drill"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestDrillThroughPgBouncerEndToEnd runs `slotwatch drill --through` in
// front of a real pgbouncer (transaction pooling, pool of 5) and reads it
// back with `snapshot --json --pgbouncer`: the drill's clients are the
// pool's cl_active and cl_waiting, PostgreSQL holds no more of the drill's
// backends than the pool, and Ctrl-C releases every client.
func TestDrillThroughPgBouncerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the drill through pgbouncer")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40})
	// The test pgbouncer's pool leads to the server's database postgres:
	// mark it as the drill's own (a throwaway server).
	pg.Psql(t, "postgres", "COMMENT ON DATABASE postgres IS '"+drill.Marker+"'")
	bouncer := testserver.StartPgBouncer(t, pg, testserver.PgBouncerOptions{DefaultPoolSize: 5, Database: "postgres", Users: []string{drill.DefaultRole}})

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var out e2eBuffer
	env := &environment{stdout: &out, stderr: &out, getenv: func(k string) string {
		if k == "HOME" {
			return t.TempDir()
		}
		return ""
	}}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env, []string{"drill", "--pg", pg.DSN, "--through", bouncer.DSNFor("app"), "--database", "postgres",
			"--no-redis", "--yes", "--connections", "20", "--burst", "3", "--duration", "10m"})
	}()
	// The stage is set (the drill holds its sessions) before the pools are read.
	e2eWait(t, "the drill to hold its sessions", func() bool { return strings.Contains(out.String(), "holding: 20 sessions") })
	if !strings.Contains(out.String(), "over capacity") {
		t.Errorf("the burst through the pooler did not go over capacity:\n%s", out.String())
	}
	var pool struct{ active, waiting, servers int }
	e2eWait(t, "the drill's clients waiting in pgbouncer", func() bool {
		snap := e2eSnapshotArgs(t, "--pgbouncer", bouncer.AdminDSN)
		if snap.PgBouncer == nil {
			return false
		}
		for _, p := range snap.PgBouncer.Pools {
			if p.User == drill.DefaultRole {
				pool.active, pool.waiting, pool.servers = p.ClActive, p.ClWaiting, p.SvActive+p.SvIdle+p.SvUsed
			}
		}
		return pool.waiting > 0 && pool.active+pool.waiting == 20
	})
	if pool.servers > 5 {
		t.Fatalf("the pool holds %d server connections, more than its size 5", pool.servers)
	}
	if n, _ := strconv.Atoi(pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = '"+drill.DefaultRole+"'")); n > 5 {
		t.Fatalf("PostgreSQL holds %d backends of the drill's role behind a pool of 5", n)
	}
	stop()
	defer func() { t.Logf("drill output:\n%s", out.String()) }()
	if code := <-done; code != exitOK || !strings.Contains(out.String(), "through the pooler at 127.0.0.1:") ||
		!strings.Contains(out.String(), "released 20 PostgreSQL sessions") {
		t.Fatalf("drill: exit %d\n%s", code, out.String())
	}
	// pgbouncer rolls back and resets a server connection after its client
	// has gone, on its own schedule: the released drill leaves every
	// backend idle once pgbouncer has caught up, not at the same instant.
	busy := ""
	deadline := time.Now().Add(20 * time.Second)
	for busy = pgBusy(t, pg); busy != "0" && time.Now().Before(deadline); busy = pgBusy(t, pg) {
		time.Sleep(100 * time.Millisecond)
	}
	if busy != "0" {
		t.Errorf("20 s after the drill, %s of its backends are still busy", busy)
	}
}

// TestDrillThroughRefusesExhaust: --exhaust takes PostgreSQL's slots,
// which clients of a pooler do not hold.
func TestDrillThroughRefusesExhaust(t *testing.T) {
	code, _, errOut := e2eRun(context.Background(), t, "drill", "--pg", "postgres://x@127.0.0.1:1/db", "--through", "postgres://127.0.0.1:1/db",
		"--exhaust", "--no-redis")
	if code != exitUsage || !strings.Contains(errOut, "exhausting takes PostgreSQL's slots") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// e2eSnapshotArgs is `snapshot --json` with args.
func e2eSnapshotArgs(t *testing.T, args ...string) snapshotOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, out, errOut := e2eRun(ctx, t, append([]string{"snapshot", "--json"}, args...)...)
	var snap snapshotOutput
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("snapshot --json is not JSON: %v\nstdout: %.500s\nstderr: %s", err, out, errOut)
	}
	return snap
}

// pgBusy counts the drill role's backends that are not idle.
func pgBusy(t *testing.T, pg *testserver.Postgres) string {
	return pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = '"+drill.DefaultRole+"' AND state <> 'idle'")
}
