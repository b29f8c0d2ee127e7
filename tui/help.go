package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// helpBindings are the keys that apply now, as the one-line help under
// the screen shows them: the focused component's, which the mode names.
func (m *Model) helpBindings() []key.Binding {
	switch m.mode {
	case modeConfirm:
		if m.confirm != nil {
			return m.confirm.ShortHelp()
		}
		return []key.Binding{m.confirmKeys.Yes, m.confirmKeys.No}
	case modeFilter:
		return m.input.ShortHelp()
	case modeDetail:
		return m.detail.ShortHelp()
	case modeHelp:
		return m.helpScreen.ShortHelp()
	case modeFindings:
		return m.findings.ShortHelp()
	case modePicker:
		return m.fleet.ShortHelp()
	case modeTimeline:
		return m.timelineHelp()
	}
	// The line is cut at the screen's width: the pane's first keys, then
	// the findings and the full help, so "? help" shows even at 80 columns.
	g := m.keys
	var out, rest []key.Binding
	if m.replay != nil {
		out = append(out, m.replay.ShortHelp()...)
	}
	pane := m.focused().FullHelp()
	out = append(out, pane[0]...)
	rest = append(rest, pane[1]...)
	out = append(out, m.findings.keys.Open, g.Help)
	if m.fleet.active() {
		out = append(out, m.fleet.ShortHelp()...)
	}
	if m.promFleet.configured() {
		out = append(out, promFleetOpen)
	}
	out = append(out, rest...)
	if m.replay != nil {
		out = append(out, m.replay.FullHelp()[1]...)
	} else {
		out = append(out, g.Pause)
	}
	return append(out, g.Focus, g.Quit)
}

// helpGroups is every key of the dashboard, grouped by where it applies:
// each pane lists its own.
func (m *Model) helpGroups() []helpGroup {
	m.wire()
	replay := "Replay"
	if m.replay == nil {
		replay = "Replay (slotwatch replay only)"
	}
	groups := []helpGroup{{"Global", append(m.keys.list(), m.findings.keys.Open, m.timeline.keys.Open)}}
	if m.fleet.active() {
		groups = append(groups, m.fleet.helpGroups()...)
	}
	groups = append(groups, helpGroup{"Navigation", m.nav.list()})
	groups = append(groups, m.sessions.helpGroups()...)
	groups = append(groups, m.groups.helpGroups()...)
	groups = append(groups, m.redis.helpGroups()...)
	groups = append(groups, m.findings.helpGroups()...)
	k := m.confirmKeys
	groups = append(groups, helpGroup{"Confirmation dialog", []key.Binding{k.Yes, k.No,
		bind([]string{"up", "down"}, "↑/↓", "scroll the targets"), k.Instead}})
	groups = append(groups, m.input.helpGroups()...)
	groups = append(groups, helpGroup{replay, newReplayKeys().list()})
	if m.promFleet.configured() {
		groups = append(groups, m.promFleet.helpGroup())
	}
	return groups
}

// helpScreen is the full help: every key, grouped, with what is disabled
// and why, in pages that fit the screen.
type helpScreen struct {
	c             *common
	keys          helpKeys
	width, height int
	groups        []helpGroup
	back          uiMode // the mode closing returns to
	page          int
}

// open shows the first page; closing returns to back.
func (p *helpScreen) open(back uiMode) { p.back, p.page = back, 0 }

func (p *helpScreen) SetSize(w, h int) { p.width, p.height = w, h }

// Update pages through the help and closes it.
func (p *helpScreen) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	h := p.keys
	switch {
	case key.Matches(km, p.c.global.Help, h.Close, p.c.global.Quit):
		p.c.send(setModeMsg{mode: p.back})
	case key.Matches(km, h.Next):
		p.page = min(p.page+1, len(p.helpPagesFor(p.width, p.height))-1)
	case key.Matches(km, h.Prev):
		p.page = max(p.page-1, 0)
	}
	return nil
}

func (p *helpScreen) ShortHelp() []key.Binding {
	return []key.Binding{p.keys.Next, p.keys.Prev, p.keys.Close, p.c.global.Quit}
}

func (p *helpScreen) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

func (p *helpScreen) View() string { return p.fullHelp(p.width, p.height).String() }

// prepareHelp gives the help screen the groups that apply now and the
// screen under the title bar.
func (m *Model) prepareHelp() {
	m.helpScreen.groups = m.helpGroups()
	m.helpScreen.SetSize(m.width, m.height-1)
}

// fullHelp lists every key, grouped, with what is disabled and why. Groups
// flow into as many columns as fit; what does not fit goes to further
// pages (→ / ←), so nothing is cut at 80×24.
func (p *helpScreen) fullHelp(w, h int) block {
	head, foot := p.helpHeadFoot()
	pages := p.helpPagesFor(w, h)
	page := min(p.page, len(pages)-1)
	title := "Keys (? or Esc closes)"
	if len(pages) > 1 {
		title = fmt.Sprintf("Keys · page %d of %d (→/pgdn next, ←/pgup previous; ? or Esc closes)", page+1, len(pages))
	}
	lines := append([]string{p.c.st.heading.Render(title)}, head...)
	lines = append(lines, pages[page]...)
	for len(lines) < h-len(foot) {
		lines = append(lines, "")
	}
	return fitBlock(append(lines, foot...), w, h)
}

func (p *helpScreen) helpHeadFoot() (head, foot []string) {
	head = []string{""}
	if p.c.actionsDisabled() {
		head = append(head, p.c.st.critical.Render("x = disabled: "+p.c.disabledReason()))
	}
	foot = []string{fmt.Sprintf("G terminates idle sessions older than %s in the group under the cursor.", durOf(p.c.opts.GroupIdleOver)),
		"Alerts read FIRING / PENDING / RESOLVED; '>' is the cursor, '*' a marked row."}
	return head, foot
}

// helpPagesFor lays the help out for a w×h screen area.
func (p *helpScreen) helpPagesFor(w, h int) [][]string {
	head, foot := p.helpHeadFoot()
	colW := min(max(w/2, 40), 48)
	per := max(w/colW, 1)
	room := max(h-1-len(head)-len(foot)-1, 4)
	return helpPages(p.helpColumns(), colW, per, room)
}

// helpColumns renders each group as a column cell list.
func (p *helpScreen) helpColumns() [][]string {
	var cols [][]string
	for _, g := range p.groups {
		c := []string{p.c.st.bold.Render(g.title)}
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
