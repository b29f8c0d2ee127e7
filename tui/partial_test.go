package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/slotwatch/slotwatch/collectors"
)

// A snapshot with rows hidden from the monitoring role is never OK: the
// alert area says PARTIAL, how many of how many, and the grant.
func TestGoldenPartial(t *testing.T) {
	s := quietSnapshot(t, fixedNow)
	pg := *s.Postgres
	pg.Sessions = append([]collectors.Session(nil), pg.Sessions...)
	for i := range pg.Sessions {
		if i%2 == 0 {
			pg.Sessions[i].State, pg.Sessions[i].Query, pg.Sessions[i].Hidden = "", "<insufficient privilege>", true
		}
	}
	collectors.Summarize(&pg)
	pg.Role = "monitor"
	s.Postgres = &pg
	m := showFrames(t, Options{}, pipelineFrames([]collectors.Snapshot{s}), 110, 34)
	v := m.View()
	if strings.Contains(v, "OK no alert") || !strings.Contains(v, "?? PARTIAL") ||
		!strings.Contains(v, "sessions hidden from role monitor: GRANT pg_monitor TO monitor") {
		t.Fatalf("a partly hidden snapshot must say PARTIAL with the grant, never OK:\n%s", v)
	}
	if !strings.Contains(v, "hidden     10 state unknown") {
		t.Errorf("the by-state pane does not count the hidden sessions:\n%s", v)
	}
	checkScreen(t, v, 110, 34)
	golden.RequireEqual(t, []byte(v))
}
