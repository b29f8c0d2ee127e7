package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/drill"
	"github.com/slotwatch/slotwatch/internal/testserver"
	"github.com/slotwatch/slotwatch/recording"
)

// e2eBuffer is a goroutine-safe buffer for a command running in the
// background.
type e2eBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (e *e2eBuffer) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.b.Write(p)
}

func (e *e2eBuffer) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.b.String()
}

// e2eRun runs slotwatch in-process with HOME in a temporary directory, so
// no user config file or environment target leaks in.
func e2eRun(ctx context.Context, t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr e2eBuffer
	home := t.TempDir()
	env := &environment{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}}
	code := run(ctx, env, args)
	return code, stdout.String(), stderr.String()
}

func e2eSnapshot(t *testing.T, config string) snapshotOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, out, errOut := e2eRun(ctx, t, "snapshot", "--json", "--config", config)
	var snap snapshotOutput
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("snapshot --json is not JSON: %v\nstdout: %.500s\nstderr: %s", err, out, errOut)
	}
	return snap
}

func e2eFindingIDs(s snapshotOutput) string {
	var ids []string
	for _, f := range s.Findings {
		ids = append(ids, f.ID)
	}
	return strings.Join(ids, " ")
}

// TestDrillEndToEnd runs the whole loop on throwaway servers: the drill
// reproduces the incident, `snapshot --json` sees each part of it with the
// findings, `terminate` and `redis-kill` free the slots and clients, the
// probe recovers, and the recording of the run becomes a report naming all
// of it. It waits about a minute on purpose: the persistent-connections
// finding needs connections older than analysis.PersistentAfter (60 s).
func TestDrillEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the drill on real servers for about a minute")
	}
	pg := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40, SuperuserReservedConns: 6})
	rds := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 500})
	dir := t.TempDir()
	config := filepath.Join(dir, "slotwatch.yaml")
	audit := filepath.Join(dir, "audit.jsonl")
	rec := filepath.Join(dir, "run.jsonl.gz")
	// The probe connects as the application's role, as the incident's
	// application did: a superuser probe would get in on the reserved slots.
	writeE2EConfig(t, config, pg, rds, audit)

	recCtx, stopRecording := context.WithCancel(context.Background())
	recDone := make(chan int, 1)
	go func() {
		code, _, _ := e2eRun(recCtx, t, "record", "--config", config, "--out", rec)
		recDone <- code
	}()
	defer stopRecording()
	// The recorder's collectors connect on their own goroutines; the drill
	// must not take the slots before they hold theirs.
	e2eWait(t, "the recording's first PostgreSQL sample", func() bool {
		snaps, _, _ := recording.ReadFile(rec)
		return len(snaps) > 0 && snaps[len(snaps)-1].Postgres != nil && snaps[len(snaps)-1].Errors["postgres"] == ""
	})

	ctx := context.Background()
	out := &e2eBuffer{}
	d, err := drill.Start(ctx, drill.Config{PGDSN: pg.DSN, RedisURL: rds.URL, Exhaust: true, RedisEvery: 150 * time.Millisecond,
		RedisClients: 40, StatusEvery: time.Hour, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	plan := d.Plan()
	if ex := d.Status().Exhaust; ex.SQLState != "53300" {
		t.Fatalf("--exhaust did not reach the reserved slots: %+v", ex)
	}

	// Persistent connections only show once they are a minute old.
	var snap snapshotOutput
	deadline := time.Now().Add(2 * time.Minute)
	for {
		snap = e2eSnapshot(t, config)
		if strings.Contains(e2eFindingIDs(snap), "persistent-connections/") && d.Status().RedisOpened == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no persistent-connections finding after 2 minutes: %s", e2eFindingIDs(snap))
		}
		time.Sleep(5 * time.Second)
	}
	checkIncidentSnapshot(t, snap, plan)
	// The finding holds from the moment the sessions are old enough, which
	// the snapshot just saw; the recording must have passed that moment too
	// before anything is terminated, or the report could not know it (on a
	// busy machine the recorder's last sample may be a little older).
	e2eWait(t, "the recording to pass the snapshot that saw the finding", func() bool {
		snaps, _, _ := recording.ReadFile(rec)
		if len(snaps) == 0 || snap.Postgres == nil {
			return false
		}
		last := snaps[len(snaps)-1].Postgres
		return last != nil && last.SampledAt.After(snap.Postgres.SampledAt)
	})

	// Mitigate as the on-call engineer would: the blocker first, then the
	// idle sessions that never age out, then the leaked Redis clients.
	e2eAct(t, "terminate", "--config", config, "--app", "talentflow-web", "--state", "idle in transaction", "--yes")
	// The requests that waited on the blocker's lock go through and their
	// workers become idle: terminate those too.
	e2eWait(t, "the lock waiters to go through", func() bool { return d.Status().ByKind["waiting"] == 0 })
	e2eAct(t, "terminate", "--config", config, "--app", "talentflow-web", "--state", "idle", "--yes")
	e2eAct(t, "redis-kill", "--config", config, "--name", "analytics-cache-*", "--yes")
	e2eWait(t, "the drill to see its sessions and clients gone", func() bool {
		st := d.Status()
		return st.ByKind["idle"] == 0 && st.ByKind["idle in transaction"] <= plan.IdleInTx-1 && st.RedisOpen == 0
	})
	checkRecovered(t, e2eSnapshot(t, config), plan)

	d.Release()
	time.Sleep(time.Second) // let the recording take a snapshot of the release
	stopRecording()
	if code := <-recDone; code != exitOK {
		t.Fatalf("record exited %d", code)
	}
	checkReport(t, rec, audit)
	checkFixedDrill(t, config, pg)
}

func e2eAct(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code, stdout, stderr := e2eRun(ctx, t, args...); code != exitOK {
		t.Fatalf("%v exited %d:\n%s\n%s", args, code, stdout, stderr)
	}
}

func writeE2EConfig(t *testing.T, path string, pg *testserver.Postgres, rds *testserver.Redis, audit string) {
	t.Helper()
	cfg := fmt.Sprintf(`pg: %s
redis: %s
interval: 250ms
audit_log: %s
probe:
  dsn: %s
  interval: 250ms
jobs:
  dsn: %s
  interval: 250ms
  query: |
%s
`, pg.DSN, rds.URL, audit, pg.DSNFor(drill.DefaultRole, drill.DefaultDatabase), pg.DSNFor("postgres", drill.DefaultDatabase),
		// An explicit query: the default one runs only where its tables
		// exist when collection starts, and the drill creates them after
		// the recorder has started.
		"    "+strings.ReplaceAll(strings.TrimSpace(collectors.DefaultJobsQuery), "\n", "\n    "))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func checkIncidentSnapshot(t *testing.T, snap snapshotOutput, plan drill.Plan) {
	t.Helper()
	var idleGroup bool
	for _, g := range snap.Postgres.Groups {
		if g.ApplicationName == drill.AppName && g.Usename == drill.DefaultRole && g.ByState["idle"] >= plan.Idle {
			idleGroup = true
		}
	}
	if !idleGroup {
		t.Errorf("no talentflow-web group with %d idle sessions: %+v", plan.Idle, snap.Postgres.Groups)
	}
	blocked := 0
	for _, s := range snap.Postgres.Sessions {
		if len(s.BlockedBy) > 0 && s.WaitEventType == "Lock" {
			blocked++
		}
	}
	if snap.Postgres.Waiting < plan.Waiters || blocked < plan.Waiters {
		t.Errorf("lock waits: waiting=%d, sessions with blocked_by=%d, want %d", snap.Postgres.Waiting, blocked, plan.Waiters)
	}
	var leak bool
	for _, g := range snap.Redis.Groups {
		if g.Name == "analytics-cache-#" && g.Count == 40 {
			leak = true
		}
	}
	if !leak {
		t.Errorf("no Redis group analytics-cache-# with 40 clients: %+v", snap.Redis.Groups)
	}
	var over bool
	for _, j := range snap.Jobs.OverCapacity {
		if j.ID == fmt.Sprint(drill.BurstJob) && j.Excess > 0 {
			over = true
		}
	}
	if !over {
		t.Errorf("job %d is not over capacity: %+v", drill.BurstJob, snap.Jobs.OverCapacity)
	}
	if snap.Probe == nil || snap.Probe.OK || snap.Probe.SQLState != "53300" {
		t.Errorf("the probe as the application's role should be refused with 53300: %+v", snap.Probe)
	}
	ids := e2eFindingIDs(snap)
	for _, want := range []string{"persistent-connections/", "idle-in-transaction-blocker/", "redis-client-leak/",
		"check-then-insert-race/", "connections-refused/"} {
		if !strings.Contains(ids, want) {
			t.Errorf("findings lack %s: %s", want, ids)
		}
	}
}

func checkRecovered(t *testing.T, snap snapshotOutput, plan drill.Plan) {
	t.Helper()
	if snap.Probe == nil || !snap.Probe.OK {
		t.Errorf("the probe did not recover after the mitigations: %+v", snap.Probe)
	}
	for _, g := range snap.Postgres.Groups {
		// The active sessions are idle for an instant between queries.
		if g.ApplicationName == drill.AppName && g.ByState["idle"] > plan.Active {
			t.Errorf("idle talentflow-web sessions remain: %+v", g)
		}
	}
	if snap.Postgres.Waiting != 0 {
		t.Errorf("%d sessions still wait on locks", snap.Postgres.Waiting)
	}
	for _, g := range snap.Redis.Groups {
		if g.Name == "analytics-cache-#" {
			t.Errorf("leaked Redis clients remain: %+v", g)
		}
	}
}

func checkReport(t *testing.T, rec, audit string) {
	t.Helper()
	snaps, bad, err := recording.ReadFile(rec)
	if err != nil || len(bad) != 0 || len(snaps) < 10 {
		t.Fatalf("recording: %d snapshots, bad lines %v, err %v", len(snaps), bad, err)
	}
	code, md, stderr := e2eRun(context.Background(), t, "report", rec, "--audit", audit)
	if code != exitOK {
		t.Fatalf("report exited %d: %s", code, stderr)
	}
	for _, want := range []string{
		"| talentflow-web | talentflow_drill |", "analytics-cache-#", "| Waiting on a lock |",
		"Senior Backend Engineer", "PostgresRefusingConnections: inactive → firing", "PostgresRefusingConnections: firing → resolved",
		"Persistent connections that never age out", "Redis client leak", "Idle-in-transaction session holding locks others wait on",
		"Over-capacity rows from a check-then-insert race", "New connections refused while slots are reserved",
		"| terminate | ", "| redis-kill | ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", md)
	}
}

// checkFixedDrill runs `slotwatch drill --fixed` itself: the burst meets
// the row lock and the job stays at its limit.
func checkFixedDrill(t *testing.T, config string, pg *testserver.Postgres) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, stdout, stderr := e2eRun(ctx, t, "drill", "--pg", pg.DSN, "--no-redis", "--yes", "--fixed", "--connections", "16", "--duration", "2s")
	if code != exitOK || !strings.Contains(stdout, "the limit holds") || !strings.Contains(stdout, "released") {
		t.Fatalf("drill --fixed exited %d:\n%s\n%s", code, stdout, stderr)
	}
	snap := e2eSnapshot(t, config)
	if snap.Jobs == nil || len(snap.Jobs.OverCapacity) != 0 {
		t.Fatalf("after drill --fixed, jobs over capacity: %+v", snap.Jobs)
	}
	code, _, stderr = e2eRun(ctx, t, "drill", "--pg", pg.DSN, "--no-redis", "--yes", "--database", "postgres", "--duration", "2s")
	if code != exitRefused || !strings.Contains(stderr, "refusing to run: the database postgres exists") {
		t.Fatalf("drill on a database that is not its own exited %d: %s", code, stderr)
	}
}

func e2eWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
