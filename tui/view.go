package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// Minimum terminal size the dashboard is designed for.
const (
	minWidth  = 80
	minHeight = 24
)

// layout is how many rows each band of the screen gets.
type layout struct {
	alerts, findings, middle, sessions, footer int
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
	if n := len(visibleAlerts(m.frame.Alerts)); n < l.alerts {
		l.alerts = max(n, 1)
	}
	if n := len(m.frame.Findings); n < l.findings {
		l.findings = max(n, 1)
	}
	// title, PG, Redis lines and the help line.
	l.sessions = h - 4 - l.alerts - l.findings - l.middle - l.footer
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
	if !m.hasFrame {
		lines := []string{m.titleBar(w), "", "  Waiting for the first sample…"}
		return stack(fitBlock(lines, w, h-1), m.helpLine(w)).String()
	}
	l := m.layout()
	header := []string{m.titleBar(w), m.pgLine(), m.redisLine()}
	header = append(header, m.alertLines(l.alerts)...)
	header = append(header, m.findingLines(l.findings)...)
	top := fitBlock(header, w, 3+l.alerts+l.findings)
	bodyH := l.middle + l.sessions
	var body block
	switch m.mode {
	case modeConfirm:
		body = m.dialogView(w, bodyH)
	case modeDetail:
		body = m.detailBlock(w, bodyH)
	default:
		body = stack(m.middleView(w, l.middle), m.sessions.view(m.st, w, l.sessions, m.focus == focusSessions, m.filterLine()))
	}
	return stack(top, body, m.footerView(w, l.footer), m.helpLine(w)).String()
}

func (m *Model) tooSmall(w, h int) block {
	msg := fmt.Sprintf("Terminal too small: %d×%d. slotwatch needs at least %d×%d; enlarge the window (q quits).",
		w, h, minWidth, minHeight)
	return fitBlock(wrapText(msg, w), w, h)
}

// middleView places the PostgreSQL states, the groups, the Redis pane and,
// on wide or tall screens, the jobs pane side by side.
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
	redisW := rest - groupsW
	states := m.pgStates(statesW, h)
	if jobsH := 2 + m.jobRows(); h >= 9 {
		jh := min(jobsH, h/3+1)
		states = stack(m.pgStates(statesW, h-jh), m.jobsView(statesW, jh))
	}
	return joinH("│", states, m.groups.view(m.st, groupsW, h, m.focus == focusGroups), m.redisView(redisW, h))
}

func (m *Model) jobRows() int {
	if j := m.frame.Snapshot.Jobs; j != nil {
		return max(len(j.OverCapacity), 1)
	}
	return 0
}

func (m *Model) filterLine() string {
	if m.mode != modeFilter {
		return ""
	}
	return "/" + clean(m.input.Value()) + "_  (enter keeps, esc clears)"
}

// helpBindings are the keys that apply now: they follow mode and focus.
func (m *Model) helpBindings() []key.Binding {
	k := m.keys
	g := k.global
	switch m.mode {
	case modeConfirm:
		return []key.Binding{k.confirm.Yes, k.confirm.No, k.confirm.Down}
	case modeFilter:
		return []key.Binding{k.filter.Apply, k.filter.Clear}
	case modeDetail:
		return []key.Binding{k.detail.Back, k.sessions.Cancel, k.sessions.Terminate, k.nav.Down, g.Quit}
	case modeHelp:
		return []key.Binding{g.Help, g.Quit}
	}
	var out []key.Binding
	if m.replay != nil {
		out = append(out, k.replay.Play, k.replay.Back, k.replay.Forward, k.replay.Faster, k.replay.Slower)
	}
	switch m.focus {
	case focusGroups:
		out = append(out, k.nav.Down, k.groups.TerminateGroup)
	case focusRedis:
		out = append(out, k.nav.Down, k.redis.Clients, k.redis.Kill)
	default:
		s := k.sessions
		out = append(out, s.Detail, s.Mark, s.Terminate, s.Cancel, s.TerminateGroup, s.Filter, s.Sort, s.Idle, s.Active)
	}
	if m.replay == nil {
		out = append(out, g.Pause)
	}
	return append(out, g.Focus, g.Help, g.Quit)
}

func (m *Model) helpLine(w int) block {
	hm := m.help
	hm.Width = w
	return fitBlock([]string{hm.ShortHelpView(m.helpBindings())}, w, 1)
}

// fullHelp lists every key, grouped, with what is disabled and why.
func (m *Model) fullHelp(w, h int) block {
	k := m.keys
	groups := []struct {
		title string
		keys  []key.Binding
	}{
		{"Global", k.global.list()},
		{"Navigation", k.nav.list()},
		{"Sessions table", []key.Binding{k.sessions.Detail, k.sessions.Filter, k.sessions.Sort, k.sessions.Reverse,
			k.sessions.Active, k.sessions.Idle, k.sessions.IdleTx, k.sessions.Waiting, k.sessions.AllStates}},
		{"Actions (sessions, groups, Redis)", []key.Binding{k.sessions.Mark, k.sessions.ClearMarks, k.sessions.Cancel,
			k.sessions.Terminate, k.sessions.TerminateGroup, k.redis.Clients, k.redis.Kill}},
		{"Confirmation dialog", []key.Binding{k.confirm.Yes, k.confirm.No}},
	}
	if m.replay != nil {
		groups = append(groups, struct {
			title string
			keys  []key.Binding
		}{"Replay", k.replay.list()})
	}
	lines := []string{m.st.heading.Render("Keys (? or Esc closes)"), ""}
	if m.actionsDisabled() {
		lines = append(lines, m.st.critical.Render(m.disabledReason()), "")
	}
	var cols [][]string
	for _, g := range groups {
		c := []string{m.st.bold.Render(g.title)}
		for _, b := range g.keys {
			hk := b.Help()
			entry := fmt.Sprintf("  %-8s %s", hk.Key, hk.Desc)
			if !b.Enabled() {
				entry += " (disabled)"
			}
			c = append(c, entry)
		}
		cols = append(cols, c)
	}
	lines = append(lines, columnsOf(cols, w, 38)...)
	lines = append(lines, "", fmt.Sprintf("G terminates idle sessions older than %s in the group under the cursor.",
		durOf(m.opts.GroupIdleOver)), "Alert states read FIRING / PENDING / RESOLVED; '>' marks the cursor, '*' a marked row.")
	return fitBlock(lines, w, h)
}

// columnsOf lays out help groups in as many columns as fit.
func columnsOf(groups [][]string, w, colW int) []string {
	per := max(w/colW, 1)
	var out []string
	for start := 0; start < len(groups); start += per {
		row := groups[start:min(start+per, len(groups))]
		height := 0
		for _, g := range row {
			height = max(height, len(g))
		}
		for i := 0; i < height; i++ {
			var b strings.Builder
			for _, g := range row {
				cell := ""
				if i < len(g) {
					cell = g[i]
				}
				b.WriteString(fitLine(cell, colW))
			}
			out = append(out, b.String())
		}
		out = append(out, "")
	}
	return out
}
