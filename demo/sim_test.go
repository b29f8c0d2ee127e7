package demo

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

func TestInitialSnapshotIsTheIncident(t *testing.T) {
	s := New(Options{Seed: 7})
	snap := s.Snapshot()
	if !snap.TakenAt.Equal(DefaultStart) {
		t.Errorf("taken at %s, want %s", snap.TakenAt, DefaultStart)
	}
	pg := snap.Postgres
	if pg.MaxConnections != 100 || pg.SuperuserReservedConnections != 3 || pg.Usable() != 97 {
		t.Errorf("slots %d max, %d reserved, %d usable; want 100, 3, 97", pg.MaxConnections, pg.SuperuserReservedConnections, pg.Usable())
	}
	want := map[string]int{"active": 16, "idle": 77, "idle in transaction": 3}
	if pg.Total != 96 || len(pg.Sessions) != 96 || len(pg.ByState) != 3 {
		t.Fatalf("total %d, %d sessions, by state %v; want 96 sessions %v", pg.Total, len(pg.Sessions), pg.ByState, want)
	}
	for st, n := range want {
		if pg.ByState[st] != n {
			t.Errorf("%s: %d, want %d", st, pg.ByState[st], n)
		}
	}
	if pg.Waiting != 12 {
		t.Errorf("waiting %d, want 12", pg.Waiting)
	}
	byPID := map[int32]collectors.Session{}
	for _, x := range pg.Sessions {
		byPID[x.PID] = x
	}
	idle := 0
	for _, x := range pg.Sessions {
		if x.ApplicationName != "talentflow-web" || x.Usename != "talentflow" || x.Datname != "talentflow" || !strings.HasPrefix(x.ClientAddr, "10.0.3.") {
			t.Errorf("pid %d is not a web session: %+v", x.PID, x)
		}
		if x.Query == "" || x.BackendStart.IsZero() {
			t.Errorf("pid %d lacks query or backend_start", x.PID)
		}
		switch {
		case x.State == "idle":
			idle++
			if x.StateSeconds < 12*60 || x.BackendSeconds < 3600 {
				t.Errorf("idle pid %d: idle %.0fs, connected %.0fs; want 12+ minutes idle on an old connection", x.PID, x.StateSeconds, x.BackendSeconds)
			}
		case x.WaitEventType == "Lock":
			if len(x.BlockedBy) != 1 || byPID[x.BlockedBy[0]].State != "idle in transaction" {
				t.Errorf("waiting pid %d blocked by %v, want one idle-in-transaction session", x.PID, x.BlockedBy)
			}
		}
	}
	if idle != 77 {
		t.Errorf("%d idle web sessions, want 77", idle)
	}
	pr := snap.Probe
	if pr.OK || pr.SQLState != "53300" || !strings.Contains(pr.Error, "remaining connection slots are reserved for non-replication superuser connections") {
		t.Errorf("probe %+v, want refused with 53300", pr)
	}
	rs := snap.Redis
	if rs.ConnectedClients != 45 || rs.MaxClients != 200 || rs.RejectedConnections != 0 {
		t.Errorf("redis %d/%d clients, %d rejected; want 45/200, 0", rs.ConnectedClients, rs.MaxClients, rs.RejectedConnections)
	}
	// Every client but the steady ones (pooled and slotwatch's) is leaked.
	if g := rs.Groups[0]; g.Name != "analytics-cache-#" || g.LibName != "redis-py" || g.Count != 45-steadyClients {
		t.Errorf("largest Redis group %+v, want %d analytics-cache-# redis-py clients", g, 45-steadyClients)
	}
	if j := snap.Jobs.OverCapacity; len(j) != 1 || j[0].ID != "12345" || j[0].Count != 58 || j[0].Limit != 50 || j[0].Excess != 8 {
		t.Errorf("jobs %+v, want job 12345 at 58 of 50", j)
	}
}

func TestRedisClimbsOverTheHour(t *testing.T) {
	s := New(Options{Seed: 3})
	for _, want := range []int64{78, 112, 156, 192} {
		s.Advance(15 * time.Minute)
		if got := s.Snapshot().Redis.ConnectedClients; got != want {
			t.Fatalf("at %s: %d clients, want %d", s.Now().Format("15:04"), got, want)
		}
	}
	// Past maxclients the leak's new connections are rejected.
	s.Advance(30 * time.Minute)
	rs := s.Snapshot().Redis
	if rs.ConnectedClients != 200 || rs.RejectedConnections == 0 {
		t.Fatalf("after 90 minutes: %d clients, %d rejected; want 200 and rejections", rs.ConnectedClients, rs.RejectedConnections)
	}
}

// Small steps and one big step give the same world.
func TestDeterministic(t *testing.T) {
	a, b := New(Options{Seed: 42}), New(Options{Seed: 42})
	for range 60 {
		a.Advance(time.Minute)
	}
	b.Advance(time.Hour)
	ja, _ := json.Marshal(a.Snapshot())
	jb, _ := json.Marshal(b.Snapshot())
	if string(ja) != string(jb) {
		t.Fatal("the same seed gave different snapshots")
	}
	c := New(Options{Seed: 43})
	c.Advance(time.Hour)
	jc, _ := json.Marshal(c.Snapshot())
	if string(jc) == string(ja) {
		t.Fatal("a different seed gave the same snapshot")
	}
	if c.Snapshot().Postgres.Total != 96 || c.Snapshot().Redis.ConnectedClients != 192 {
		t.Fatal("the incident's numbers depend on the seed")
	}
}

func service(s *Sim) *actions.Service {
	p := actions.DefaultPolicy()
	p.BatchInterval = 0
	return actions.NewService(s.PGDriver(), s.RedisDriver(), p, nil, actions.Operator{User: "test"})
}

func alertStates(f analysis.Frame) map[string]analysis.AlertState {
	m := map[string]analysis.AlertState{}
	for _, a := range f.Alerts {
		m[a.Name] = a.State
	}
	return m
}

// The training loop: terminate the idle web sessions through the real
// actions service; they disappear, the probe recovers and the alerts
// resolve.
func TestTerminateFreesSlotsAndResolvesAlerts(t *testing.T) {
	ctx := context.Background()
	s := New(Options{Seed: 1})
	p := analysis.NewPipeline(analysis.DefaultRules())
	for range 3 {
		p.Step(s.Snapshot())
		s.Advance(time.Minute)
	}
	if st := alertStates(p.Step(s.Snapshot())); st[analysis.RulePGConnectionLimit] != analysis.Firing || st[analysis.RulePGRefusing] != analysis.Firing {
		t.Fatalf("alerts before the mitigation: %v", st)
	}
	svc := service(s)
	plan, err := svc.PreviewSessions(ctx, actions.SessionRequest{Kind: actions.Terminate,
		Filter: actions.SessionFilter{App: "talentflow-web", States: []string{"idle"}, IdleOver: 10 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 77 {
		t.Fatalf("preview has %d targets, want the 77 idle web sessions", len(plan.Targets))
	}
	rep, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Outcome != actions.Done {
			t.Fatalf("pid %d: %s %s", r.ID, r.Outcome, r.Reason)
		}
	}
	s.Advance(10 * time.Second)
	snap := s.Snapshot()
	if snap.Postgres.Total != 19 || snap.Postgres.ByState["idle"] != 0 {
		t.Fatalf("after terminate: %d sessions %v, want 19 and no idle", snap.Postgres.Total, snap.Postgres.ByState)
	}
	if !snap.Probe.OK {
		t.Fatalf("probe still refused: %+v", snap.Probe)
	}
	st := alertStates(p.Step(snap))
	if st[analysis.RulePGConnectionLimit] != analysis.Resolved || st[analysis.RulePGRefusing] != analysis.Resolved {
		t.Fatalf("alerts after the mitigation: %v", st)
	}
	// Terminated sessions stay dead.
	again, err := s.PGDriver().Signal(ctx, actions.Terminate, plan.Targets[:1], actions.SessionFilter{}, actions.Protection{})
	if err != nil || again[0].Outcome != actions.Gone {
		t.Fatalf("terminating a dead pid: %+v, %v; want already gone", again, err)
	}
}

func blocker(t *testing.T, snap collectors.Snapshot) collectors.Session {
	t.Helper()
	for _, x := range snap.Postgres.Sessions {
		if x.State == "idle in transaction" && strings.HasPrefix(x.Query, "UPDATE") {
			return x
		}
	}
	t.Fatal("no blocker")
	return collectors.Session{}
}

func backendOf(t *testing.T, s *Sim, pid int32) actions.Backend {
	t.Helper()
	bs, err := s.PGDriver().Backends(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.PID == pid {
			return b
		}
	}
	t.Fatalf("no backend %d", pid)
	return actions.Backend{}
}

func TestTerminateBlockerReleasesWaiters(t *testing.T) {
	ctx := context.Background()
	s := New(Options{Seed: 5})
	b := blocker(t, s.Snapshot())
	d := s.PGDriver()

	// Cancel does nothing to an idle-in-transaction session.
	res, err := d.Signal(ctx, actions.Cancel, []actions.Backend{backendOf(t, s, b.PID)}, actions.SessionFilter{PIDs: []int32{b.PID}}, actions.Protection{})
	if err != nil || res[0].Outcome != actions.Done || !strings.Contains(res[0].Reason, "no effect") {
		t.Fatalf("cancel: %+v, %v", res, err)
	}
	if s.Snapshot().Postgres.Waiting != 12 {
		t.Fatal("cancel of the blocker released its waiters")
	}
	res, err = d.Signal(ctx, actions.Terminate, []actions.Backend{backendOf(t, s, b.PID)}, actions.SessionFilter{PIDs: []int32{b.PID}}, actions.Protection{})
	if err != nil || res[0].Outcome != actions.Done {
		t.Fatalf("terminate: %+v, %v", res, err)
	}
	snap := s.Snapshot()
	if snap.Postgres.Waiting != 0 || snap.Postgres.ByState["idle in transaction"] != 2 || snap.Postgres.ByState["idle"] != 77+12 {
		t.Fatalf("after terminating the blocker: waiting %d, %v", snap.Postgres.Waiting, snap.Postgres.ByState)
	}
	_, fs := analysis.Once(snap)
	for _, f := range fs {
		if strings.HasPrefix(f.ID, analysis.FindingIdleInTxBlocker) {
			t.Fatalf("blocker finding survives its blocker: %+v", f)
		}
	}
}

// Signal re-checks identity, state and filter at execution time.
func TestSignalRechecks(t *testing.T) {
	ctx := context.Background()
	s := New(Options{Seed: 9})
	var idle, running collectors.Session
	for _, x := range s.Snapshot().Postgres.Sessions {
		switch {
		case x.State == "idle" && idle.PID == 0:
			idle = x
		case x.State == "active" && x.WaitEventType == "" && running.PID == 0:
			running = x
		}
	}
	d := s.PGDriver()
	stale := backendOf(t, s, idle.PID)
	stale.BackendStart = stale.BackendStart.Add(-time.Second) // pid reused since the preview
	other := backendOf(t, s, idle.PID)
	other.State = "active" // previewed in another state
	res, err := d.Signal(ctx, actions.Terminate, []actions.Backend{stale, other, backendOf(t, s, idle.PID)},
		actions.SessionFilter{App: "other-app"}, actions.Protection{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"another backend", "state is now", "no longer matches"} {
		if res[i].Outcome != actions.Skipped || !strings.Contains(res[i].Reason, want) {
			t.Errorf("result %d: %+v, want skipped: %s", i, res[i], want)
		}
	}
	if s.Snapshot().Postgres.Total != 96 {
		t.Fatal("a skipped target was signalled")
	}
	// Cancel of a running statement ends it: the session goes idle.
	res, err = d.Signal(ctx, actions.Cancel, []actions.Backend{backendOf(t, s, running.PID)}, actions.SessionFilter{App: "talentflow-*"}, actions.Protection{})
	if err != nil || res[0].Outcome != actions.Done || res[0].Reason != "" {
		t.Fatalf("cancel running: %+v, %v", res, err)
	}
	if got := s.Snapshot().Postgres.ByState; got["active"] != 15 || got["idle"] != 78 {
		t.Fatalf("after cancel: %v", got)
	}
}

// Killing leaked clients is relief, not a fix: the leak keeps opening them.
func TestRedisKillIsReliefNotAFix(t *testing.T) {
	ctx := context.Background()
	s := New(Options{Seed: 11})
	s.Advance(30 * time.Minute)
	host := s.Snapshot().Redis.Groups[0].Host
	svc := service(s)
	plan, err := svc.PreviewRedis(ctx, actions.RedisFilter{Host: host, Name: "analytics-cache-*"})
	if err != nil {
		t.Fatal(err)
	}
	// 112 clients at 30 minutes, as in the incident, of which the steady
	// ones (pooled and slotwatch's) are not leaked.
	if want := 112 - steadyClients; len(plan.Targets) != want {
		t.Fatalf("%d targets, want the %d leaked clients", len(plan.Targets), want)
	}
	if _, err := svc.ExecuteRedis(ctx, plan); err != nil {
		t.Fatal(err)
	}
	rs := s.Snapshot().Redis
	if rs.ConnectedClients != steadyClients {
		t.Fatalf("%d clients after the kill, want %d", rs.ConnectedClients, steadyClients)
	}
	s.Advance(15 * time.Minute)
	if got := s.Snapshot().Redis.ConnectedClients; got != steadyClients+(156-112) {
		t.Fatalf("%d clients 15 minutes after the kill, want the leak to have reopened 44", got)
	}
	if ok, err := s.RedisDriver().Kill(ctx, plan.Targets[0]); ok || err != nil {
		t.Fatalf("killing a killed client: %v, %v; want already gone", ok, err)
	}
	if ok, _ := s.RedisDriver().Kill(ctx, collectors.RedisClient{ID: s.RedisDriver().OwnID()}); ok {
		t.Fatal("the driver killed its own connection")
	}
}

func TestRunPublishesAdvancingSnapshots(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := New(Options{Seed: 2, Interval: 5 * time.Millisecond, Speed: 12000}) // a minute per tick
	mb := collectors.NewMailbox()
	done := make(chan struct{})
	go func() { s.Run(ctx, mb); close(done) }()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-mb.Ready():
			snap, _ := mb.Take()
			if snap.TakenAt.Sub(DefaultStart) >= 3*time.Minute {
				cancel()
				<-done
				return
			}
		case <-deadline:
			cancel()
			t.Fatal("Run published no snapshot three simulated minutes in")
		}
	}
}

func BenchmarkSimSnapshot(b *testing.B) {
	s := New(Options{Seed: 1})
	s.Advance(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		s.Advance(time.Second)
		if s.Snapshot().Postgres.Total != 96 {
			b.Fatal("wrong snapshot")
		}
	}
}

// The Redis timeout guard closes leaked clients idle longer than it and
// bounds the leak; a PostgreSQL role guard is recorded but, like the real
// ALTER ROLE … SET, leaves the sessions already open alone.
func TestGuards(t *testing.T) {
	ctx := context.Background()
	s := New(Options{Seed: 4})
	s.Advance(30 * time.Minute)
	svc := service(s)
	plan, err := svc.PreviewGuardSet(ctx, actions.GuardRequest{Setting: actions.GuardRedisTimeout, Value: "300"})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Current == nil || *plan.Current != "0" {
		t.Fatalf("current timeout %v, want 0", plan.Current)
	}
	if res, err := svc.ExecuteGuard(ctx, plan); err != nil || res.Outcome != actions.Done {
		t.Fatalf("set timeout: %+v, %v", res, err)
	}
	s.Advance(time.Second)
	// Leaked clients opened in the last 300 s survive: about 2.3 a minute.
	got := s.Snapshot().Redis.ConnectedClients
	if got < steadyClients+10 || got > steadyClients+13 {
		t.Fatalf("%d clients after timeout 300, want the steady %d plus the last five minutes' leak", got, steadyClients)
	}
	s.Advance(30 * time.Minute)
	if got := s.Snapshot().Redis.ConnectedClients; got > steadyClients+13 {
		t.Fatalf("%d clients 30 minutes later: the timeout should bound the leak", got)
	}

	gp, err := svc.PreviewGuardSet(ctx, actions.GuardRequest{Setting: actions.GuardIdleInTransaction, Role: "talentflow", Value: "60s"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := svc.ExecuteGuard(ctx, gp); err != nil || res.Outcome != actions.Done {
		t.Fatalf("set idle_in_transaction_session_timeout: %+v, %v", res, err)
	}
	vals, err := svc.ShowGuards(ctx, "talentflow")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range vals {
		if v.Setting == actions.GuardIdleInTransaction && v.Value != nil && *v.Value == "60s" {
			found = true
		}
	}
	if !found {
		t.Fatalf("guard not shown: %+v", vals)
	}
	if n := s.Snapshot().Postgres.ByState["idle in transaction"]; n != 3 {
		t.Fatalf("%d sessions idle in transaction after the role guard, want the 3 already open", n)
	}
	if _, err := svc.PreviewGuardSet(ctx, actions.GuardRequest{Setting: actions.GuardIdleSession, Role: "nobody", Value: "5min"}); err == nil {
		t.Fatal("a guard on a missing role was accepted")
	}
}

// Run, the drivers and Snapshot may be used from different goroutines (run
// with -race to check).
func TestConcurrentUse(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := New(Options{Seed: 8, Interval: time.Millisecond, Speed: 1000})
	go s.Run(ctx, collectors.NewMailbox())
	svc := service(s)
	plan, err := svc.PreviewRedis(ctx, actions.RedisFilter{Name: "analytics-cache-*"})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := svc.PreviewSessions(ctx, actions.SessionRequest{Kind: actions.Terminate, Filter: actions.SessionFilter{States: []string{"idle"}, App: "talentflow-web"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { _, err := svc.ExecuteRedis(ctx, plan); done <- err }()
	go func() { _, err := svc.ExecuteSessions(ctx, sp); done <- err }()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Snapshot().Postgres.ByState["idle"]; n != 0 {
		t.Fatalf("%d idle sessions left", n)
	}
}
