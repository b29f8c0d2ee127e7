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
	if n := m.header.alertCount(); n < l.alerts {
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
	if n := m.footer.newsRoom(); n > 0 {
		if l.footer > 1 {
			l.footer += n - 1
		} else {
			l.footer = n
		}
	}
	l.probe = len(m.header.probeReasonLines(m.width))
	if stripWanted(l) {
		l.strip = len(m.footer.stripLines(l, m.width))
	}
	// title, PG, Redis lines and the help line.
	l.sessions = h - 4 - l.fleet - l.probe - l.alerts - l.findings - l.middle - l.footer - l.strip
	return l
}

// View renders exactly width×height cells.
func (m Model) View() string {
	m.wire()
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < minWidth || h < minHeight {
		return tooSmall(w, h).String()
	}
	if m.mode == modeHelp {
		m.prepareHelp()
		return stack(fitBlock([]string{m.header.titleBar(w)}, w, 1), m.helpScreen.fullHelp(w, h-1)).String()
	}
	if m.mode == modeFindings {
		return m.findingsScreen(w, h).String()
	}
	if m.mode == modePromFleet {
		return m.promFleetScreen(w, h).String()
	}
	if m.mode == modeTimeline {
		return m.timelineScreen(w, h)
	}
	if !m.hasFrame {
		lines := []string{m.header.titleBar(w), "", "  Waiting for the first sample…"}
		return stack(fitBlock(lines, w, h-1), m.helpLine(w)).String()
	}
	l := m.layout()
	header := append([]string{m.header.titleBar(w)}, m.fleet.view(m.st)...)
	m.header.SetSize(w, 2+l.probe+l.alerts)
	m.header.alerts = l.alerts
	header = append(header, m.header.lines()...)
	header = append(header, m.findings.findingLines(l.findings)...)
	top := fitBlock(header, w, 3+l.fleet+l.probe+l.alerts+l.findings)
	bodyH := l.middle + l.sessions
	var body block
	switch m.mode {
	case modeConfirm:
		body = m.confirm.dialogView(w, bodyH)
	case modeDetail:
		m.detail.SetSize(w, bodyH)
		body = m.detail.render()
	case modePicker:
		body = m.fleet.pickerView(m.st, w, bodyH)
	default:
		m.sessions.SetSize(w, l.sessions)
		m.sessions.prompt = m.input.View()
		body = stack(m.middleView(w, l.middle), m.sessions.render())
	}
	var strip block
	if l.strip > 0 {
		strip = fitBlock(m.footer.stripLines(l, w), w, l.strip)
	}
	return stack(top, body, strip, m.footer.footerView(w, l.footer), m.helpLine(w)).String()
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

func tooSmall(w, h int) block {
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
	m.states.SetSize(statesW, h)
	left := m.states.render()
	if jobsH := 2 + m.jobs.jobRows(); h >= 9 && m.status(collectors.SourceJobs).state != srcOff {
		jh := min(jobsH, h/3+1)
		m.states.SetSize(statesW, h-jh)
		m.jobs.SetSize(statesW, jh)
		left = stack(m.states.render(), m.jobs.jobsView(statesW, jh))
	}
	m.groups.SetSize(groupsW, h)
	return joinH("│", left, m.groups.render(), m.rightColumn(redisW, h))
}

func (m *Model) helpLine(w int) block {
	hm := m.help
	hm.Width = w
	return fitBlock([]string{hm.ShortHelpView(m.helpBindings())}, w, 1)
}

// findingsScreen is the full-screen findings view: title bar, the findings,
// the status line and the keys.
func (m *Model) findingsScreen(w, h int) block {
	m.sizeFindings()
	body := m.findings.findingsBody(m.findings.width, m.findings.height)
	return stack(fitBlock([]string{m.header.titleBar(w)}, w, 1), body, m.footer.footerView(w, m.findingsFooter()), m.helpLine(w))
}

// findingsFooter is the status line, or the lines the newest announcement
// wraps to.
func (m *Model) findingsFooter() int { return min(max(1, m.footer.newsRoom()), max(m.height-4, 1)) }

// sizeFindings gives the findings view the screen between the title bar
// and the status line: its title and the lines of findings it shows.
func (m *Model) sizeFindings() { m.findings.SetSize(m.width, max(m.height-3-m.findingsFooter(), 1)+1) }

// rightColumn is the Redis pane, with pgbouncer's pools under it when a
// pooler is configured (or alone when Redis is not).
func (m *Model) rightColumn(w, h int) block {
	m.redis.SetSize(w, h)
	if m.status(collectors.SourcePgBouncer).state == srcOff {
		return m.redis.render()
	}
	if m.status(collectors.SourceRedis).state == srcOff {
		return m.pooler.poolerView(w, h)
	}
	if h < 8 {
		return m.redis.render()
	}
	pools := 1
	if b := m.frame.Snapshot.PgBouncer; b != nil {
		pools = max(len(b.Pools), 1)
	}
	ph := min(2+pools, h/2)
	m.redis.SetSize(w, h-ph)
	return stack(m.redis.render(), m.pooler.poolerView(w, ph))
}
