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
func (c *common) refuseAction(what string) tea.Cmd {
	c.notify(c.disabledReason())
	ra, ok := c.opts.Mitigator.(refusalAuditor)
	if !ok || c.opts.Mode == ModeReplay {
		return nil
	}
	ctx, reason := c.ctx, c.disabledReason()
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		return refusedMsg{err: ra.Refuse(ctx, what, reason)}
	}
}
