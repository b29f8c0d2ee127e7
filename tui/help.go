package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// helpBindings are the keys that apply now: they follow mode and focus, as
// the one-line help under the screen shows them.
func (m *Model) helpBindings() []key.Binding {
	k := m.keys
	g := k.global
	switch m.mode {
	case modeConfirm:
		out := []key.Binding{k.confirm.Yes, k.confirm.No}
		if m.confirm != nil && m.confirm.guard == nil {
			out = append(out, k.confirm.Down) // a guard has no target list
		}
		if m.confirm != nil && m.confirm.offersTerminate() {
			out = append(out, k.confirm.Instead)
		}
		return out
	case modeFilter:
		return []key.Binding{k.filter.Apply, k.filter.Clear}
	case modeDetail:
		return []key.Binding{k.detail.Back, k.sessions.Cancel, k.sessions.Terminate, k.nav.Down, g.Quit}
	case modeHelp:
		return []key.Binding{k.help.Next, k.help.Prev, k.help.Close, g.Quit}
	case modeFindings:
		return []key.Binding{k.findings.Act, k.nav.Down, k.nav.PageDown, k.findings.Back, g.Help, g.Quit}
	case modeTimeline:
		return m.timelineHelp()
	case modePicker:
		f := m.fleet.keys
		return []key.Binding{f.Choose, f.Down, f.Select, f.Close, g.Quit}
	}
	// The line is cut at the screen's width: the pane's first keys, then
	// the findings and the full help, so "? help" shows even at 80 columns.
	var out []key.Binding
	if m.replay != nil {
		out = append(out, k.replay.Play, k.replay.Back, k.replay.Forward)
	}
	var rest []key.Binding
	switch m.focus {
	case focusGroups:
		out = append(out, k.groups.Filter, k.groups.TerminateGroup, k.groups.ByClient)
		rest = append(rest, k.nav.Down)
	case focusRedis:
		out = append(out, k.redis.Clients, k.redis.Kill)
		rest = append(rest, k.nav.Down)
	case focusFindings:
		out = append(out, k.sessions.Detail, k.nav.Down)
	default:
		s := k.sessions
		out = append(out, s.Detail, s.Terminate, s.Filter)
		if m.sessions.filtered() {
			out = append(out, s.ClearFilter)
		}
		rest = append(rest, s.Mark, s.Cancel, s.TerminateGroup, s.Sort, s.Idle, s.Active)
	}
	out = append(out, k.findings.Open, g.Help)
	if m.fleet.active() {
		out = append(out, m.fleet.keys.Select, m.fleet.keys.Picker)
	}
	out = append(out, rest...)
	if m.replay != nil {
		out = append(out, k.replay.Faster, k.replay.Slower)
	} else {
		out = append(out, g.Pause)
	}
	return append(out, g.Focus, g.Quit)
}

type helpGroup struct {
	title string
	keys  []key.Binding
}

// helpGroups is every key of the dashboard, grouped by where it applies.
func (m *Model) helpGroups() []helpGroup {
	k := m.keys
	s := k.sessions
	replay := "Replay"
	if m.replay == nil {
		replay = "Replay (slotwatch replay only)"
	}
	groups := []helpGroup{
		{"Global", append(k.global.list(), k.findings.Open, m.timeline.keys.Open)},
		{"Navigation", k.nav.list()},
		{"Sessions table", []key.Binding{s.Detail, s.Filter, s.ClearFilter, s.Sort, s.Reverse,
			s.Active, s.Idle, s.IdleTx, s.Waiting, s.AllStates}},
		{"Session actions", []key.Binding{s.Mark, s.ClearMarks, s.Cancel, s.Terminate, s.TerminateGroup}},
		{"Groups pane", []key.Binding{k.groups.Filter, k.groups.ByClient, k.groups.TerminateGroup}},
		{"Redis pane", []key.Binding{k.redis.Clients, k.redis.Kill}},
		{"Findings (f, or enter on a finding line)", []key.Binding{
			bind([]string{"up", "down"}, "↑/↓", "previous/next finding"), bind([]string{"pgup", "pgdown"}, "pgup/pgdn", "scroll"),
			k.findings.Act, k.findings.Back}},
		{"Confirmation dialog", []key.Binding{k.confirm.Yes, k.confirm.No,
			bind([]string{"up", "down"}, "↑/↓", "scroll the targets"), k.confirm.Instead}},
		{"Text filter (/)", []key.Binding{k.filter.Apply, k.filter.Clear}},
		{replay, k.replay.list()},
	}
	if m.fleet.active() {
		f := m.fleet.keys
		servers := helpGroup{"Servers (several watched)", []key.Binding{f.Select, f.Picker, f.Choose, f.Close}}
		groups = slices.Insert(groups, 1, servers)
	}
	return groups
}

// fullHelp lists every key, grouped, with what is disabled and why. Groups
// flow into as many columns as fit; what does not fit goes to further
// pages (→ / ←), so nothing is cut at 80×24.
func (m *Model) fullHelp(w, h int) block {
	head, foot := m.helpHeadFoot()
	pages := m.helpPagesFor(w, h)
	page := min(m.helpPage, len(pages)-1)
	title := "Keys (? or Esc closes)"
	if len(pages) > 1 {
		title = fmt.Sprintf("Keys · page %d of %d (→/pgdn next, ←/pgup previous; ? or Esc closes)", page+1, len(pages))
	}
	lines := append([]string{m.st.heading.Render(title)}, head...)
	lines = append(lines, pages[page]...)
	for len(lines) < h-len(foot) {
		lines = append(lines, "")
	}
	return fitBlock(append(lines, foot...), w, h)
}

func (m *Model) helpHeadFoot() (head, foot []string) {
	head = []string{""}
	if m.actionsDisabled() {
		head = append(head, m.st.critical.Render("x = disabled: "+m.disabledReason()))
	}
	foot = []string{fmt.Sprintf("G terminates idle sessions older than %s in the group under the cursor.", durOf(m.opts.GroupIdleOver)),
		"Alerts read FIRING / PENDING / RESOLVED; '>' is the cursor, '*' a marked row."}
	return head, foot
}

// helpPagesFor lays the help out for a w×h screen area.
func (m *Model) helpPagesFor(w, h int) [][]string {
	head, foot := m.helpHeadFoot()
	colW := min(max(w/2, 40), 48)
	per := max(w/colW, 1)
	room := max(h-1-len(head)-len(foot)-1, 4)
	return helpPages(m.helpColumns(), colW, per, room)
}

// helpColumns renders each group as a column cell list.
func (m *Model) helpColumns() [][]string {
	var cols [][]string
	for _, g := range m.helpGroups() {
		c := []string{m.st.bold.Render(g.title)}
		for _, b := range g.keys {
			hk := b.Help()
			mark := " "
			if !b.Enabled() {
				mark = "x" // disabled; the heading says why
			}
			entry := fmt.Sprintf("%s %-9s %s", mark, hk.Key, hk.Desc)
			c = append(c, entry)
		}
		cols = append(cols, c)
	}
	return cols
}

// helpPages flows groups top to bottom into columns of at most room lines
// (a group splits only when it alone is taller), per columns of colW cells
// to a page.
func helpPages(groups [][]string, colW, per, room int) [][]string {
	var columns [][]string
	var cur []string
	for _, g := range groups {
		for len(g) > room {
			if len(cur) > 0 {
				columns, cur = append(columns, cur), nil
			}
			columns, g = append(columns, g[:room]), g[room:]
		}
		if len(cur) > 0 && len(cur)+1+len(g) > room {
			columns, cur = append(columns, cur), nil
		}
		if len(cur) > 0 {
			cur = append(cur, "")
		}
		cur = append(cur, g...)
	}
	if len(cur) > 0 {
		columns = append(columns, cur)
	}
	var pages [][]string
	for start := 0; start < len(columns); start += per {
		row := columns[start:min(start+per, len(columns))]
		height := 0
		for _, c := range row {
			height = max(height, len(c))
		}
		page := make([]string, height)
		for i := range page {
			var b strings.Builder
			for _, c := range row {
				cell := ""
				if i < len(c) {
					cell = c[i]
				}
				b.WriteString(fitLine(cell, colW))
			}
			page[i] = b.String()
		}
		pages = append(pages, page)
	}
	if len(pages) == 0 {
		pages = [][]string{nil}
	}
	return pages
}
