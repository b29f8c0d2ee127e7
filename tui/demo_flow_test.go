package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

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
	if m.mode != modeConfirm || len(m.confirm.session().Targets) != before {
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

// TestFindingsFromDemoPipeline drives the findings view with frames from
// the real pipeline over the demo simulation and the real actions.Service:
// the persistent-connections finding's terminate suggestion is previewed,
// confirmed, and its sessions are gone from the next frame; its guard
// suggestion sets the role's idle_session_timeout through the same dialog.
func TestFindingsFromDemoPipeline(t *testing.T) {
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

	var frame analysis.Frame
	for range 3 { // a few steps so Since is older than the current sample
		frame = pipe.Step(sim.Snapshot())
		sim.Advance(time.Second)
	}
	m := newTestModel(t, Options{Mode: ModeDemo, Mitigator: svc, Now: sim.Now}, frame, 80, 24)
	m = update(m, keyMsg("f"))
	checkScreen(t, m.View(), 80, 24)
	golden.RequireEqual(t, []byte(m.View()))

	fs := m.findingsList()
	idx := slices.IndexFunc(fs, func(f analysis.Finding) bool { return strings.HasPrefix(f.ID, "persistent-connections") })
	if idx < 0 {
		t.Fatalf("the demo should show persistent-connections, has %v", fs)
	}
	f := fs[idx]
	term := slices.IndexFunc(f.Mitigations, func(x analysis.Mitigation) bool { return x.Kind == analysis.TerminateSessions })
	guard := slices.IndexFunc(f.Mitigations, func(x analysis.Mitigation) bool { return x.Kind == analysis.SetPGGuard })
	if term < 0 || guard < 0 || term > 8 || guard > 8 {
		t.Fatalf("persistent-connections should suggest a guard and a terminate: %+v", f.Mitigations)
	}
	for range idx {
		m = update(m, keyMsg("down"))
	}
	scope := f.Mitigations[term]
	matching := func(fr analysis.Frame) int {
		n := 0
		for _, s := range fr.Snapshot.Postgres.Sessions {
			if s.State == "idle" && s.StateSeconds > scope.IdleOver.Seconds() && s.ApplicationName == scope.App &&
				s.Usename == scope.User && s.Datname == scope.DB {
				n++
			}
		}
		return n
	}
	before := matching(frame)

	// The guard first, as the finding advises.
	next, cmd := m.Update(keyMsg(strconv.Itoa(guard + 1)))
	m = update(next.(Model), cmd())
	if m.mode != modeConfirm || m.confirm.guard() == nil || m.confirm.guard().Role != scope.User {
		t.Fatalf("the guard suggestion should open its dialog, mode %d", m.mode)
	}
	next, cmd = m.Update(keyMsg("y"))
	m = update(next.(Model), cmd())
	if !strings.Contains(m.footer.text, "guard idle_session_timeout for role "+scope.User+" set to") {
		t.Fatalf("footer %q", m.footer.text)
	}

	next, cmd = m.Update(keyMsg(strconv.Itoa(term + 1)))
	m = update(next.(Model), cmd())
	if m.mode != modeConfirm || m.confirm.session() == nil || len(m.confirm.session().Targets) != before || before == 0 {
		t.Fatalf("the dialog should list the %d sessions the suggestion names, mode %d", before, m.mode)
	}
	next, cmd = m.Update(keyMsg("y"))
	m = update(next.(Model), cmd())
	if m.mode != modeFindings || !strings.Contains(m.footer.text, fmt.Sprintf("terminate: %d done", before)) {
		t.Fatalf("after y: mode %d, footer %q", m.mode, m.footer.text)
	}
	sim.Advance(time.Second)
	if n := matching(pipe.Step(sim.Snapshot())); n != 0 {
		t.Fatalf("%d sessions of the suggestion's scope survived the terminate", n)
	}
	var phases []string
	for _, e := range svc.RecentAudit(10) {
		phases = append(phases, e.Action+" "+e.Phase)
	}
	if !slices.Contains(phases, "guard-set result") || !slices.Contains(phases, "terminate result") {
		t.Fatalf("the audit log should record both actions: %v", phases)
	}
}
