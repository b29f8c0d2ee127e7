package tui

import (
	"fmt"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/slotwatch/slotwatch/analysis"
)

// Golden views of the TalentFlow incident at fixed sizes, Ascii profile and
// a fixed clock. Update with: go test ./tui -run TestGolden -update
func TestGoldenIncident(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := newTestModel(t, Options{Mode: ModeDemo, Title: "talentflow", Mitigator: &fakeMitigator{}},
				incidentFrame(t), size[0], size[1])
			golden.RequireEqual(t, []byte(m.View()))
		})
	}
}

// TestGoldenScreens pins the other screens at the minimum size: the session
// detail, the confirmation dialog, the full help, read-only mode and a
// stale Redis source.
func TestGoldenScreens(t *testing.T) {
	frame := incidentFrame(t)
	mit := &fakeMitigator{sessions: frame.Snapshot.Postgres.Sessions}
	stale := incidentFrame(t)
	stale.Snapshot.Errors = map[string]string{"redis": "redis: connection refused"}
	r := *stale.Snapshot.Redis
	r.LastGoodAt = stale.Snapshot.TakenAt.Add(-45 * time.Second)
	stale.Snapshot.Redis = &r
	cases := map[string]struct {
		opts  Options
		frame analysis.Frame
		keys  []string
	}{
		"detail":    {Options{Mitigator: mit}, frame, []string{"w", "enter"}},
		"confirm":   {Options{Mitigator: mit}, frame, []string{" ", " ", "K"}},
		"help":      {Options{Mitigator: mit}, frame, []string{"?"}},
		"read-only": {Options{Mitigator: &fakeMitigator{readOnly: true}}, frame, []string{"K"}},
		"stale":     {Options{}, stale, nil},
		"redis":     {Options{Mitigator: mit}, frame, []string{"tab", "tab", "l"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, c.opts, c.frame, 80, 24)
			for _, k := range c.keys {
				next, cmd := m.Update(keyMsg(k))
				m = next.(Model)
				if msg := runCmd(cmd); msg != nil {
					m = update(m, msg)
				}
			}
			golden.RequireEqual(t, []byte(m.View()))
		})
	}
}

// runCmd runs an action command synchronously; ticks and batches are
// ignored.
func runCmd(cmd tea.Cmd) tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case planMsg, doneMsg, declinedMsg:
		return msg
	}
	return nil
}
