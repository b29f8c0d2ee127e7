package tui

import (
	"fmt"
	"testing"

	"github.com/charmbracelet/bubbles/key"
)

// TestComponentsDrawInTheirRectangle: every pane drawn in a rectangle
// fills exactly the cells SetSize gave it, at sizes from a narrow column
// to a wide screen, so the root can stack and join them blind.
func TestComponentsDrawInTheirRectangle(t *testing.T) {
	frame := incidentFrame(t)
	mit := &fakeMitigator{sessions: frame.Snapshot.Postgres.Sessions}
	m := newTestModel(t, Options{Mitigator: mit}, frame, 120, 40)
	m = update(m, auditMsg{entries: []auditLine{{at: "15:45:58", text: "terminate result: 23 done"}}})
	// A dialog and a detail to draw: K on the first session, Enter on it.
	next, cmd := m.Update(keyMsg("K"))
	m = update(next.(Model), cmd())
	if m.confirm == nil {
		t.Fatal("K should have opened the confirmation")
	}
	m.wire()
	m.detail.open(*m.sessions.current(), "")
	m.header.alerts = 3
	m.helpScreen.groups = m.helpGroups()
	panes := map[string]component{
		"sessions": &m.sessions, "groups": &m.groups, "redis": &m.redis, "pgbouncer": &m.pooler,
		"jobs": &m.jobs, "states": &m.states, "header": &m.header, "findings": &m.findings,
		"detail": &m.detail, "confirm": m.confirm, "help": &m.helpScreen, "footer": &m.footer,
	}
	for name, c := range panes {
		for _, size := range [][2]int{{24, 3}, {40, 8}, {80, 20}, {200, 50}} {
			t.Run(fmt.Sprintf("%s/%dx%d", name, size[0], size[1]), func(t *testing.T) {
				c.SetSize(size[0], size[1])
				checkScreen(t, c.View(), size[0], size[1])
			})
		}
	}
}

// TestHelpLineFollowsFocus: the help line starts with the keys of the
// pane that has focus, as that pane lists them.
func TestHelpLineFollowsFocus(t *testing.T) {
	m := newTestModel(t, Options{Mitigator: &fakeMitigator{}}, incidentFrame(t), 120, 40)
	seen := map[string]bool{}
	for i := 0; i < int(numFocus); i++ {
		m.wire()
		want := m.focused().ShortHelp()
		got := m.helpBindings()
		if len(want) == 0 || len(got) < len(want) {
			t.Fatalf("focus %d: pane keys %v, help line %v", m.focus, bindingKeys(want), bindingKeys(got))
		}
		for j := range want {
			if got[j].Help() != want[j].Help() {
				t.Fatalf("focus %d: help line %v does not start with the pane's keys %v", m.focus, bindingKeys(got), bindingKeys(want))
			}
		}
		seen[fmt.Sprint(bindingKeys(want))] = true
		m = update(m, keyMsg("tab"))
	}
	if len(seen) != int(numFocus) {
		t.Fatalf("every focus should lead with its own keys, saw %v", seen)
	}
}

func bindingKeys(bs []key.Binding) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Help().Key
	}
	return out
}
