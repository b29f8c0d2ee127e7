package tui

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/actions"
)

// footerPane holds the last action's result, the latest announcement from
// another served session and the recent audit entries.
type footerPane struct {
	text       string
	isError    bool
	announced  string
	announceAt time.Time
	audit      []auditLine
}

// announceFor is how long an announcement ("kim terminated 22 sessions of
// talentflow-web") stays in the status line: long enough to be read by
// someone glancing at a war-room screen.
const announceFor = 30 * time.Second

func (f *footerPane) announce(text string, at time.Time) {
	f.announced, f.announceAt = oneLine(text), at
}

// announcement is the announcement to show at now, if any.
func (f *footerPane) announcement(now time.Time) (string, bool) {
	if f.announced == "" || now.Sub(f.announceAt) >= announceFor {
		return "", false
	}
	return f.announceAt.UTC().Format("15:04:05") + " " + f.announced, true
}

// auditLine is one audit entry as the pane shows it.
type auditLine struct {
	at   string
	text string
}

type auditMsg struct{ entries []auditLine }

func (f *footerPane) setText(s string) { f.text, f.isError = oneLine(s), false }

func (f *footerPane) setError(what string, err error) {
	f.text, f.isError = oneLine(errorText(what, err)), true
}

// auditCmd reads the recent audit entries outside Update.
func (m *Model) auditCmd() tea.Cmd {
	src := m.opts.Mitigator
	if src == nil {
		return nil
	}
	return func() tea.Msg { return auditMsg{entries: formatAudit(src.RecentAudit(20))} }
}

func (m *Model) footerView(w, h int) block {
	var lines []string
	if h > 1 {
		lines = append(lines, m.st.bold.Render(" Audit (newest last)"))
		room := h - 2
		entries := m.footer.audit
		if len(entries) > room {
			entries = entries[len(entries)-room:]
		}
		for _, e := range entries {
			lines = append(lines, "  "+e.at+" "+e.text)
		}
		if len(entries) == 0 {
			lines = append(lines, m.st.dim.Render("  no action yet"))
		}
		lines = fitBlock(lines, w, h-1)
	}
	status := m.footer.text
	announced, isNews := m.footer.announcement(m.now)
	switch {
	case isNews:
		status = m.st.warning.Render("ANNOUNCE ") + announced
	case status == "":
		status = m.st.dim.Render("ready")
	case m.footer.isError:
		status = m.st.critical.Render("ERROR ") + status
	}
	return fitBlock(append(lines, "» "+status), w, h)
}

// formatAudit renders entries as "15:04:05 terminate result: 75 done …".
func formatAudit(entries []actions.AuditEntry) []auditLine {
	out := make([]auditLine, 0, len(entries))
	for _, e := range entries {
		var parts []string
		if n := len(e.Previewed); n > 0 {
			parts = append(parts, fmt.Sprintf("%d previewed", n))
		}
		for _, c := range []struct {
			n    int
			what string
		}{{len(e.Done), "done"}, {len(e.Gone), "gone"}, {len(e.Skipped), "skipped"}, {len(e.Failed), "failed"}, {len(e.Excluded), "excluded"}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		text := e.Action + " " + e.Phase
		if e.Predicate != "" {
			text += " [" + e.Predicate + "]"
		}
		if len(parts) > 0 {
			text += ": " + strings.Join(parts, ", ")
		}
		if e.Error != "" {
			text += " error: " + e.Error
		}
		if e.Operator.User != "" {
			text += " by " + e.Operator.User
		}
		out = append(out, auditLine{at: e.Time.UTC().Format("15:04:05"), text: oneLine(text)})
	}
	return out
}
