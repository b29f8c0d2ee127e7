package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// The path golden frames take: the demo warmed through the real pipeline.
// The persistent-connections finding's own mitigation, applied as the
// dashboard would, frees the slots; the finding then clears saying why,
// and no alert reads FIRING beside a current value that contradicts it.
func TestFindingMitigationsActOnTheDemo(t *testing.T) {
	ctx := context.Background()
	s := New(Options{Seed: 1})
	p := analysis.NewPipeline(analysis.DefaultRules())
	s.Warm(DefaultWarm, DefaultWarmStep, func(snap collectors.Snapshot) { p.Step(snap) })
	f := p.Step(s.Snapshot())
	var persistent *analysis.Finding
	for i := range f.Findings {
		if strings.HasPrefix(f.Findings[i].ID, analysis.FindingPersistentConnections+"/") {
			persistent = &f.Findings[i]
		}
	}
	if persistent == nil || persistent.Severity != analysis.SeverityCritical || !persistent.Since.Equal(DefaultStart) {
		t.Fatalf("after warming: persistent-connections finding %+v, want critical since the start", persistent)
	}
	var m analysis.Mitigation
	for _, x := range persistent.Mitigations {
		if x.Kind == analysis.TerminateSessions {
			m = x
		}
	}
	svc := service(s)
	plan, err := svc.PreviewSessions(ctx, actions.SessionRequest{Kind: actions.Terminate, Filter: actions.SessionFilter{
		App: m.App, User: m.User, DB: m.DB, States: m.States, IdleOver: m.IdleOver}})
	if err != nil || len(plan.Targets) != 77 {
		t.Fatalf("the finding's mitigation previews %d targets (%v), want the 77 idle web sessions", len(plan.Targets), err)
	}
	if _, err := svc.ExecuteSessions(ctx, plan); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		s.Advance(5 * time.Second)
		f = p.Step(s.Snapshot())
		for _, a := range f.Alerts {
			if a.State == analysis.Firing && a.Name == analysis.RulePGRefusing && !strings.Contains(a.Text(), "refused") {
				t.Errorf("at %s %s is firing and reads %q", f.Snapshot.TakenAt.Format("15:04:05"), a.Name, a.Text())
			}
		}
	}
	cleared := false
	for _, fd := range f.Findings {
		if fd.ID == persistent.ID {
			cleared = !fd.Cleared.IsZero() && strings.Contains(fd.Evidence[0], "now holds 0 idle sessions")
		}
	}
	if !cleared {
		t.Errorf("after the terminate the finding is not shown cleared with its reason: %+v", f.Findings)
	}
}

// The demo re-checks with the actions package's globs: `[!a]` is "not a"
// there (path.Match read it as "! or a" and skipped the target).
func TestSignalRechecksWithTheActionsGlobs(t *testing.T) {
	ctx := context.Background()
	s := New(Options{Seed: 9})
	var idle collectors.Session
	for _, x := range s.Snapshot().Postgres.Sessions {
		if x.State == "idle" {
			idle = x
			break
		}
	}
	res, err := s.PGDriver().Signal(ctx, actions.Terminate, []actions.Backend{backendOf(t, s, idle.PID)},
		actions.SessionFilter{App: "talentflow-[!a]eb"}, actions.Protection{})
	if err != nil || res[0].Outcome != actions.Done {
		t.Fatalf("terminate with App talentflow-[!a]eb: %+v, %v; want done, as the actions package matches it", res, err)
	}
}
