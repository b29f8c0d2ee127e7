package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/demo"
)

// TestFlowAgainstDemoSim terminates a group through the real actions.Service
// over the demo simulation's drivers: the sessions disappear from the next
// frame and the audit pane shows the action.
func TestFlowAgainstDemoSim(t *testing.T) {
	sim := demo.New(demo.Options{Seed: 7})
	pipe := analysis.NewPipeline(analysis.DefaultRules())
	audit, err := actions.OpenAuditLog("")
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	policy := actions.DefaultPolicy()
	policy.BatchInterval = time.Millisecond
	svc := actions.NewService(sim.PGDriver(), sim.RedisDriver(), policy, audit, actions.Operator{User: "oncall"})

	first := pipe.Step(sim.Snapshot())
	m := newTestModel(t, Options{Mode: ModeDemo, Mitigator: svc, Now: sim.Now}, first, 120, 40)
	group := m.sessions.current()
	if group == nil || group.State != "idle" {
		t.Fatalf("the longest idle session should be under the cursor, got %+v", group)
	}
	inGroup := func(f analysis.Frame) int {
		n := 0
		for _, s := range f.Snapshot.Postgres.Sessions {
			// The group is application/user/database: every client address.
			if s.State == "idle" && s.StateSeconds > 600 && s.ApplicationName == group.ApplicationName &&
				s.Usename == group.Usename && s.Datname == group.Datname {
				n++
			}
		}
		return n
	}
	before := inGroup(first)
	if before == 0 {
		t.Fatal("the simulation should start with long-idle sessions")
	}

	next, cmd := m.Update(keyMsg("G"))
	m = update(next.(Model), cmd())
	if m.mode != modeConfirm || len(m.confirm.session.Targets) != before {
		t.Fatalf("confirmation should list the %d long-idle sessions of the group, mode %d", before, m.mode)
	}
	next, cmd = m.Update(keyMsg("y"))
	m = update(next.(Model), cmd())
	if !strings.Contains(m.footer.text, "terminate: ") || !strings.Contains(m.footer.text, "done") {
		t.Fatalf("footer %q", m.footer.text)
	}
	m = update(m, m.auditCmd()())

	sim.Advance(time.Second)
	after := pipe.Step(sim.Snapshot())
	m = update(m, frameMsg{frame: after})
	if n := inGroup(after); n != 0 {
		t.Fatalf("%d long-idle sessions of the group survived the terminate", n)
	}
	if got, want := after.Snapshot.Postgres.Total, first.Snapshot.Postgres.Total-before; got > want {
		t.Fatalf("PostgreSQL total %d after terminating %d of %d", got, before, first.Snapshot.Postgres.Total)
	}
	v := m.View()
	if !strings.Contains(v, "terminate result") {
		t.Fatalf("the audit pane should show the result:\n%s", v)
	}
}
