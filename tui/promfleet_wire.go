package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/collectors"
)

// promFleetOpen is the dashboard key that opens the fleet view.
var promFleetOpen = bind([]string{"F"}, "F", "fleet (Prometheus)")

// onPromFleetFrame hands the fleet view its frame; the first frame of a
// fleet-only console opens the view.
func (m *Model) onPromFleetFrame(msg frameMsg, first bool) {
	m.promFleet.Update(msg)
	s := msg.frame.Snapshot
	if first && m.mode == modeNormal && m.promFleet.configured() &&
		!s.Source(collectors.SourcePostgres).Configured() && !s.Source(collectors.SourceRedis).Configured() {
		m.mode = modePromFleet
	}
}

// onPromFleetOpenKey opens the fleet view from the dashboard.
func (m *Model) onPromFleetOpenKey(msg tea.KeyMsg) bool {
	if !key.Matches(msg, promFleetOpen) || !m.promFleet.configured() {
		return false
	}
	m.promFleet.note = ""
	m.mode = modePromFleet
	return true
}

func (m *Model) onPromFleetKey(msg tea.KeyMsg) tea.Cmd {
	v := &m.promFleet
	if !v.filtering {
		switch {
		case key.Matches(msg, m.global.Quit):
			return tea.Quit
		case key.Matches(msg, m.global.Help):
			m.mode = modeHelp
			m.helpScreen.open(modePromFleet)
			return nil
		case key.Matches(msg, v.keys.Close):
			m.mode = modeNormal
			return nil
		}
	}
	if cmd, ok := m.onAttachKey(msg); ok {
		return cmd
	}
	v.note = ""
	return v.Update(msg)
}

// promFleetScreen is the fleet view and its help line.
func (m *Model) promFleetScreen(w, h int) block {
	m.promFleet.SetSize(w, h-1)
	hm := m.help
	hm.Width = w
	return stack(fitBlock(strings.Split(m.promFleet.View(), "\n"), w, h-1),
		fitBlock([]string{hm.ShortHelpView(m.promFleet.ShortHelp())}, w, 1))
}

// helpGroup is the fleet view's keys for the full help page.
func (v *promFleetView) helpGroup() helpGroup {
	n := v.keys.nav
	keys := []key.Binding{promFleetOpen, n.Up, n.Down, n.PageDown, v.keys.Filter, v.keys.Sort, v.keys.Group}
	if v.canAttach {
		keys = append(keys, v.attach.Attach, v.attach.Detach)
	}
	return helpGroup{"Fleet view (F, from Prometheus)", append(keys, v.keys.Close)}
}
