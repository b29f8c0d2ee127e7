package tui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/analysis"
)

// Bridge moves frames from a viewer's mailbox to its program until ctx
// ends: it waits for the mailbox, takes the newest frame (skipping any the
// terminal was too slow for) and sends it. Recording errors, when given,
// reach the footer the same way. send is the program's Send; Bridge is the
// only goroutine that calls it for frames, so a blocked terminal holds up
// this bridge alone, never the pipeline or another viewer.
func Bridge(ctx context.Context, feed *analysis.FrameMailbox, recErrs <-chan error, send func(tea.Msg)) {
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-recErrs:
			send(hookErrMsg{err: err})
		case <-feed.Ready():
			if f, ok := feed.Take(); ok {
				send(frameMsg{frame: f})
			}
		}
	}
}

// FrameMsg is the message that shows frame f, for drivers that feed a model
// directly (benchmarks, tests).
func FrameMsg(f analysis.Frame) tea.Msg { return frameMsg{frame: f} }

// AuditMsg refreshes the audit pane with entries (newest last). A served
// session sends it when any session's action changed the shared audit log,
// so every viewer's pane follows the log live; read the entries outside
// Update (RecentAudit is in memory).
func AuditMsg(entries []actions.AuditEntry) tea.Msg {
	return auditMsg{entries: formatAudit(entries)}
}
