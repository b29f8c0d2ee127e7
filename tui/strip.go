package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// probeReasonLines are the alert area's first lines when the connect probe
// is refused: the server's reason in full, wrapped, never cut ("remaining
// connection slots are reserved for non-replication superuser connections"
// and "sorry, too many clients already" call for different fixes).
func (h *headerPane) probeReasonLines(w int) []string {
	if !h.c.hasFrame {
		return nil
	}
	pr := h.c.frame.Snapshot.Probe
	if pr == nil || (pr.OK && h.c.status(collectors.SourceProbe).state != srcDown) {
		return nil
	}
	reason := probeReason(pr)
	if reason == "" {
		return nil
	}
	label := h.c.st.critical.Render("!! REFUSED ") + " "
	indent := ansi.StringWidth(label)
	what := "probe"
	if pr.SQLState != "" {
		what += " " + oneLine(pr.SQLState)
	}
	lines := wrapText(what+": "+reason, max(w-indent, 10))
	for i := range lines {
		if i == 0 {
			lines[i] = label + lines[i]
		} else {
			lines[i] = strings.Repeat(" ", indent) + lines[i]
		}
	}
	return lines
}

// stripWanted says whether the screen needs the one-line jobs and audit
// strip: the audit pane does not fit, so the job over capacity (when its
// pane is hidden too) and the last action are shown there instead.
func stripWanted(l layout) bool { return l.footer < 3 }

// stripLines are "jobs over capacity 2: 12345 58/50 +8 (+1 more) │ last
// action …" on one line when it fits the width, else one line each, so
// neither the job over capacity nor the last action is ever cut.
func (f *footerPane) stripLines(l layout, w int) []string {
	var parts []string
	if t := f.c.jobsText(); t != "" && l.middle < 9 {
		if j := f.c.frame.Snapshot.Jobs; j != nil && len(j.OverCapacity) > 1 {
			t += fmt.Sprintf(" (+%d more)", len(j.OverCapacity)-1)
		}
		parts = append(parts, t)
	}
	if a := f.audit; len(a) > 0 {
		last := a[len(a)-1]
		parts = append(parts, "last action "+last.at+" "+last.text)
	} else {
		parts = append(parts, f.c.st.dim.Render("no action yet"))
	}
	if one := " " + strings.Join(parts, " │ "); ansi.StringWidth(one) <= w || len(parts) == 1 {
		return []string{one}
	}
	lines := make([]string, len(parts))
	for i, p := range parts {
		lines[i] = " " + p
	}
	return lines
}

// ruleActive says whether the alert rule's condition holds now (pending or
// firing): the header colours a figure critical by the rule's own
// threshold, as configured, so the colour and the alert never disagree.
func (c *common) ruleActive(name string) bool {
	for _, a := range c.frame.Alerts {
		if a.Name == name && (a.State == analysis.Pending || a.State == analysis.Firing) {
			return true
		}
	}
	return false
}
