package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// TestOneRefusedFindingPerServer: while the probe keeps being refused, the
// PostgreSQL sample failing and coming back changes the finding's wording
// (with or without the server's target) but the server has one
// connections-refused finding throughout, never a second one "cleared … for
// another reason (SQLSTATE 53300)", and its since stays the first refusal.
func TestOneRefusedFindingPerServer(t *testing.T) {
	p := NewPipeline(DefaultRules())
	for i, pgFails := range []bool{false, true, true, false, true} {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		s := pgSnap(at, 97)
		s.Probe = &collectors.ProbeResult{SampledAt: at, SQLState: "53300", Error: "sorry, too many clients already"}
		if pgFails {
			s.Postgres = nil
			s.Errors = map[string]string{collectors.SourcePostgres: "timeout"}
		}
		f := p.Step(s)
		var refused []Finding
		for _, x := range f.Findings {
			if strings.HasPrefix(x.ID, FindingConnectionsRefused+"/") {
				refused = append(refused, x)
			}
		}
		if len(refused) != 1 || !refused[0].Cleared.IsZero() {
			t.Fatalf("step %d (PostgreSQL failing %v): want one open connections-refused finding, got %+v", i, pgFails, refused)
		}
		if !refused[0].Since.Equal(t0) {
			t.Fatalf("step %d: the refusal started at %v, the finding says since %v", i, t0, refused[0].Since)
		}
	}
}
