package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/collectors"
)

// Session table columns, in display order.
const (
	colPID = iota
	colUser
	colApp
	colClient
	colState
	colInState
	colXact
	colWait
	colBlocked
	colQuery
	numCols
)

var sessionColumns = [numCols]column{
	colPID:     {title: "PID", width: 7, right: true},
	colUser:    {title: "USER", width: 14, drop: 5, mid: true},
	colApp:     {title: "APPLICATION", width: 16, mid: true},
	colClient:  {title: "CLIENT", width: 13, drop: 2, mid: true},
	colState:   {title: "STATE", width: 8},
	colInState: {title: "IN STATE", width: 9, right: true},
	colXact:    {title: "XACT", width: 8, right: true, drop: 3},
	colWait:    {title: "WAIT", width: 18, drop: 4},
	colBlocked: {title: "BLOCKED BY", width: 10, drop: 1},
	colQuery:   {title: "QUERY", width: 10, grow: true},
}

// stateFilter values; "" shows every state.
const (
	onlyActive  = "active"
	onlyIdle    = "idle"
	onlyIdleTx  = "idle in transaction"
	onlyWaiting = "waiting"
)

// sessionsPane is the sessions table. rows (indices into all, filtered and
// sorted) are computed in Update, so View only formats visible rows.
type sessionsPane struct {
	c         *common
	keys      sessionKeys
	width     int
	height    int
	prompt    string // the filter being typed, shown in the title
	all       []collectors.Session
	rows      []int
	cursor    int
	offset    int
	visible   int // rows that fit, set from the layout on resize
	cursorKey collectors.SessionKey
	marks     map[collectors.SessionKey]bool
	state     string
	text      string
	scope     *sessionScope // Enter on a group: only its sessions
	sortCol   int
	desc      bool
}

func newSessionsPane(keys sessionKeys) sessionsPane {
	return sessionsPane{keys: keys, marks: map[collectors.SessionKey]bool{}, sortCol: colInState, desc: true, visible: 10}
}

// SetSize is the table's rectangle; the rows it scrolls by are set from
// the layout (setVisible).
func (p *sessionsPane) SetSize(w, h int) { p.width, p.height = w, h }

// Update handles the sessions table's keys.
func (p *sessionsPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.c.navigate(km, func(d int) { p.setCursor(p.cursor + d) }, p.visible) {
		return nil
	}
	k := p.keys
	switch {
	case key.Matches(km, k.Detail):
		if s := p.current(); s != nil {
			p.c.send(openDetailMsg{session: *s, server: p.c.pgTarget()})
		}
	case key.Matches(km, k.Filter):
		p.c.send(openFilterMsg{text: p.text})
	case key.Matches(km, k.Sort):
		p.nextSort()
	case key.Matches(km, k.Reverse):
		p.desc = !p.desc
		p.refresh()
	case key.Matches(km, k.Active):
		p.setStateFilter(onlyActive)
	case key.Matches(km, k.Idle):
		p.setStateFilter(onlyIdle)
	case key.Matches(km, k.IdleTx):
		p.setStateFilter(onlyIdleTx)
	case key.Matches(km, k.Waiting):
		p.setStateFilter(onlyWaiting)
	case key.Matches(km, k.AllStates):
		p.setStateFilter("")
	case key.Matches(km, k.Mark):
		p.toggleMark()
	case key.Matches(km, k.ClearMarks):
		clear(p.marks)
	case key.Matches(km, k.Cancel):
		return p.c.askSessions(kindCancel, p.targets())
	case key.Matches(km, k.Terminate):
		return p.c.askSessions(kindTerminate, p.targets())
	case key.Matches(km, k.TerminateGroup):
		if s := p.current(); s != nil {
			p.c.send(terminateGroupMsg{group: groupOfSession(s)})
		}
	}
	return nil
}

// ShortHelp is the table's first keys on the help line.
func (p *sessionsPane) ShortHelp() []key.Binding {
	k := p.keys
	out := []key.Binding{k.Detail, k.Terminate, k.Filter}
	if p.filtered() {
		out = append(out, k.ClearFilter)
	}
	return out
}

// FullHelp is the short help, then the keys the help line shows after the
// global ones.
func (p *sessionsPane) FullHelp() [][]key.Binding {
	k := p.keys
	return [][]key.Binding{p.ShortHelp(), {k.Mark, k.Cancel, k.TerminateGroup, k.Sort, k.Idle, k.Active}}
}

func (p *sessionsPane) helpGroups() []helpGroup {
	s := p.keys
	return []helpGroup{
		{"Sessions table", []key.Binding{s.Detail, s.Filter, s.ClearFilter, s.Sort, s.Reverse,
			s.Active, s.Idle, s.IdleTx, s.Waiting, s.AllStates}},
		{"Session actions", []key.Binding{s.Mark, s.ClearMarks, s.Cancel, s.Terminate, s.TerminateGroup}},
	}
}

// setText is the text filter as typed.
func (p *sessionsPane) setText(text string) {
	p.text = text
	p.refresh()
}

// View is the sessions table, or why there is none: PostgreSQL DOWN or
// not configured is "no data", never "no session matches".
func (p *sessionsPane) View() string { return p.render().String() }

func (p *sessionsPane) render() block {
	w, h := p.width, p.height
	switch st := p.c.status(collectors.SourcePostgres); st.state {
	case srcDown:
		return p.c.noData(" Sessions", "PostgreSQL", st, w, h)
	case srcOff:
		return fitBlock([]string{p.c.st.bold.Render(" Sessions"), p.c.st.dim.Render("  no data: PostgreSQL not configured")}, w, h)
	}
	return p.view(p.c.st, w, h, p.c.focus == focusSessions, p.prompt)
}

// setSessions replaces the data, keeping the cursor on the same backend
// (pid + backend_start) when it is still there.
func (p *sessionsPane) setSessions(all []collectors.Session) {
	p.all = all
	if len(p.marks) > 0 { // forget marks of backends that ended
		present := make(map[collectors.SessionKey]bool, len(all))
		for i := range all {
			present[all[i].Key()] = true
		}
		for k := range p.marks {
			if !present[k] {
				delete(p.marks, k)
			}
		}
	}
	p.refresh()
}

// refresh recomputes the visible rows after data, filter or sort changed.
func (p *sessionsPane) refresh() {
	p.rows = p.rows[:0]
	needle := strings.ToLower(p.text)
	for i := range p.all {
		if p.matches(&p.all[i], needle) {
			p.rows = append(p.rows, i)
		}
	}
	// PID breaks ties, so the order is total and a stable sort is not needed.
	slices.SortFunc(p.rows, func(a, b int) int {
		c := compareSessions(&p.all[a], &p.all[b], p.sortCol)
		if p.desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(p.all[a].PID, p.all[b].PID)
		}
		return c
	})
	p.restoreCursor()
}

func (p *sessionsPane) restoreCursor() {
	for i, r := range p.rows {
		if p.all[r].Key() == p.cursorKey {
			p.cursor = i
			p.scroll()
			return
		}
	}
	p.setCursor(p.cursor)
}

func (p *sessionsPane) matches(s *collectors.Session, needle string) bool {
	if p.scope != nil && !p.scope.matchesSession(s) {
		return false
	}
	switch p.state {
	case "":
	case onlyWaiting:
		if s.WaitEventType != "Lock" {
			return false
		}
	case onlyIdleTx:
		if !strings.HasPrefix(s.State, "idle in transaction") {
			return false
		}
	default:
		if s.State != p.state {
			return false
		}
	}
	if needle == "" {
		return true
	}
	for _, f := range []string{strconv.Itoa(int(s.PID)), s.Usename, s.ApplicationName, s.ClientAddr, s.State,
		s.Datname, s.WaitEvent, s.Query} {
		if strings.Contains(strings.ToLower(f), needle) {
			return true
		}
	}
	return false
}

func compareSessions(a, b *collectors.Session, c int) int {
	switch c {
	case colPID:
		return cmp.Compare(a.PID, b.PID)
	case colUser:
		return strings.Compare(a.Usename, b.Usename)
	case colApp:
		return strings.Compare(a.ApplicationName, b.ApplicationName)
	case colClient:
		return strings.Compare(a.ClientAddr, b.ClientAddr)
	case colState:
		return strings.Compare(a.State, b.State)
	case colInState:
		return cmp.Compare(a.StateSeconds, b.StateSeconds)
	case colXact:
		return cmp.Compare(a.XactSeconds, b.XactSeconds)
	case colWait:
		// Compare the pair, not a concatenation: no allocation per
		// comparison while sorting thousands of sessions.
		return cmp.Or(strings.Compare(a.WaitEventType, b.WaitEventType), strings.Compare(a.WaitEvent, b.WaitEvent))
	case colBlocked:
		return cmp.Compare(len(a.BlockedBy), len(b.BlockedBy))
	default:
		return strings.Compare(a.Query, b.Query)
	}
}

// setCursor moves the cursor to row i (clamped) and remembers its backend.
func (p *sessionsPane) setCursor(i int) {
	p.cursor = max(0, min(i, len(p.rows)-1))
	if s := p.current(); s != nil {
		p.cursorKey = s.Key()
	}
	p.scroll()
}

func (p *sessionsPane) scroll() {
	if p.cursor < p.offset {
		p.offset = p.cursor
	}
	if p.visible > 0 && p.cursor >= p.offset+p.visible {
		p.offset = p.cursor - p.visible + 1
	}
	p.offset = max(0, min(p.offset, len(p.rows)-p.visible))
}

func (p *sessionsPane) setVisible(n int) {
	p.visible = max(n, 1)
	p.scroll()
}

// current is the session under the cursor, nil when the table is empty.
func (p *sessionsPane) current() *collectors.Session {
	if p.cursor < 0 || p.cursor >= len(p.rows) {
		return nil
	}
	return &p.all[p.rows[p.cursor]]
}

func (p *sessionsPane) toggleMark() {
	s := p.current()
	if s == nil {
		return
	}
	if p.marks[s.Key()] {
		delete(p.marks, s.Key())
	} else {
		p.marks[s.Key()] = true
	}
	p.setCursor(p.cursor + 1)
}

// targets are the marked sessions, or the one under the cursor.
func (p *sessionsPane) targets() []collectors.Session {
	var out []collectors.Session
	for _, r := range p.rows {
		if p.marks[p.all[r].Key()] {
			out = append(out, p.all[r])
		}
	}
	if len(out) == 0 {
		if s := p.current(); s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// filtered reports whether any filter (text, state, group) is on.
func (p *sessionsPane) filtered() bool { return p.text != "" || p.state != "" || p.scope != nil }

// clearFilters drops the text, state and group filters at once (Esc).
func (p *sessionsPane) clearFilters() {
	p.text, p.state, p.scope = "", "", nil
	p.refresh()
}

func (p *sessionsPane) setScope(sc sessionScope) {
	p.scope = &sc
	p.refresh()
	p.setCursor(0)
}

func (p *sessionsPane) setStateFilter(state string) {
	if p.state == state {
		state = ""
	}
	p.state = state
	p.refresh()
}

func (p *sessionsPane) nextSort() {
	p.sortCol = (p.sortCol + 1) % numCols
	p.desc = p.sortCol == colInState || p.sortCol == colXact || p.sortCol == colBlocked
	p.refresh()
}

func stateLabel(s *collectors.Session) string {
	switch {
	case s.Hidden && s.State == "":
		return "?hidden"
	case s.State == "idle in transaction":
		return "idle/tx"
	case s.State == "idle in transaction (aborted)":
		return "idle/tx!"
	case s.State == "fastpath function call":
		return "fastpath"
	}
	return orDash(s.State)
}

func sessionValues(s *collectors.Session) []string {
	v := make([]string, numCols)
	v[colPID] = strconv.Itoa(int(s.PID))
	v[colUser] = orDash(s.Usename)
	v[colApp] = orDash(s.ApplicationName)
	v[colClient] = orDash(s.ClientAddr)
	v[colState] = stateLabel(s)
	v[colInState] = dur(s.StateSeconds)
	v[colXact] = dur(s.XactSeconds)
	if s.WaitEventType != "" {
		v[colWait] = oneLine(s.WaitEventType + ":" + s.WaitEvent)
	} else {
		v[colWait] = "-"
	}
	v[colBlocked] = "-"
	if len(s.BlockedBy) > 0 {
		parts := make([]string, len(s.BlockedBy))
		for i, pid := range s.BlockedBy {
			parts[i] = strconv.Itoa(int(pid))
		}
		v[colBlocked] = strings.Join(parts, ",")
	}
	v[colQuery] = oneLine(clip(s.Query, 1024))
	return v
}

// view renders the title, the column header and only the visible rows.
func (p *sessionsPane) view(st styles, w, h int, focused bool, filterLine string) block {
	if h <= 0 {
		return nil
	}
	lines := make([]string, 0, h)
	idx, widths := fitColumns(sessionColumns[:], w-2, 16)
	sortNote := ""
	if !slices.Contains(idx, p.sortCol) {
		// The sort column is dropped at this width: say what orders the rows.
		sortNote = "sorted by " + sessionColumns[p.sortCol].title + map[bool]string{true: " ▼", false: " ▲"}[p.desc]
	}
	lines = append(lines, paneTitle(st, focused, p.title(filterLine, sortNote)))
	titles := make([]string, numCols)
	for i, c := range sessionColumns {
		titles[i] = c.title
		if i == p.sortCol {
			titles[i] += map[bool]string{true: "▼", false: "▲"}[p.desc]
		}
	}
	lines = append(lines, st.heading.Render(fitLine("  "+renderTitles(sessionColumns[:], idx, widths, titles), w)))
	end := min(len(p.rows), p.offset+h-2)
	for i := p.offset; i < end; i++ {
		s := &p.all[p.rows[i]]
		prefix := " "
		if i == p.cursor {
			prefix = ">"
		}
		mark := " "
		if p.marks[s.Key()] {
			mark = "*"
		}
		row := fitLine(prefix+mark+renderRow(sessionColumns[:], idx, widths, sessionValues(s)), w)
		switch {
		case i == p.cursor && focused:
			row = st.selected.Render(row)
		case mark == "*":
			row = st.marked.Render(row)
		}
		lines = append(lines, row)
	}
	if len(p.rows) == 0 {
		empty := "  no session matches"
		if len(p.all) == 0 { // nothing to filter: the server has no client session
			empty = "  no client session"
		}
		lines = append(lines, st.dim.Render(empty))
	}
	return fitBlock(lines, w, h)
}

func (p *sessionsPane) title(filterLine, sortNote string) string {
	t := fmt.Sprintf("Sessions %d", len(p.rows))
	if len(p.rows) != len(p.all) {
		t += fmt.Sprintf(" of %d", len(p.all))
	}
	if sortNote != "" {
		t += " · " + sortNote
	}
	if p.scope != nil {
		t += " · group " + clean(p.scope.label())
	}
	if p.state != "" {
		t += " · state=" + p.state
	}
	if filterLine != "" {
		t += " · " + filterLine
	} else if p.text != "" {
		t += " · /" + clean(p.text)
	}
	if n := len(p.marks); n > 0 {
		t += fmt.Sprintf(" · %d marked", n)
	}
	if len(p.rows) > 0 {
		t += fmt.Sprintf(" · row %d", p.cursor+1)
	}
	return t
}

// paneTitle marks the focused pane with a glyph, not colour alone.
func paneTitle(st styles, focused bool, t string) string {
	if focused {
		return st.focused.Render("▌" + t)
	}
	return st.bold.Render(" " + t)
}

// top puts the cursor on the first row, for another server's data.
func (p *sessionsPane) top() { p.cursor, p.offset = 0, 0 }

// Messages the sessions table sends the root.
type (
	openDetailMsg struct {
		session collectors.Session
		server  string
	}
	openFilterMsg     struct{ text string }
	terminateGroupMsg struct{ group collectors.SessionGroup }
)
