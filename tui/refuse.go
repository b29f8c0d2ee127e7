package tui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"
)

// refusalAuditor records a refusal the dashboard made itself (read-only
// mode, a served viewer who is not an operator) in the audit log, as the
// CLI's refusals are, and returns the refusal. actions.Service provides
// it; a Mitigator without it still refuses, unrecorded.
type refusalAuditor interface {
	Refuse(ctx context.Context, action, reason string) error
}

type refusedMsg struct{ err error }

// refuseAction says why an action key does nothing and, where a Mitigator
// could have acted (read-only or a viewer, not replay), audits the refusal.
func (m Model) refuseAction(what string) (tea.Model, tea.Cmd) {
	m.footer.setText(m.disabledReason())
	ra, ok := m.opts.Mitigator.(refusalAuditor)
	if !ok || m.opts.Mode == ModeReplay {
		return m, nil
	}
	ctx, reason := m.ctx, m.disabledReason()
	return m, func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		return refusedMsg{err: ra.Refuse(ctx, what, reason)}
	}
}
