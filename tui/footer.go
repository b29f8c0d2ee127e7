package tui

import (
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/actions"
)

// footerPane holds the last action's result, the announcements from other
// served sessions and the recent audit entries.
type footerPane struct {
	text    string
	isError bool
	news    []announcement // oldest first; see announce.go
	audit   []auditLine
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
	// Announcements take the status line and, when several are news, the
	// audit lines above it: the war room hears every action.
	full := h
	news := m.newsBlock(w, h)
	h -= len(news)
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
	if len(news) > 0 {
		lines = fitBlock(lines, w, max(h, 0))
		return fitBlock(append(lines, news...), w, full)
	}
	status := m.footer.text
	switch {
	case status == "" && len(m.footer.audit) > 0 && h == 1:
		last := m.footer.audit[len(m.footer.audit)-1]
		status = "last action " + last.at + " " + last.text
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
