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
