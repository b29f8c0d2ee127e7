package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// findingsFrame is the incident frame with findings as the analysis fills
// them: evidence, fix, since and suggested mitigations of each kind.
func findingsFrame(t testing.TB) analysis.Frame {
	f := incidentFrame(t)
	at := f.Snapshot.TakenAt
	f.Findings = []analysis.Finding{
		{ID: "redis-client-leak", Severity: "warning", Title: "Redis clients from one host grow without reuse",
			About: "10.0.2.21 redis-py", Since: at.Add(-9 * time.Minute),
			Evidence: []string{"170 clients from 10.0.2.21 (redis-py), +4.2 per minute over 10m, never fewer",
				"total_connections_received climbs with them: a new client per call, each used once and idle since"},
			Fix: []string{"create one connection pool at start-up and share it instead of redis.from_url per request",
				"stop-gap: the Redis timeout guard closes clients idle for more than 300 s"},
			Mitigations: []analysis.Mitigation{
				{Kind: analysis.KillRedisClients, Label: "kill the 170 clients of 10.0.2.21 redis-py", RedisHost: "10.0.2.21", RedisLib: "redis-py"},
				{Kind: analysis.SetRedisTimeout, Label: "set Redis timeout 300", Setting: "redis-timeout", Value: "300"},
			}},
		{ID: "persistent-connections", Severity: "critical", Title: "Persistent connections that never age out",
			About: "talentflow-web / user talentflow_app / db talentflow", Since: at.Add(-12*time.Minute - 30*time.Second),
			Evidence: []string{"77 of 92 sessions are idle, 70 of them for more than 10m, on connections 2h to 6h old",
				"talentflow-web holds 86 of 97 usable slots (89%) from 4 client addresses",
				"connections are reused, never closed: 13 were used again after they were 60 s old"},
			Fix: []string{"Django: CONN_MAX_AGE=60 and CONN_HEALTH_CHECKS=True (or Django 5.1 pooling)",
				"guard first, then terminate: idle_session_timeout applies only to sessions started after it is set"},
			Mitigations: []analysis.Mitigation{
				{Kind: analysis.TerminateSessions, Label: "terminate talentflow-web idle > 10m", App: "talentflow-web",
					User: "talentflow_app", DB: "talentflow", States: []string{"idle"}, IdleOver: 10 * time.Minute},
				{Kind: analysis.SetPGGuard, Label: "set idle_session_timeout = 5min for role talentflow_app",
					Setting: "idle_session_timeout", Role: "talentflow_app", Value: "5min"},
			}},
		{ID: "idle-in-transaction-blocker", Severity: "critical", Title: "Idle-in-transaction session holding locks others wait on",
			About: "pid 20639 (talentflow-web, user talentflow_app)", Since: at.Add(-3 * time.Minute),
			Evidence: []string{"pid 20639 idle in transaction for 3m12s blocks 5 sessions waiting on a Lock"},
			Fix:      []string{"end the transaction in the application; idle_in_transaction_session_timeout guard"},
			Mitigations: []analysis.Mitigation{
				{Kind: analysis.TerminateSessions, Label: "terminate blocker pid 20639", PIDs: []int32{20639}},
			}},
		{ID: "check-then-insert-race", Severity: "warning", Title: "Job over its application limit (check-then-insert race)",
			About: "job 12345", Since: at.Add(-3 * time.Minute),
			Evidence: []string{"job 12345 has 58 applications against a limit of 50 (8 over)"},
			Fix:      []string{"lock the job row (SELECT … FOR UPDATE) before counting, or enforce the limit in the database"}},
	}
	return f
}

// TestGoldenFindings pins the findings view at the minimum and a war-room
// size, and at 80×24 with the third finding selected (the view scrolls).
func TestGoldenFindings(t *testing.T) {
	cases := map[string]struct {
		w, h int
		keys []string
	}{
		"80x24":           {80, 24, []string{"f"}},
		"200x50":          {200, 50, []string{"f"}},
		"80x24-third":     {80, 24, []string{"f", "down", "down"}},
		"80x24-read-only": {80, 24, []string{"f", "m"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			mit := &fakeMitigator{readOnly: strings.HasSuffix(name, "read-only")}
			m := newTestModel(t, Options{Mitigator: mit}, findingsFrame(t), c.w, c.h)
			for _, k := range c.keys {
				m = update(m, keyMsg(k))
			}
			checkScreen(t, m.View(), c.w, c.h)
			golden.RequireEqual(t, []byte(m.View()))
		})
	}
}

// TestGoldenFullPredicate pins the group terminate dialog: the whole
// predicate with its count, wrapped at 80 columns and on one line at 200.
func TestGoldenFullPredicate(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			frame := incidentFrame(t)
			mit := &fakeMitigator{sessions: frame.Snapshot.Postgres.Sessions}
			m := newTestModel(t, Options{Mitigator: mit}, frame, size[0], size[1])
			m = update(m, keyMsg("tab")) // the groups pane
			next, cmd := m.Update(keyMsg("G"))
			m = update(next.(Model), runCmd(cmd))
			if m.mode != modeConfirm {
				t.Fatalf("G on a group should open the dialog, mode %d", m.mode)
			}
			v := m.View()
			checkScreen(t, v, size[0], size[1])
			flat := strings.Join(strings.Fields(v), " ")
			want := fmt.Sprintf("Predicate: state in (idle), in state over 10m0s, application = talentflow-web, user = talentflow_app, database = talentflow → %d session(s) match, 1 excluded by the safety policy",
				len(m.confirm.session().Targets))
			if !strings.Contains(flat, want) {
				t.Fatalf("the dialog must show the whole predicate with its count %q:\n%s", want, v)
			}
			golden.RequireEqual(t, []byte(v))
		})
	}
}

// startFindingsFlow runs the dashboard in a teatest program showing the
// findings frame.
func startFindingsFlow(t *testing.T, mit Mitigator, w, h int) *teatest.TestModel {
	t.Helper()
	opts := Options{Mitigator: mit, Now: func() time.Time { return fixedNow }}
	tm := teatest.NewTestModel(t, New(context.Background(), opts, asciiRenderer()), teatest.WithInitialTermSize(w, h))
	tm.Send(frameMsg{frame: findingsFrame(t)})
	waitFor(t, tm, "Sessions 92")
	return tm
}

// TestFlowFindingToTerminate: f opens the findings, m previews the first
// finding's suggested terminate, y runs exactly that scope, and the view
// returns to the findings.
func TestFlowFindingToTerminate(t *testing.T) {
	mit := &fakeMitigator{sessions: incidentFrame(t).Snapshot.Postgres.Sessions}
	tm := startFindingsFlow(t, mit, 80, 24)
	tm.Type("f")
	waitFor(t, tm, "Findings 4", "[m] terminate talentflow-web idle > 10m")
	tm.Type("m")
	waitFor(t, tm, "CONFIRM TERMINATE of 77 session(s)", "application = talentflow-web,")
	mit.mu.Lock()
	ran := len(mit.executed)
	mit.mu.Unlock()
	if ran != 0 {
		t.Fatal("nothing may run before y")
	}
	tm.Type("y")
	waitFor(t, tm, "terminate: 77 done")
	m := finish(t, tm)
	if m.mode != modeFindings {
		t.Fatalf("after the answer the findings view should be back, mode %d", m.mode)
	}
	mit.mu.Lock()
	defer mit.mu.Unlock()
	if len(mit.executed) != 1 {
		t.Fatalf("want one execution, got %d", len(mit.executed))
	}
	f := mit.executed[0].Request.Filter
	if mit.executed[0].Request.Kind != actions.Terminate || f.App != "talentflow-web" || f.User != "talentflow_app" ||
		f.DB != "talentflow" || f.Client != "" || f.IdleOver != 10*time.Minute || !slices.Equal(f.States, []string{"idle"}) {
		t.Fatalf("the mitigation's scope was not what ran: %+v", mit.executed[0].Request)
	}
}

// TestFlowFindingGuardDeclined: 2 previews the finding's second action (a
// role guard); n declines it, recorded, and nothing is set.
func TestFlowFindingGuardDeclined(t *testing.T) {
	mit := &fakeMitigator{}
	tm := startFindingsFlow(t, mit, 120, 40)
	tm.Type("f")
	waitFor(t, tm, "[2] set idle_session_timeout = 5min for role talentflow_app")
	tm.Type("2")
	waitFor(t, tm, "CONFIRM GUARD idle_session_timeout for role talentflow_app", "New:       5min",
		`ALTER ROLE "talentflow_app" SET idle_session_timeout = '5min'`)
	tm.Type("n")
	waitFor(t, tm, "Declined guard idle_session_timeout: nothing was changed.")
	finish(t, tm)
	mit.mu.Lock()
	defer mit.mu.Unlock()
	if len(mit.guards) != 0 || len(mit.guardsDeclined) != 1 {
		t.Fatalf("a declined guard must not run and must be recorded: ran %d declined %d", len(mit.guards), len(mit.guardsDeclined))
	}
	if p := mit.guardsDeclined[0]; p.Setting != "idle_session_timeout" || p.Role != "talentflow_app" || *p.New != "5min" {
		t.Fatalf("declined plan %+v", p)
	}
}

// TestFlowFindingGuardRuns: y on a Redis timeout suggestion sets it.
func TestFlowFindingGuardRuns(t *testing.T) {
	mit := &fakeMitigator{}
	tm := startFindingsFlow(t, mit, 120, 40)
	tm.Type("f")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("down"))
	waitFor(t, tm, "3 of 4", "[2] set Redis timeout 300")
	tm.Type("2")
	waitFor(t, tm, "CONFIRM GUARD redis-timeout", "CONFIG SET timeout 300", "New:       300s")
	tm.Type("y")
	waitFor(t, tm, "guard redis-timeout set to 300")
	finish(t, tm)
	mit.mu.Lock()
	defer mit.mu.Unlock()
	if len(mit.guards) != 1 || mit.guards[0].Setting != actions.GuardRedisTimeout || mit.guards[0].Role != "" {
		t.Fatalf("want the Redis timeout set once, got %+v", mit.guards)
	}
}

// TestFindingMitigationRequests checks each kind of suggestion turns into
// the request it describes, and that one without a scope runs nothing.
func TestFindingMitigationRequests(t *testing.T) {
	frame := findingsFrame(t)
	clients := frame.Snapshot.Redis.Clients
	mit := &fakeMitigator{sessions: frame.Snapshot.Postgres.Sessions, clients: clients}
	m := newTestModel(t, Options{Mitigator: mit}, frame, 120, 40)
	m = update(m, keyMsg("f"))

	// The blocker: exactly its pid, narrowed to the backend on screen.
	m = update(m, keyMsg("down"))
	next, cmd := m.Update(keyMsg("m"))
	plan := cmd().(planMsg)
	if !slices.Equal(plan.plan.(actions.SessionPlan).Request.Filter.PIDs, []int32{20639}) || plan.narrow == nil {
		t.Fatalf("blocker mitigation: %+v", plan.plan.(actions.SessionPlan).Request)
	}
	if keepsBackend(plan.narrow, actions.Backend{PID: 20639, BackendStart: time.Unix(1, 0)}) {
		t.Fatal("a reused pid (other backend_start) must be left out")
	}
	if !keepsBackend(plan.narrow, actions.Backend{PID: 20639, BackendStart: sessionStart(frame, 20639)}) {
		t.Fatal("the blocker on screen must be kept")
	}
	m = next.(Model)

	// The Redis group: host and library exact.
	m = update(m, keyMsg("down"))
	_, cmd = m.Update(keyMsg("m"))
	rp := cmd().(planMsg)
	if rp.plan.(actions.RedisPlan).Filter.Host != "10.0.2.21" || rp.plan.(actions.RedisPlan).Filter.Lib != "redis-py" || rp.plan.(actions.RedisPlan).Filter.Name != "" {
		t.Fatalf("redis mitigation filter %+v", rp.plan.(actions.RedisPlan).Filter)
	}
	if keepsClient(rp.narrow, collectors.RedisClient{Name: "worker-1"}) || !keepsClient(rp.narrow, collectors.RedisClient{}) {
		t.Fatal("a group of unnamed clients must not take the host's named clients with it")
	}

	// The job race suggests nothing slotwatch can run.
	m = update(m, keyMsg("down"))
	next, cmd = m.Update(keyMsg("m"))
	if cmd != nil || !strings.Contains(next.(Model).footer.text, "suggests no action") {
		t.Fatalf("a finding without mitigations must say so and run nothing, footer %q", next.(Model).footer.text)
	}
	next, cmd = m.Update(keyMsg("5"))
	if cmd != nil || next.(Model).mode != modeFindings {
		t.Fatal("a number beyond the suggestions must do nothing")
	}
	_, _, ok := m.mitigationSessions(analysis.Mitigation{Kind: analysis.TerminateSessions, States: []string{"idle"}})
	if ok {
		t.Fatal("a terminate suggestion with no scope must not become a request")
	}
	f, narrow, ok := mitigationRedis(analysis.Mitigation{RedisName: "analytics-cache-#"})
	if !ok || f.Name != "analytics-cache-*" || narrow(collectors.RedisClient{Name: "analytics-cache-17"}) == false ||
		narrow(collectors.RedisClient{Name: "analytics-cache-x"}) {
		t.Fatalf("a folded name matches the group's clients only: %+v", f)
	}
}

func sessionStart(f analysis.Frame, pid int32) time.Time {
	for _, s := range f.Snapshot.Postgres.Sessions {
		if s.PID == pid {
			return s.BackendStart
		}
	}
	return time.Time{}
}

// TestEnterOnFindingLine: Tab reaches the header's finding lines, which show
// the cursor; Enter opens the findings view on that finding.
func TestEnterOnFindingLine(t *testing.T) {
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, findingsFrame(t), 120, 40)
	for range 3 {
		m = update(m, keyMsg("tab"))
	}
	if m.focus != focusFindings {
		t.Fatalf("three tabs should reach the finding lines, focus %d", m.focus)
	}
	m = update(m, keyMsg("down"))
	if !strings.Contains(m.View(), "> FINDING CRITICAL Idle-in-transaction") {
		t.Fatalf("the cursor should be on the second finding line:\n%s", m.View())
	}
	m = update(m, keyMsg("enter"))
	if m.mode != modeFindings || !strings.Contains(m.View(), "2 of 4") {
		t.Fatalf("enter should open the findings view on the second finding:\n%s", m.View())
	}
	m = update(m, keyMsg("esc"))
	if m.mode != modeNormal {
		t.Fatalf("esc should leave the findings view, mode %d", m.mode)
	}
}

// TestFindingsListExternalAlerts: the team's alerts follow the findings,
// marked EXTERNAL; when external alerting stops answering the view says so.
func TestFindingsListExternalAlerts(t *testing.T) {
	f := findingsFrame(t)
	f.Snapshot.Alerting = externalFrame(t).Snapshot.Alerting
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, f, 200, 50)
	m = update(update(m, keyMsg("f")), keyMsg("end"))
	v := m.View()
	checkScreen(t, v, 200, 50)
	for _, want := range []string{"External alerts (2) · the team's Alertmanager/Prometheus",
		"  EXTERNAL FIRING PGConnectionsHigh since 15:40:00 (6m00s) [severity critical, from alertmanager]",
		"pg_stat_activity_count > 90 on talentflow",
		"  EXTERNAL PENDING APILatencyHigh since 15:45:30 (30s) [from prometheus]"} {
		if !strings.Contains(v, want) {
			t.Fatalf("findings view lacks %q:\n%s", want, v)
		}
	}
	golden.RequireEqual(t, []byte(v))

	al := *f.Snapshot.Alerting
	al.LastGoodAt = f.Snapshot.TakenAt.Add(-2 * time.Minute)
	f.Snapshot.Alerting = &al
	f.Snapshot.Errors = map[string]string{collectors.SourceAlerting: "cannot read alerts from Alertmanager at alertmanager.internal:9093: connection refused"}
	m = update(m, frameMsg{frame: f})
	if v := m.View(); !strings.Contains(v, "external alerting STALE 2m00s: cannot read alerts from Alertmanager") {
		t.Fatalf("a stale external alerting must be said:\n%s", v)
	}
	if v := update(newTestModel(t, Options{}, findingsFrame(t), 120, 40), keyMsg("f")).View(); strings.Contains(v, "External alerts") {
		t.Fatal("without external alerting configured there is no external section")
	}
}

// TestFindingSelectionFollowsRefresh: a new finding ranked above the one
// being read does not move the selection to another cause.
func TestFindingSelectionFollowsRefresh(t *testing.T) {
	f := findingsFrame(t)
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, f, 80, 24)
	m = update(update(m, keyMsg("f")), keyMsg("down"))
	want := m.findingsList()[m.findings.sel]
	next := f
	next.Findings = append([]analysis.Finding{{ID: "connections-refused", Severity: "critical", Title: "New connections refused",
		About: "db.talentflow.internal:5432"}}, f.Findings...)
	m = update(m, frameMsg{frame: next})
	got := m.findingsList()[m.findings.sel]
	if got.ID != want.ID || !strings.Contains(m.View(), "> CRITICAL "+want.Title) {
		t.Fatalf("selection moved from %q to %q:\n%s", want.ID, got.ID, m.View())
	}
	// The finding cleared: the selection stays in range.
	next.Findings = next.Findings[:1]
	m = update(m, frameMsg{frame: next})
	if m.findingsList()[m.findings.sel].ID != "connections-refused" {
		t.Fatal("a cleared finding's selection falls back to one that is there")
	}
}

func TestGoldenGuardDialog(t *testing.T) {
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, findingsFrame(t), 80, 24)
	m = update(m, keyMsg("f"))
	next, cmd := m.Update(keyMsg("2"))
	m = update(next.(Model), cmd())
	if m.mode != modeConfirm || m.confirm.guard() == nil {
		t.Fatalf("2 should open the guard dialog, mode %d", m.mode)
	}
	checkScreen(t, m.View(), 80, 24)
	golden.RequireEqual(t, []byte(m.View()))
}

// TestLongStatementLeavesRoomForTargets: the re-checking statement is cut
// to a few lines (the audit log keeps it whole); the predicate never is.
func TestLongStatementLeavesRoomForTargets(t *testing.T) {
	frame := incidentFrame(t)
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, frame, 80, 24)
	long := strings.Repeat("COALESCE(a.backend_type, '') AND c.same_state ", 30)
	plan := actions.SessionPlan{Request: actions.SessionRequest{Kind: actions.Terminate, Filter: actions.SessionFilter{
		App: "talentflow-web", User: "talentflow_app", DB: "talentflow", Client: "10.0.1.11", States: []string{"idle"}, IdleOver: 10 * time.Minute}},
		Server: "db:5432/talentflow", Statement: long, Targets: []actions.Backend{{PID: 20268, State: "idle"}}}
	m = update(m, planMsg{plan: plan})
	v := m.View()
	checkScreen(t, v, 80, 24)
	flat := strings.Join(strings.Fields(v), " ")
	if !strings.Contains(flat, "database = talentflow, client = 10.0.1.11 → 1 session(s) match") ||
		!strings.Contains(v, "… (whole in the audit log)") || !strings.Contains(v, "20268") {
		t.Fatalf("predicate whole, statement cut, targets shown:\n%s", v)
	}
}
