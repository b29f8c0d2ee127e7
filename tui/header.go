package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// sourceAge is how old a source's last good sample is at m.now, and whether
// that makes it STALE (older than three sampling intervals).
func (m *Model) sourceAge(source string, lastGood time.Time, every time.Duration) (time.Duration, bool) {
	if lastGood.IsZero() {
		return 0, true
	}
	age := m.now.Sub(m.frameAt) + m.frame.Snapshot.TakenAt.Sub(lastGood)
	age = max(age, 0)
	_, failed := m.frame.Snapshot.Errors[source]
	return age, failed || age > 3*every
}

// freshness renders "age 2s" or "STALE 45s: <error>".
func (m *Model) freshness(source string, lastGood time.Time, every time.Duration) string {
	age, stale := m.sourceAge(source, lastGood, every)
	if !stale {
		return "age " + ageText(age)
	}
	msg := m.st.critical.Render("STALE " + ageText(age))
	if e := m.frame.Snapshot.Errors[source]; e != "" {
		msg += " " + oneLine(e)
	}
	return msg
}

// withFreshness appends a source's age; a STALE marking goes right after
// the first part, where a narrow terminal still shows it.
func (m *Model) withFreshness(parts []string, source string, lastGood time.Time, every time.Duration) []string {
	f := m.freshness(source, lastGood, every)
	if _, stale := m.sourceAge(source, lastGood, every); stale && len(parts) > 0 {
		return append([]string{parts[0], f}, parts[1:]...)
	}
	return append(parts, f)
}

func (m *Model) titleBar(w int) string {
	left := " slotwatch " + m.opts.Mode.String()
	if m.opts.Title != "" {
		left += " · " + oneLine(m.opts.Title)
	}
	var flags []string
	if m.replay != nil {
		flags = append(flags, m.replay.status())
	}
	if m.paused {
		flags = append(flags, "PAUSED (collection continues)")
	}
	switch {
	case m.opts.Mode == ModeReplay:
	case m.opts.Mitigator == nil:
		flags = append(flags, "ACTIONS UNAVAILABLE")
	case m.opts.Mitigator.ReadOnly():
		flags = append(flags, "READ-ONLY: actions disabled")
	}
	clock := ""
	if m.hasFrame {
		clock = m.frame.Snapshot.TakenAt.UTC().Format("2006-01-02 15:04:05Z")
	}
	right := strings.Join(append(flags, clock), "  ") + " "
	pad := max(w-len([]rune(left))-len([]rune(right)), 1)
	return m.st.title.Render(fitLine(left+strings.Repeat(" ", pad)+right, w))
}

func (m *Model) pgLine() string {
	s := m.frame.Snapshot
	pg := s.Postgres
	if pg == nil {
		return "PG not configured"
	}
	usable := pg.Usable()
	p := pct(float64(pg.Used()), float64(usable))
	used := fmt.Sprintf("%d/%d used", pg.Used(), usable)
	if p >= 90 {
		used = m.st.critical.Render(used)
	}
	parts := []string{fmt.Sprintf("PG %s %s %.0f%% max %d", used, gauge(pg.Used(), usable, 10), p, pg.MaxConnections),
		m.probeText()}
	parts = m.withFreshness(parts, collectors.SourcePostgres, pg.LastGoodAt, m.opts.Intervals.Postgres)
	return strings.Join(append(parts, oneLine(pg.ServerVersion+" "+pg.Target)), " │ ")
}

func (m *Model) probeText() string {
	pr := m.frame.Snapshot.Probe
	if pr == nil {
		return "probe off"
	}
	if pr.OK {
		return fmt.Sprintf("probe OK %.0fms", pr.ConnectMS)
	}
	t := "probe FAIL"
	if pr.SQLState != "" {
		t += " " + oneLine(pr.SQLState)
	}
	if pr.SQLState == "53300" {
		t += " slots reserved"
	}
	t = m.st.critical.Render(t) + fmt.Sprintf(" %.0fms", pr.ConnectMS)
	if age, stale := m.sourceAge(collectors.SourceProbe, pr.SampledAt, m.opts.Intervals.Probe); stale {
		t += " " + m.st.critical.Render("STALE "+durOf(age))
	}
	return t
}

func (m *Model) redisLine() string {
	s := m.frame.Snapshot
	var parts []string
	if r := s.Redis; r != nil {
		clients := fmt.Sprintf("Redis %d/%d clients %.0f%%", r.ConnectedClients, r.MaxClients,
			pct(float64(r.ConnectedClients), float64(r.MaxClients)))
		if r.MaxClients > 0 && pct(float64(r.ConnectedClients), float64(r.MaxClients)) >= 80 {
			clients = m.st.critical.Render(clients)
		}
		parts = append(parts, clients)
		if _, stale := m.sourceAge(collectors.SourceRedis, r.LastGoodAt, m.opts.Intervals.Redis); stale {
			parts = m.withFreshness(parts, collectors.SourceRedis, r.LastGoodAt, m.opts.Intervals.Redis)
		}
		parts = append(parts, fmt.Sprintf("rejected %d", r.RejectedConnections))
	} else {
		parts = append(parts, "Redis not configured")
	}
	if j := s.Jobs; j != nil {
		t := fmt.Sprintf("jobs over capacity %d", len(j.OverCapacity))
		if len(j.OverCapacity) > 0 {
			t = m.st.critical.Render(t)
			c := j.OverCapacity[0]
			t += fmt.Sprintf(": %s %d/%d +%d", oneLine(c.ID), c.Count, c.Limit, c.Excess)
		}
		if _, stale := m.sourceAge(collectors.SourceJobs, j.LastGoodAt, m.opts.Intervals.Jobs); stale {
			t += " " + m.freshness(collectors.SourceJobs, j.LastGoodAt, m.opts.Intervals.Jobs)
		}
		parts = append(parts, t)
	}
	if r := s.Redis; r != nil {
		if _, stale := m.sourceAge(collectors.SourceRedis, r.LastGoodAt, m.opts.Intervals.Redis); !stale {
			parts = append(parts, m.freshness(collectors.SourceRedis, r.LastGoodAt, m.opts.Intervals.Redis))
		}
		parts = append(parts, oneLine(r.ServerVersion+" "+r.Target))
	}
	return strings.Join(parts, " │ ")
}

// alertRank orders firing before pending before resolved.
func alertRank(s analysis.AlertState) int {
	switch s {
	case analysis.Firing:
		return 0
	case analysis.Pending:
		return 1
	case analysis.Resolved:
		return 2
	}
	return 3
}

// visibleAlerts are the alerts worth a line: not inactive, most urgent first.
func visibleAlerts(alerts []analysis.Alert) []analysis.Alert {
	var out []analysis.Alert
	for _, a := range alerts {
		if a.State != analysis.Inactive && a.State != "" {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b analysis.Alert) int { return alertRank(a.State) - alertRank(b.State) })
	return out
}

func (m *Model) alertLines(n int) []string {
	alerts := visibleAlerts(m.frame.Alerts)
	if len(alerts) == 0 {
		return []string{m.st.ok.Render("OK no alert pending or firing")}
	}
	lines := make([]string, 0, n)
	for i, a := range alerts {
		if len(lines) == n-1 && len(alerts)-i > 1 {
			return append(lines, m.alertNames(alerts[i:]))
		}
		lines = append(lines, m.alertLine(a))
	}
	return lines
}

// alertNames lists the alerts that got no line of their own, by state.
func (m *Model) alertNames(alerts []analysis.Alert) string {
	var parts []string
	for _, st := range []analysis.AlertState{analysis.Firing, analysis.Pending, analysis.Resolved} {
		var names []string
		for _, a := range alerts {
			if a.State == st {
				names = append(names, oneLine(a.Name))
			}
		}
		if len(names) > 0 {
			parts = append(parts, m.alertLabel(st)+" "+strings.Join(names, ", "))
		}
	}
	return strings.Join(parts, " · ")
}

func (m *Model) alertLabel(s analysis.AlertState) string {
	switch s {
	case analysis.Firing:
		return m.st.critical.Render("!! FIRING  ")
	case analysis.Pending:
		return m.st.warning.Render(" ~ PENDING ")
	}
	return m.st.ok.Render("ok RESOLVED")
}

func (m *Model) alertLine(a analysis.Alert) string {
	label := m.alertLabel(a.State)
	since := ""
	if !a.Since.IsZero() {
		since = fmt.Sprintf(" since %s (%s)", a.Since.UTC().Format("15:04:05"),
			durOf(m.frame.Snapshot.TakenAt.Sub(a.Since)))
	}
	summary := oneLine(a.Summary)
	if summary == "" {
		summary = fmt.Sprintf("value %g", a.Value)
	}
	return fmt.Sprintf("%s %s%s: %s", label, oneLine(a.Name), since, summary)
}

func severityRank(s string) int {
	switch s {
	case "critical":
		return 0
	case "warning":
		return 1
	}
	return 2
}

func (m *Model) findingLines(n int) []string {
	fs := slices.Clone(m.frame.Findings)
	slices.SortStableFunc(fs, func(a, b analysis.Finding) int { return severityRank(a.Severity) - severityRank(b.Severity) })
	if len(fs) == 0 {
		return []string{m.st.dim.Render("Findings: none yet")}
	}
	var lines []string
	for i, f := range fs {
		if i == n {
			break
		}
		sev := strings.ToUpper(oneLine(f.Severity))
		if f.Severity == "critical" {
			sev = m.st.critical.Render(sev)
		}
		line := fmt.Sprintf("FINDING %s %s", sev, oneLine(f.Title))
		if f.About != "" {
			line += " — " + oneLine(f.About)
		}
		if i == n-1 && len(fs) > n {
			line += fmt.Sprintf("  (+%d more)", len(fs)-n)
		}
		lines = append(lines, line)
	}
	return lines
}
