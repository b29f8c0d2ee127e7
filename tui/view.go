package tui

import (
	"fmt"

	"github.com/slotwatch/slotwatch/collectors"
)

// Minimum terminal size the dashboard is designed for.
const (
	minWidth  = 80
	minHeight = 24
)

// layout is how many rows each band of the screen gets.
type layout struct {
	alerts, findings, middle, sessions, footer int
	fleet                                      int // the fleet block's lines; 0 for a single target
	probe                                      int // the probe's refusal reason, wrapped
	strip                                      int // the jobs and audit strip when their panes do not fit
}

// layout splits the height: fixed header lines, alerts and findings grow
// with the screen, the sessions table takes what is left.
func (m *Model) layout() layout {
	h := m.height
	l := layout{alerts: 2, findings: 1, middle: 7, footer: 1}
	switch {
	case h >= 45:
		l = layout{alerts: 6, findings: 3, middle: 12, footer: 6}
	case h >= 34:
		l = layout{alerts: 4, findings: 2, middle: 9, footer: 3}
	}
	if n := m.alertCount(); n < l.alerts {
		l.alerts = max(n, 1)
	}
	if n := len(m.frame.Findings); n < l.findings {
		l.findings = max(n, 1)
	}
	if n := m.fleet.rowsWanted(); n > 0 {
		l.fleet = min(n, fleetBudget(h))
	}
	// Announcements take the status line; the audit pane above it keeps
	// its rows, so every viewer sees both the news and the shared log.
	if n := m.newsRoom(); n > 0 {
		if l.footer > 1 {
			l.footer += n - 1
		} else {
			l.footer = n
		}
	}
	l.probe = len(m.probeReasonLines(m.width))
	if stripWanted(l) {
		l.strip = len(m.stripLines(l, m.width))
	}
	// title, PG, Redis lines and the help line.
	l.sessions = h - 4 - l.fleet - l.probe - l.alerts - l.findings - l.middle - l.footer - l.strip
	return l
}

// View renders exactly width×height cells.
func (m Model) View() string {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < minWidth || h < minHeight {
		return m.tooSmall(w, h).String()
	}
	if m.mode == modeHelp {
		return stack(fitBlock([]string{m.titleBar(w)}, w, 1), m.fullHelp(w, h-1)).String()
	}
	if m.mode == modeFindings {
		return m.findingsScreen(w, h).String()
	}
	if m.mode == modeTimeline {
		return m.timelineScreen(w, h)
	}
	if !m.hasFrame {
		lines := []string{m.titleBar(w), "", "  Waiting for the first sample…"}
		return stack(fitBlock(lines, w, h-1), m.helpLine(w)).String()
	}
	l := m.layout()
	header := append([]string{m.titleBar(w)}, m.fleet.view(m.st)...)
	header = append(header, m.pgLine(), m.redisLine())
	header = append(header, m.probeReasonLines(w)...)
	header = append(header, m.alertLines(l.alerts)...)
	header = append(header, m.findingLines(l.findings)...)
	top := fitBlock(header, w, 3+l.fleet+l.probe+l.alerts+l.findings)
	bodyH := l.middle + l.sessions
	var body block
	switch m.mode {
	case modeConfirm:
		body = m.dialogView(w, bodyH)
	case modeDetail:
		body = m.detailBlock(w, bodyH)
	case modePicker:
		body = m.fleet.pickerView(m.st, w, bodyH)
	default:
		body = stack(m.middleView(w, l.middle), m.sessionsView(w, l.sessions))
	}
	var strip block
	if l.strip > 0 {
		strip = fitBlock(m.stripLines(l, w), w, l.strip)
	}
	return stack(top, body, strip, m.footerView(w, l.footer), m.helpLine(w)).String()
}

// fleetBudget is how many lines the fleet block may take at height h;
// the sessions table keeps the rest.
func fleetBudget(h int) int {
	switch {
	case h >= 50:
		return 9
	case h >= 40:
		return 6
	case h >= 30:
		return 4
	}
	return 3
}

// sessionsView is the sessions table, or why there is none: PostgreSQL
// DOWN or not configured is "no data", never "no session matches".
func (m *Model) sessionsView(w, h int) block {
	switch st := m.status(collectors.SourcePostgres); st.state {
	case srcDown:
		return m.noData(" Sessions", "PostgreSQL", st, w, h)
	case srcOff:
		return fitBlock([]string{m.st.bold.Render(" Sessions"), m.st.dim.Render("  no data: PostgreSQL not configured")}, w, h)
	}
	return m.sessions.view(m.st, w, h, m.focus == focusSessions, m.filterLine())
}

func (m *Model) tooSmall(w, h int) block {
	msg := fmt.Sprintf("Terminal too small: %d×%d. slotwatch needs at least %d×%d; enlarge the window (q quits).",
		w, h, minWidth, minHeight)
	return fitBlock(wrapText(msg, w), w, h)
}

// middleView places the PostgreSQL states, the groups, the Redis pane and,
// on wide or tall screens, the jobs pane side by side. A source without
// data gets panes that say so instead of empty tables.
func (m *Model) middleView(w, h int) block {
	statesW := 24
	switch {
	case w >= 160:
		statesW = 44
	case w >= 110:
		statesW = 32
	}
	rest := w - statesW - 2
	groupsW := rest / 2
	if w < 110 { // the Redis pane keeps its NAME column: groups' names are cut in the middle
		groupsW = rest * 3 / 7
	}
	redisW := rest - groupsW
	pgSt := m.status(collectors.SourcePostgres)
	states := func(h int) block {
		if pgSt.state == srcDown {
			return m.noData(" PostgreSQL by state", "PostgreSQL", pgSt, statesW, h)
		}
		b := m.pgStates(statesW, h)
		if pgSt.state == srcStale && len(b) > 0 { // last good counts: say how old on the pane itself
			b[0] = fitLine(m.st.bold.Render(" PostgreSQL ")+m.st.critical.Render("STALE "+ageText(pgSt.age)), statesW)
		}
		return b
	}
	left := states(h)
	if jobsH := 2 + m.jobRows(); h >= 9 && m.status(collectors.SourceJobs).state != srcOff {
		jh := min(jobsH, h/3+1)
		left = stack(states(h-jh), m.jobsView(statesW, jh))
	}
	groups := m.groups.view(m.st, groupsW, h, m.focus == focusGroups)
	if pgSt.state == srcDown {
		groups = m.noData(" Connections by group", "PostgreSQL", pgSt, groupsW, h)
	}
	return joinH("│", left, groups, m.rightColumn(redisW, h))
}

// noData is a pane for a source that has never answered: its title and
// "no data", never an empty table that reads as "nothing is wrong".
func (m *Model) noData(title, source string, st srcStatus, w, h int) block {
	lines := []string{m.st.bold.Render(title), m.st.critical.Render("  no data") + " (DOWN " + ageText(st.age) + ")",
		m.st.dim.Render("  " + source + ": no answer")}
	return fitBlock(lines, w, h)
}

func (m *Model) jobRows() int {
	if j := m.frame.Snapshot.Jobs; j != nil {
		return max(len(j.OverCapacity), 1)
	}
	return 1
}

func (m *Model) filterLine() string {
	if m.mode != modeFilter {
		return ""
	}
	return "/" + clean(m.input.Value()) + "_  (enter keeps, esc clears)"
}

func (m *Model) helpLine(w int) block {
	hm := m.help
	hm.Width = w
	return fitBlock([]string{hm.ShortHelpView(m.helpBindings())}, w, 1)
}
