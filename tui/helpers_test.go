package tui

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// fixedNow is the clock of every golden test: the fixture's sample time.
var fixedNow = time.Date(2024, 1, 21, 15, 46, 0, 0, time.UTC)

func loadSnapshot(t testing.TB, name string) collectors.Snapshot {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "snapshots", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var s collectors.Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	return s
}

// incidentTrend is ten minutes of history leading to the fixture: idle
// connections and the analytics Redis group climbing.
func incidentTrend(s collectors.Snapshot) []collectors.Point {
	var out []collectors.Point
	for i := 0; i <= 20; i++ {
		p := collectors.PointOf(s)
		p.At = s.TakenAt.Add(-time.Duration(20-i) * 30 * time.Second)
		idle := 40 + i*37/20
		p.PGByState = map[string]int{"active": 12, "idle": idle, "idle in transaction": i / 7}
		p.PGTotal = 12 + idle + i/7
		p.PGWaiting = i / 4
		p.RedisClients = int64(150 + i*42/20)
		p.RedisGroups = map[string]int{}
		for k, v := range collectors.PointOf(s).RedisGroups {
			p.RedisGroups[k] = v
		}
		p.RedisGroups["10.0.2.21||redis-py"] = 128 + i*42/20
		out = append(out, p)
	}
	return out
}

func incidentFrame(t testing.TB) analysis.Frame {
	s := loadSnapshot(t, "talentflow-incident.json")
	// Snapshot groups are by application/user/database (contract C5); the
	// fixture predates that and is grouped by client address too.
	s.Postgres.Groups = collectors.GroupSessions(s.Postgres.Sessions, false)
	return analysis.Frame{
		Snapshot: s,
		Alerts: []analysis.Alert{
			{Name: "PostgresConnectionLimitReached", State: analysis.Firing, Since: s.TakenAt.Add(-4 * time.Minute), Value: 0.92,
				Summary: "92 of 100 max_connections in use (92%)"},
			{Name: "PostgresRefusingConnections", State: analysis.Firing, Since: s.TakenAt.Add(-3 * time.Minute), Value: 1,
				Summary: "connect probe fails with 53300: remaining connection slots are reserved"},
			{Name: "RedisClientsGrowing", State: analysis.Pending, Since: s.TakenAt.Add(-50 * time.Second), Value: 2.1,
				Summary: "+2.1 clients/min from 10.0.2.21 over 10m"},
			{Name: "JobsOverCapacity", State: analysis.Firing, Since: s.TakenAt.Add(-3 * time.Minute), Value: 1,
				Summary: "job 12345 has 58 applications, limit 50"},
			{Name: "RedisClientsNearLimit", State: analysis.Inactive},
		},
		Findings: []analysis.Finding{
			{ID: "pg-idle-persistent", Severity: "critical", Title: "77 idle persistent connections hold the slots",
				About: "talentflow-web (talentflow_app from 10.0.1.11-14)"},
			{ID: "redis-leak", Severity: "warning", Title: "Redis clients from one host grow without reuse",
				About: "10.0.2.21 redis-py"},
			{ID: "job-race", Severity: "warning", Title: "Job over its application limit (check-then-insert race)",
				About: "job 12345"},
		},
		Trend: incidentTrend(s),
	}
}

func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

// newTestModel is a sized model showing f on the fixed clock.
func newTestModel(t testing.TB, opts Options, f analysis.Frame, w, h int) Model {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	m := New(context.Background(), opts, asciiRenderer())
	m = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	return update(m, frameMsg{frame: f})
}

func update(m Model, msg tea.Msg) Model {
	next, _ := m.Update(msg)
	return next.(Model)
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// fakeMitigator plans from a fixed session list and records what it was
// asked; it is a stand-in for actions.Service in pure UI tests.
type fakeMitigator struct {
	mu             sync.Mutex
	readOnly       bool
	sessions       []collectors.Session
	clients        []collectors.RedisClient
	executed       []actions.SessionPlan
	declined       []actions.SessionPlan
	redisDone      []actions.RedisPlan
	guards         []actions.GuardPlan
	guardsDeclined []actions.GuardPlan
	redisDeclined  []actions.RedisPlan
	audit          []actions.AuditEntry
}

func (f *fakeMitigator) ReadOnly() bool { return f.readOnly }

func (f *fakeMitigator) PreviewSessions(_ context.Context, req actions.SessionRequest) (actions.SessionPlan, error) {
	plan := actions.SessionPlan{Request: req, Server: "db.talentflow.internal:5432/talentflow",
		Statement: "SELECT pg_" + string(req.Kind) + "_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1)"}
	want := map[int32]bool{}
	for _, p := range req.Filter.PIDs {
		want[p] = true
	}
	for _, s := range f.sessions {
		if len(want) > 0 && !want[s.PID] {
			continue
		}
		if len(req.Filter.States) > 0 && s.State != req.Filter.States[0] {
			continue
		}
		if req.Filter.IdleOver > 0 && s.StateSeconds < req.Filter.IdleOver.Seconds() {
			continue
		}
		b := actions.Backend{PID: s.PID, BackendStart: s.BackendStart, Usename: s.Usename, ApplicationName: s.ApplicationName,
			Datname: s.Datname, ClientAddr: s.ClientAddr, State: s.State, StateSeconds: s.StateSeconds, Query: s.Query}
		plan.Targets = append(plan.Targets, b)
	}
	plan.Excluded = []actions.Exclusion{{Backend: actions.Backend{PID: 20999, Usename: "postgres", ApplicationName: "pg_dump"},
		Reason: "protected application pg_dump"}}
	return plan, nil
}

func (f *fakeMitigator) ExecuteSessions(_ context.Context, plan actions.SessionPlan) (actions.SessionReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.executed = append(f.executed, plan)
	rep := actions.SessionReport{Plan: plan}
	for _, b := range plan.Targets {
		rep.Results = append(rep.Results, actions.TargetResult{ID: int64(b.PID), Outcome: actions.Done})
	}
	f.audit = append(f.audit, actions.AuditEntry{Time: fixedNow, Action: string(plan.Request.Kind), Phase: actions.PhaseResult,
		Done: make([]int64, len(plan.Targets)), Operator: actions.Operator{User: "oncall"}})
	return rep, nil
}

func (f *fakeMitigator) DeclineSessions(_ context.Context, plan actions.SessionPlan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.declined = append(f.declined, plan)
	return nil
}

func (f *fakeMitigator) PreviewRedis(_ context.Context, flt actions.RedisFilter) (actions.RedisPlan, error) {
	plan := actions.RedisPlan{Filter: flt, Server: "cache.talentflow.internal:6379/0", Statement: "CLIENT KILL ID <id>"}
	plan.Targets = append(plan.Targets, f.clients...)
	return plan, nil
}

func (f *fakeMitigator) ExecuteRedis(_ context.Context, plan actions.RedisPlan) (actions.RedisReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redisDone = append(f.redisDone, plan)
	rep := actions.RedisReport{Plan: plan}
	for _, c := range plan.Targets {
		rep.Results = append(rep.Results, actions.TargetResult{ID: c.ID, Outcome: actions.Done})
	}
	return rep, nil
}

func (f *fakeMitigator) DeclineRedis(_ context.Context, plan actions.RedisPlan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redisDeclined = append(f.redisDeclined, plan)
	return nil
}

func (f *fakeMitigator) PreviewGuardSet(_ context.Context, req actions.GuardRequest) (actions.GuardPlan, error) {
	v := req.Value
	plan := actions.GuardPlan{Action: actions.ActionGuardSet, Setting: req.Setting, Role: req.Role, New: &v,
		Server: "db.talentflow.internal:5432/talentflow"}
	if req.Setting == actions.GuardRedisTimeout {
		plan.Server, plan.Statement = "cache.talentflow.internal:6379/0", "CONFIG SET timeout "+v
	} else {
		plan.Statement = actions.AlterRoleStatement(req.Role, req.Setting, &v)
		plan.Notes = []string{"applies to new sessions of role " + req.Role + " only"}
	}
	return plan, nil
}

func (f *fakeMitigator) ExecuteGuard(_ context.Context, plan actions.GuardPlan) (actions.GuardResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.guards = append(f.guards, plan)
	return actions.GuardResult{Plan: plan, Outcome: actions.Done}, nil
}

func (f *fakeMitigator) DeclineGuard(_ context.Context, plan actions.GuardPlan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.guardsDeclined = append(f.guardsDeclined, plan)
	return nil
}

func (f *fakeMitigator) RecentAudit(n int) []actions.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.audit) > n {
		return append([]actions.AuditEntry(nil), f.audit[len(f.audit)-n:]...)
	}
	return append([]actions.AuditEntry(nil), f.audit...)
}

// skipSweepUnderRace skips a rendering sweep over many sizes in the
// race-detector pass (scripts/test): pure rendering has no concurrency for
// it to find and is ten times slower there; the normal pass runs it.
func skipSweepUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("a rendering sweep over many sizes: the pass without -race runs it")
	}
}
