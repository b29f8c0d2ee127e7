package tui

import (
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
)

// TestDialogSaysEveryKindOfPlan: the one dialog and footer code says each
// kind of plan in its own words, names its server, and reports a result
// by its outcomes.
func TestDialogSaysEveryKindOfPlan(t *testing.T) {
	five := "5min"
	cases := []struct {
		plan            actions.Plan
		report          actions.Report
		title, what, fn string
	}{
		{actions.SessionPlan{Request: actions.SessionRequest{Kind: actions.Terminate, Filter: actions.SessionFilter{App: "web"}},
			ServerName: "replica-1", Server: "10.0.0.2:5432/app", Targets: []actions.Backend{{PID: 101}, {PID: 102}}},
			actions.SessionReport{Results: []actions.TargetResult{{ID: 101, Outcome: actions.Done}, {ID: 102, Outcome: actions.Gone}}},
			"CONFIRM TERMINATE of 2 session(s)", "terminate", "terminate on replica-1: 1 done, 1 already gone"},
		{actions.RedisPlan{Filter: actions.RedisFilter{Name: "leak-*"}, ServerName: "cache", Server: "10.0.0.3:6379/0",
			Targets: []collectors.RedisClient{{ID: 7}}},
			actions.RedisReport{Results: []actions.TargetResult{{ID: 7, Outcome: actions.Done}}},
			"CONFIRM CLIENT KILL of 1 Redis client(s)", "CLIENT KILL", "CLIENT KILL on cache: 1 done"},
		{actions.GuardPlan{Action: actions.ActionGuardSet, Setting: actions.GuardIdleSession, Role: "web", New: &five,
			ServerName: "replica-1", Server: "10.0.0.2:5432/app"},
			actions.GuardResult{Outcome: actions.Done},
			"CONFIRM GUARD idle_session_timeout for role web", "guard idle_session_timeout", "guard idle_session_timeout for role web set to 5min"},
	}
	for _, c := range cases {
		t.Run(c.plan.ActionName(), func(t *testing.T) {
			m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, incidentFrame(t), 120, 40)
			m = update(m, planMsg{plan: c.plan})
			if m.mode != modeConfirm || m.confirm.plan.Size() != c.plan.Size() {
				t.Fatalf("the dialog did not open on the plan (mode %d)", m.mode)
			}
			flat := strings.Join(strings.Fields(m.View()), " ")
			if want := c.title + " on " + c.plan.Where() + " (" + c.plan.Target() + ")"; !strings.Contains(flat, want) {
				t.Fatalf("the dialog does not say %q:\n%s", want, m.View())
			}
			m = update(m, declinedMsg{what: wordsOf(c.plan).what})
			if want := "Declined " + c.what + ": nothing was changed."; m.footer.text != want {
				t.Fatalf("declined footer %q, want %q", m.footer.text, want)
			}
			m = update(m, doneMsg{plan: c.plan, report: c.report})
			if !strings.HasPrefix(m.footer.text, c.fn) || m.footer.isError {
				t.Fatalf("done footer %q, want it to start %q", m.footer.text, c.fn)
			}
		})
	}
}

// TestMissingAnswersAreErrors: a Mitigator answering neither a plan nor
// an error, or neither a report nor an error, is said as a failure, never
// as a dialog with nothing in it or "no target".
func TestMissingAnswersAreErrors(t *testing.T) {
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, incidentFrame(t), 120, 40)
	m = update(m, planMsg{what: "preview"})
	if m.mode == modeConfirm || !m.footer.isError || !strings.Contains(m.footer.text, "no plan") {
		t.Fatalf("a preview without a plan: mode %d, footer %q", m.mode, m.footer.text)
	}
	plan := actions.SessionPlan{Request: actions.SessionRequest{Kind: actions.Terminate}}
	m = update(m, doneMsg{plan: plan})
	if !m.footer.isError || !strings.Contains(m.footer.text, "no report") {
		t.Fatalf("a result without a report: footer %q", m.footer.text)
	}
}
