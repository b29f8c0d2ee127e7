package actions

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// memRedis is an in-memory RedisDriver and RedisGuardDriver for the
// lifecycle's orchestration; real behaviour is tested against Redis.
type memRedis struct {
	clients []collectors.RedisClient
	killed  []int64
	timeout string
}

func (m *memRedis) Server() string { return "mem:6379/0" }
func (m *memRedis) OwnID() int64   { return 1 }
func (m *memRedis) Clients(context.Context) ([]collectors.RedisClient, error) {
	var out []collectors.RedisClient
	for _, c := range m.clients {
		if !slices.Contains(m.killed, c.ID) {
			out = append(out, c)
		}
	}
	return out, nil
}
func (m *memRedis) Kill(_ context.Context, c collectors.RedisClient) (bool, error) {
	m.killed = append(m.killed, c.ID)
	return true, nil
}
func (m *memRedis) ConfigGet(context.Context, string) (string, error) { return m.timeout, nil }
func (m *memRedis) ConfigSet(_ context.Context, _, v string) error {
	m.timeout = v
	return nil
}

// lifecycleFleet is a fleet of one PostgreSQL server "db" and one Redis
// "cache", both in memory, with its audit log's path.
func lifecycleFleet(t *testing.T, policy Policy) (*Fleet, *memPG, *memRedis, string) {
	t.Helper()
	pg := &memPG{backends: idleBackends(3), failAt: -1}
	rds := &memRedis{timeout: "0", clients: []collectors.RedisClient{
		{ID: 1, Name: "console"}, {ID: 7, Name: "leak-1", Addr: "10.0.0.5:5000"}, {ID: 8, Name: "leak-2", Addr: "10.0.0.5:5001"}}}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = audit.Close() })
	fleet, err := NewFleet(
		NamedService{Name: "db", Kind: collectors.SourcePostgres, Service: NewService(pg, nil, policy, audit, Operator{User: "kim"})},
		NamedService{Name: "cache", Kind: collectors.SourceRedis, Service: NewService(nil, rds, policy, audit, Operator{User: "kim"})},
	)
	if err != nil {
		t.Fatal(err)
	}
	return fleet, pg, rds, path
}

// lifecycleRequests is one request of each kind, with the server it goes to.
var lifecycleRequests = []struct {
	name, server string
	req          Request
}{
	{"terminate", "db", SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "web"}}},
	{"redis-kill", "cache", RedisFilter{Server: "cache", Name: "leak-*"}},
	{"guard-set", "cache", GuardRequest{Server: "cache", Setting: GuardRedisTimeout, Value: "300"}},
}

// TestLifecycleIsTheSameForEveryKind: whatever the kind, a preview goes
// to the server the request names, Previewed and Decline write one line
// of their phase there, and Execute writes intent then result under one
// action id, its report naming the plan that ran.
func TestLifecycleIsTheSameForEveryKind(t *testing.T) {
	ctx := context.Background()
	for _, c := range lifecycleRequests {
		t.Run(c.name, func(t *testing.T) {
			fleet, _, _, path := lifecycleFleet(t, DefaultPolicy())
			plan, err := fleet.Preview(ctx, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if plan.ActionName() != c.name || plan.Where() != c.server || plan.Size() == 0 {
				t.Fatalf("plan %s on %q with %d targets, want %s on %q", plan.ActionName(), plan.Where(), plan.Size(), c.name, c.server)
			}
			for phase, record := range map[string]func(context.Context, Plan) error{PhasePreviewed: fleet.Previewed, PhaseDeclined: fleet.Decline} {
				if err := record(ctx, plan); err != nil {
					t.Fatalf("%s: %v", phase, err)
				}
				if e := lastEntry(t, path); e.Phase != phase || e.Action != c.name || e.ServerName != c.server || e.Confirmed {
					t.Fatalf("%s line %+v", phase, e)
				}
			}
			rep, err := fleet.Execute(ctx, plan)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Executed().Where() != c.server || rep.Executed().ActionName() != c.name {
				t.Fatalf("the report names %s on %q", rep.Executed().ActionName(), rep.Executed().Where())
			}
			for _, r := range rep.Outcomes() {
				if r.Outcome != Done {
					t.Fatalf("outcome %+v", r)
				}
			}
			entries := fleet.RecentAudit(2)
			intent, result := entries[0], entries[1]
			if intent.Phase != PhaseIntent || result.Phase != PhaseResult || intent.ActionID != result.ActionID ||
				result.ServerName != c.server || !result.Confirmed {
				t.Fatalf("intent %+v\nresult %+v", intent, result)
			}
		})
	}
}

// TestLifecycleKeepsAPlanOnItsServer: a plan whose server is not
// configured is refused (and the refusal audited) at every step, and no
// driver is touched.
func TestLifecycleKeepsAPlanOnItsServer(t *testing.T) {
	ctx := context.Background()
	for _, c := range lifecycleRequests {
		t.Run(c.name, func(t *testing.T) {
			fleet, pg, rds, path := lifecycleFleet(t, DefaultPolicy())
			plan, err := fleet.Preview(ctx, c.req)
			if err != nil {
				t.Fatal(err)
			}
			moved := movePlan(plan, "standby")
			for step, run := range map[string]func() error{
				"execute":   func() error { _, err := fleet.Execute(ctx, moved); return err },
				"decline":   func() error { return fleet.Decline(ctx, moved) },
				"previewed": func() error { return fleet.Previewed(ctx, moved) },
			} {
				if err := run(); !IsRefused(err) {
					t.Fatalf("%s of a plan for an unknown server: %v, want a refusal", step, err)
				}
				if e := lastEntry(t, path); e.Phase != PhaseRefused || e.ServerName != "standby" || e.Action != c.name {
					t.Fatalf("%s: refusal line %+v", step, e)
				}
			}
			if len(pg.signals) != 0 || len(rds.killed) != 0 || rds.timeout != "0" {
				t.Fatalf("a refused plan reached a driver: signals %v, killed %v, timeout %s", pg.signals, rds.killed, rds.timeout)
			}
		})
	}
}

func movePlan(p Plan, server string) Plan {
	switch p := p.(type) {
	case SessionPlan:
		p.ServerName = server
		return p
	case RedisPlan:
		p.ServerName = server
		return p
	case GuardPlan:
		p.ServerName = server
		return p
	}
	panic("unknown plan kind")
}

// TestLifecycleReadOnly: read-only, every kind's preview is refused and
// audited, and a decline is refused without a line.
func TestLifecycleReadOnly(t *testing.T) {
	ctx := context.Background()
	policy := DefaultPolicy()
	policy.ReadOnly = true
	for _, c := range lifecycleRequests {
		t.Run(c.name, func(t *testing.T) {
			fleet, _, _, path := lifecycleFleet(t, policy)
			if _, err := fleet.Preview(ctx, c.req); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("preview read-only: %v", err)
			}
			if e := lastEntry(t, path); e.Phase != PhaseRefused || e.Action != c.name {
				t.Fatalf("refusal line %+v", e)
			}
			writable, _, _, _ := lifecycleFleet(t, DefaultPolicy())
			plan, err := writable.Preview(ctx, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if err := fleet.Decline(ctx, plan); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("decline read-only: %v", err)
			}
			if _, err := fleet.Execute(ctx, plan); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("execute read-only: %v", err)
			}
		})
	}
}

// TestPreviewAsSaysWhenTheKindIsWrong: a caller expecting another kind of
// plan than its request makes gets an error, never a zero plan taken for
// "nothing to do".
func TestPreviewAsSaysWhenTheKindIsWrong(t *testing.T) {
	fleet, _, _, _ := lifecycleFleet(t, DefaultPolicy())
	ctx := context.Background()
	if _, err := PreviewAs[RedisPlan](ctx, fleet, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "web"}}); err == nil {
		t.Fatal("a session request previewed as a Redis plan without an error")
	}
	plan, err := PreviewAs[SessionPlan](ctx, fleet, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "web"}})
	if err != nil || len(plan.Targets) != 3 {
		t.Fatalf("preview: %d targets, %v", len(plan.Targets), err)
	}
	if _, err := ExecuteAs[GuardResult](ctx, fleet, plan); err == nil {
		t.Fatal("a session plan executed as a guard without an error")
	}
}

// TestTargetIDs: a session target is its pid with its backend_start, a
// Redis target its id on its node, both on the plan's server; a guard has
// none.
func TestTargetIDs(t *testing.T) {
	start := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	sp := SessionPlan{ServerName: "db", Targets: []Backend{{PID: 101, BackendStart: start}}}
	if got := sp.TargetIDs(); len(got) != 1 || got[0] != (TargetID{Server: "db", ID: 101, Start: start}) {
		t.Fatalf("session ids %+v", got)
	}
	rp := RedisPlan{ServerName: "cache", Targets: []collectors.RedisClient{{ID: 7, Node: "10.0.4.1:7000"}, {ID: 7, Node: "10.0.4.2:7000"}}}
	got := rp.TargetIDs()
	if len(got) != 2 || got[0] == got[1] || got[0] != (TargetID{Server: "cache", Redis: true, ID: 7, Node: "10.0.4.1:7000"}) {
		t.Fatalf("redis ids %+v: the same id on two nodes is two targets", got)
	}
	if ids := (GuardPlan{}).TargetIDs(); ids != nil {
		t.Fatalf("guard ids %+v", ids)
	}
}
