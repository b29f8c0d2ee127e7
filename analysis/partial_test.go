package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Rows hidden by privilege make the lock-wait rule blind: held where it
// was, its summary naming the hidden rows and the grant, never a count of 0.
func TestHiddenRowsHoldLockWaits(t *testing.T) {
	p := NewPipeline(DefaultRules())
	waiting := func(at time.Time) collectors.Snapshot {
		s := pgSnap(at, 92)
		s.Postgres.Waiting = 9
		return s
	}
	p.Step(waiting(t0))
	firing := p.Step(waiting(t0.Add(time.Minute)))
	if a := alertNamed(t, firing, RulePGLockWaits); a.State != Firing {
		t.Fatalf("lock waits with 9 waiting = %s, want firing", a.State)
	}
	blind := pgSnap(t0.Add(2*time.Minute), 92)
	blind.Postgres.HiddenSessions, blind.Postgres.Role = 77, "monitor"
	a := alertNamed(t, p.Step(blind), RulePGLockWaits)
	if a.State != Firing || !strings.Contains(a.Summary, "blind: 77 of 92 sessions hidden from role monitor: GRANT pg_monitor TO monitor") {
		t.Errorf("lock waits with 77 rows hidden = %s %q; want held firing and blind", a.State, a.Summary)
	}
}

// TestHiddenRowsHoldStateFindings: a finding that reads sessions' states
// is held as last seen while rows are hidden from the monitoring role,
// never cleared, and a blind finding names the grant; with every row
// visible again the same absence clears it.
func TestHiddenRowsHoldStateFindings(t *testing.T) {
	p := NewPipeline(DefaultRules())
	first := p.Step(incident(t0))
	if len(findingsByKind(first.Findings)[FindingPersistentConnections]) != 1 {
		t.Fatalf("the incident has no persistent-connections finding: %+v", first.Findings)
	}
	hide := func(s collectors.Snapshot) collectors.Snapshot {
		pg := *s.Postgres
		pg.Sessions = append([]collectors.Session(nil), pg.Sessions...)
		hidden := 0
		for i := range pg.Sessions {
			if pg.Sessions[i].Usename == "talentflow" && pg.Sessions[i].State != "active" {
				pg.Sessions[i].State, pg.Sessions[i].Query, pg.Sessions[i].ApplicationName, pg.Sessions[i].Hidden = "", "", "", true
				hidden++
			}
		}
		pg.HiddenSessions, pg.Role = hidden, "monitor"
		s.Postgres = &pg
		return s
	}
	blind := p.Step(hide(incident(t0.Add(10 * time.Second))))
	m := findingsByKind(blind.Findings)
	for _, kind := range []string{FindingPersistentConnections, FindingIdleInTxBlocker} {
		if len(m[kind]) != 1 {
			t.Fatalf("%s while rows are hidden: %d findings, want it held: %+v", kind, len(m[kind]), blind.Findings)
		}
		f := m[kind][0]
		if !f.Cleared.IsZero() || !strings.HasPrefix(f.Evidence[0], "held as last seen: 80 of 95 sessions hidden from role monitor: GRANT pg_monitor TO monitor") {
			t.Errorf("%s while rows are hidden: cleared %v, evidence %q; want held with the grant", kind, f.Cleared, f.Evidence[0])
		}
	}
	b := one(t, m, FindingBlindByPrivilege)
	if b.About != "monitor" || !strings.Contains(b.Fix[0], "GRANT pg_monitor TO monitor") {
		t.Errorf("blind finding %+v; want it about role monitor with the grant", b)
	}
	// Visible again, without the idle sessions: now their absence is real.
	gone := incident(t0.Add(20 * time.Second))
	gone.Postgres.Sessions = gone.Postgres.Sessions[77:]
	after := findingsByKind(p.Step(gone).Findings)
	if f := after[FindingPersistentConnections]; len(f) != 1 || f[0].Cleared.IsZero() {
		t.Errorf("with every row visible and the idle sessions gone the finding must clear: %+v", f)
	}
	if f := after[FindingBlindByPrivilege]; len(f) != 1 || f[0].Cleared.IsZero() || !strings.Contains(f[0].Evidence[0], "every session is visible to monitor again") {
		t.Errorf("with every row visible the blind finding must clear saying so: %+v", f)
	}
}
