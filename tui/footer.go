package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/actions"
)

// footerPane holds the last action's result, the announcements from other
// served sessions and the recent audit entries.
type footerPane struct {
	c             *common
	width, height int
	text          string
	isError       bool
	news          []announcement // oldest first; see announce.go
	audit         []auditLine
}

// auditLines is the audit pane in rows lines: its title and the newest
// entries that fit.
func (f *footerPane) auditLines(w, rows int) []string {
	lines := []string{f.c.st.bold.Render(" Audit (newest last)")}
	entries := f.audit
	if room := rows - 1; len(entries) > room {
		entries = entries[len(entries)-max(room, 0):]
	}
	for _, e := range entries {
		lines = append(lines, "  "+e.at+" "+e.text)
	}
	if len(entries) == 0 {
		lines = append(lines, f.c.st.dim.Render("  no action yet"))
	}
	return []string(fitBlock(lines, w, rows))
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
func (c *common) auditCmd() tea.Cmd {
	src := c.opts.Mitigator
	if src == nil {
		return nil
	}
	return func() tea.Msg { return auditMsg{entries: formatAudit(src.RecentAudit(20))} }
}

func (f *footerPane) footerView(w, h int) block {
	// Announcements take the status line: the war room hears every action,
	// and the audit pane above keeps its rows (the layout adds theirs).
	news := f.newsBlock(w, h)
	auditRows := h - 1
	if len(news) > 0 {
		auditRows = h - len(news)
	}
	var lines []string
	if h > 1 && auditRows > 0 {
		lines = f.auditLines(w, auditRows)
	}
	if len(news) > 0 {
		return fitBlock(append(lines, news...), w, h)
	}
	status := f.text
	switch {
	case status == "":
		status = f.c.st.dim.Render("ready")
	case f.isError:
		status = f.c.st.critical.Render("ERROR ") + status
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

func (f *footerPane) SetSize(w, h int) { f.width, f.height = w, h }

// Update: the status line is written by the root (setText, setError,
// announce); the footer has no keys.
func (f *footerPane) Update(tea.Msg) tea.Cmd { return nil }

func (f *footerPane) View() string { return f.footerView(f.width, f.height).String() }

func (f *footerPane) ShortHelp() []key.Binding  { return nil }
func (f *footerPane) FullHelp() [][]key.Binding { return nil }
