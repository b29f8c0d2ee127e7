package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/collectors"
)

// groupsPane ranks who holds the connections: the leaker is the first line.
// By default a row is an (application, user, database) group as the
// snapshot has it; c splits the rows by client address too.
type groupsPane struct {
	c             *common
	keys          groupKeys
	width, height int
	groups        []collectors.SessionGroup
	cursor        int
	key           string
	byClient      bool
	// snapshot and sessions are the frame's, kept to regroup on toggle.
	snapshot []collectors.SessionGroup
	sessions []collectors.Session
}

func groupKey(g *collectors.SessionGroup) string {
	return g.ApplicationName + "|" + g.Usename + "|" + g.ClientAddr + "|" + g.Datname
}

// setFrame takes a frame's groups and sessions and shows them as the
// current grouping asks.
func (p *groupsPane) setFrame(groups []collectors.SessionGroup, sessions []collectors.Session) {
	p.snapshot, p.sessions = groups, sessions
	p.regroup()
}

func (p *groupsPane) regroup() {
	if p.byClient {
		p.set(collectors.GroupSessions(p.sessions, true))
		return
	}
	p.set(p.snapshot)
}

// toggleClient switches between groups by application/user/database and
// groups split by client address; the cursor stays on the same
// application/user/database (its first client row when splitting).
func (p *groupsPane) toggleClient() {
	var want *sessionScope
	if g := p.current(); g != nil {
		sc := scopeOf(*g, false)
		want = &sc
	}
	p.byClient = !p.byClient
	p.regroup()
	if want == nil {
		return
	}
	for i := range p.groups {
		if want.matches(p.groups[i].ApplicationName, p.groups[i].Usename, p.groups[i].Datname, "") {
			p.cursor = i
			p.move(0)
			return
		}
	}
}

// scope is what the row under the cursor stands for: its client address
// is part of it when the pane is split by client (or the data came
// grouped by client, as older recordings are).
func (p *groupsPane) scope() (sessionScope, bool) {
	g := p.current()
	if g == nil {
		return sessionScope{}, false
	}
	return scopeOf(*g, p.byClient || g.ClientAddr != ""), true
}

// sessionScope is the (application, user, database[, client]) scope of a
// group row: G terminates in it, Enter filters the sessions table to it.
type sessionScope struct {
	app, user, db, client string
	byClient              bool
}

func scopeOf(g collectors.SessionGroup, byClient bool) sessionScope {
	return sessionScope{app: g.ApplicationName, user: g.Usename, db: g.Datname, client: g.ClientAddr, byClient: byClient}
}

func (s sessionScope) matches(app, user, db, client string) bool {
	return s.app == app && s.user == user && s.db == db && (!s.byClient || s.client == client)
}

func (s sessionScope) matchesSession(x *collectors.Session) bool {
	return s.matches(x.ApplicationName, x.Usename, x.Datname, x.ClientAddr)
}

func (s sessionScope) label() string {
	l := fmt.Sprintf("%s / user %s / db %s", orDash(s.app), orDash(s.user), orDash(s.db))
	if s.byClient {
		l += " / client " + orDash(s.client)
	}
	return l
}

func (p *groupsPane) set(groups []collectors.SessionGroup) {
	p.groups = slices.Clone(groups)
	slices.SortStableFunc(p.groups, func(a, b collectors.SessionGroup) int {
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return cmp.Compare(b.OldestIdleSeconds, a.OldestIdleSeconds)
	})
	for i := range p.groups {
		if groupKey(&p.groups[i]) == p.key {
			p.cursor = i
			return
		}
	}
	p.move(0)
}

func (p *groupsPane) move(delta int) {
	p.cursor = max(0, min(p.cursor+delta, len(p.groups)-1))
	if g := p.current(); g != nil {
		p.key = groupKey(g)
	}
}

func (p *groupsPane) current() *collectors.SessionGroup {
	if p.cursor < 0 || p.cursor >= len(p.groups) {
		return nil
	}
	return &p.groups[p.cursor]
}

var groupColumns = []column{
	{title: "APPLICATION", width: 14, grow: true, mid: true},
	{title: "USER", width: 14, drop: 2, mid: true},
	{title: "CLIENT", width: 12, drop: 1, mid: true},
	{title: "DB", width: 10, drop: 3, mid: true},
	{title: "CONNS", width: 5, right: true},
	{title: "IDLE", width: 4, right: true, drop: 4},
	{title: "OLDEST", width: 6, right: true},
}

// groupKeyColumns read the four key columns of a group, in groupColumns order.
var groupKeyColumns = []func(*collectors.SessionGroup) string{
	func(g *collectors.SessionGroup) string { return g.ApplicationName },
	func(g *collectors.SessionGroup) string { return g.Usename },
	func(g *collectors.SessionGroup) string { return g.ClientAddr },
	func(g *collectors.SessionGroup) string { return g.Datname },
}

// groupColumnsFor drops first the key columns whose value is the same in
// every group: on a narrow screen the column that tells the groups apart
// (often the client address of each web pod) must survive, not the
// application name they all share.
func groupColumnsFor(groups []collectors.SessionGroup) []column {
	cols := slices.Clone(groupColumns)
	if len(groups) < 2 {
		return cols
	}
	distinguishing := -1
	for i, key := range groupKeyColumns {
		first := key(&groups[0])
		same := true
		for j := 1; j < len(groups) && same; j++ {
			same = key(&groups[j]) == first
		}
		switch {
		case same:
			cols[i].drop, cols[i].grow = 10+i, false
		case distinguishing < 0:
			distinguishing = i
		}
	}
	if distinguishing >= 0 && !cols[0].grow {
		cols[distinguishing].drop, cols[distinguishing].grow = 0, true
	}
	return cols
}

func (p *groupsPane) view(st styles, w, h int, focused bool) block {
	title := fmt.Sprintf("Connections by group (%d)", len(p.groups))
	if p.byClient {
		title = fmt.Sprintf("Groups by client (%d)", len(p.groups))
	}
	lines := []string{paneTitle(st, focused, title)}
	cols := groupColumnsFor(p.groups)
	idx, widths := fitColumns(cols, w-1, 14)
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	lines = append(lines, st.heading.Render(fitLine(" "+renderTitles(cols, idx, widths, titles), w)))
	rows := max(h-2, 0)
	off := max(0, p.cursor-rows+1)
	for i := off; i < len(p.groups) && i < off+rows; i++ {
		g := &p.groups[i]
		idle := g.ByState["idle"]
		vals := []string{orDash(g.ApplicationName), orDash(g.Usename), orDash(g.ClientAddr), orDash(g.Datname),
			strconv.Itoa(g.Total), strconv.Itoa(idle), dur(g.OldestIdleSeconds)}
		prefix := " "
		if focused && i == p.cursor {
			prefix = ">"
		}
		line := fitLine(prefix+renderRow(cols, idx, widths, vals), w)
		if focused && i == p.cursor {
			line = st.selected.Render(line)
		}
		lines = append(lines, line)
	}
	return fitBlock(lines, w, h)
}

func (p *groupsPane) SetSize(w, h int) { p.width, p.height = w, h }

// Update handles the groups pane's keys.
func (p *groupsPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.c.navigate(km, p.move, 5) {
		return nil
	}
	k := p.keys
	switch {
	case key.Matches(km, k.TerminateGroup):
		if g := p.current(); g != nil {
			sc, _ := p.scope()
			return p.c.askGroup(*g, sc.byClient)
		}
	case key.Matches(km, k.ByClient):
		p.toggleClient()
	case key.Matches(km, k.Filter):
		if sc, ok := p.scope(); ok {
			p.c.send(scopeSessionsMsg{scope: sc})
			p.c.notify("Sessions of " + sc.label() + " (Esc shows all).")
		}
	}
	return nil
}

func (p *groupsPane) ShortHelp() []key.Binding {
	return []key.Binding{p.keys.Filter, p.keys.TerminateGroup, p.keys.ByClient}
}

// FullHelp is the short help, then the keys the help line shows after the
// global ones.
func (p *groupsPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{p.ShortHelp(), {p.c.nav.Down}}
}

func (p *groupsPane) helpGroups() []helpGroup {
	k := p.keys
	return []helpGroup{{"Groups pane", []key.Binding{k.Filter, k.ByClient, k.TerminateGroup}}}
}

func (p *groupsPane) View() string { return p.render().String() }

// render is the groups, or "no data" while PostgreSQL never answered.
func (p *groupsPane) render() block {
	if st := p.c.status(collectors.SourcePostgres); st.state == srcDown {
		return p.c.noData(" Connections by group", "PostgreSQL", st, p.width, p.height)
	}
	return p.view(p.c.st, p.width, p.height, p.c.focus == focusGroups)
}

// top puts the cursor on the first row, for another server's data.
func (p *groupsPane) top() { p.cursor, p.key = 0, "" }

// scopeSessionsMsg shows only the sessions of a group (Enter).
type scopeSessionsMsg struct{ scope sessionScope }
