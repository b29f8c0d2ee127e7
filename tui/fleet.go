package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// fleetKeys switch the detailed panes between servers.
type fleetKeys struct {
	// Select is 1..9: the server with that number (configuration order,
	// which never changes while the fleet re-sorts).
	Select, Picker          key.Binding
	Up, Down, Choose, Close key.Binding
}

func newFleetKeys() fleetKeys {
	return fleetKeys{
		Select: bind([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "1-9", "show server n"),
		// s already sorts the sessions table.
		Picker: bind([]string{"S"}, "S", "pick a server"),
		Up:     bind([]string{"up", "k"}, "↑/k", "up"),
		Down:   bind([]string{"down", "j"}, "↓/j", "down"),
		Choose: bind([]string{"enter"}, "enter", "show this server"),
		Close:  bind([]string{"esc", "S", "backspace"}, "esc", "close"),
	}
}

// fleetEntry is one server's line: the analysis row and what the line
// needs beside it.
type fleetEntry struct {
	row     analysis.FleetRow
	key     int // its number key, 0 when it has none (a tenth server)
	cluster bool
	nodes   int
}

// fleetPane is the one-line-per-server block at the top of the dashboard
// when several servers are watched, the server picker, and which
// PostgreSQL and which Redis server the detailed panes show. Selections
// are names, never positions: the fleet re-sorts on every frame.
type fleetPane struct {
	c    *common
	keys fleetKeys
	// servers are in configuration order: number key n is servers[n-1].
	servers []collectors.ServerSnapshot
	entries []fleetEntry // ranked as Frame.Fleet: least headroom first
	// pg and redis are the selected servers' names; "" is the primary.
	pg, redis string
	// others counts firing alerts and findings on servers not shown, by
	// server, for the header's "elsewhere" line.
	othersFiring   []nameCount
	othersFindings int
	width, height  int
	cursor         string // the picker's server, by name
}

type nameCount struct {
	name string
	n    int
}

func newFleetPane() fleetPane { return fleetPane{keys: newFleetKeys()} }

// SetSize is the block's rectangle (height 0: no block).
func (p *fleetPane) SetSize(w, h int) { p.width, p.height = w, h }

// active: several servers are configured, so the panes show one of them
// and actions name it.
func (p *fleetPane) active() bool { return len(p.servers) > 0 }

// rowsWanted is how many lines the block would like: none for a single
// target, one per server otherwise.
func (p *fleetPane) rowsWanted() int {
	if len(p.entries) <= 1 {
		return 0
	}
	return len(p.entries)
}

// setFrame takes a frame's servers and fleet rows. A selected server that
// is gone falls back to the primary; the returned sentence says so.
func (p *fleetPane) setFrame(f analysis.Frame) string {
	p.servers = f.Snapshot.Servers
	p.entries = p.entriesOf(f)
	var notes []string
	for _, sel := range []*string{&p.pg, &p.redis} {
		if *sel != "" && p.server(*sel) == nil {
			notes = append(notes, fmt.Sprintf("%s is no longer watched; showing the primary.", oneLine(*sel)))
			*sel = ""
		}
	}
	return strings.Join(notes, " ")
}

// entriesOf pairs the fleet rows with their number keys. Without rows
// (an analysis that computes none) the servers are listed in
// configuration order, with no numbers but their state.
func (p *fleetPane) entriesOf(f analysis.Frame) []fleetEntry {
	rows := f.Fleet
	if len(rows) == 0 {
		for _, s := range p.servers {
			rows = append(rows, fallbackRow(s))
		}
	}
	out := make([]fleetEntry, len(rows))
	for i, r := range rows {
		e := fleetEntry{row: r}
		if j := slices.IndexFunc(p.servers, func(s collectors.ServerSnapshot) bool { return s.Name == r.Name }); j >= 0 {
			if j < 9 {
				e.key = j + 1
			}
			if rs := p.servers[j].Redis; rs != nil && rs.Cluster {
				e.cluster, e.nodes = true, len(rs.Nodes)
			}
		}
		out[i] = e
	}
	return out
}

// fallbackRow is a server's line when the analysis gave no fleet rows:
// its slots as the header counts them, no alert counts.
func fallbackRow(s collectors.ServerSnapshot) analysis.FleetRow {
	r := analysis.FleetRow{Name: s.Name, Kind: s.Kind, Primary: s.Primary, Error: s.Error,
		Down: s.Error != "" || (s.Postgres == nil && s.Redis == nil)}
	switch {
	case s.Postgres != nil:
		r.Used, r.Usable = s.Postgres.Used(), s.Postgres.Usable()
	case s.Redis != nil:
		r.Used, r.Usable = int(s.Redis.ConnectedClients), int(s.Redis.MaxClients)
	}
	if r.Usable > 0 {
		r.Ratio = float64(r.Used) / float64(r.Usable)
	}
	return r
}

// server is the configured server of that name, nil when there is none.
func (p *fleetPane) server(name string) *collectors.ServerSnapshot {
	for i := range p.servers {
		if p.servers[i].Name == name {
			return &p.servers[i]
		}
	}
	return nil
}

// shown is the server of kind the detailed panes show: the selected one,
// else the primary of that kind; nil when the fleet has none of the kind.
func (p *fleetPane) shown(kind string) *collectors.ServerSnapshot {
	sel := p.pg
	if kind == collectors.SourceRedis {
		sel = p.redis
	}
	var primary, first *collectors.ServerSnapshot
	for i := range p.servers {
		s := &p.servers[i]
		if s.Kind != kind {
			continue
		}
		if s.Name == sel {
			return s
		}
		if s.Primary && primary == nil {
			primary = s
		}
		if first == nil {
			first = s
		}
	}
	if primary != nil {
		return primary
	}
	return first
}

// shownName is the name actions must carry for kind: "" for a single
// target (the only server), else the shown server's name.
func (p *fleetPane) shownName(kind string) string {
	if s := p.shown(kind); s != nil {
		return s.Name
	}
	return ""
}

// selectName makes the named server the shown one of its kind; false when
// there is no such server.
func (p *fleetPane) selectName(name string) (*collectors.ServerSnapshot, bool) {
	s := p.server(name)
	if s == nil {
		return nil, false
	}
	if s.Kind == collectors.SourceRedis {
		p.redis = s.Name
	} else {
		p.pg = s.Name
	}
	return s, true
}

// byKey is the server number key k (1..9) names, nil when there is none.
func (p *fleetPane) byKey(k string) *collectors.ServerSnapshot {
	if len(k) != 1 || k[0] < '1' || k[0] > '9' {
		return nil
	}
	if i := int(k[0] - '1'); i < len(p.servers) {
		return &p.servers[i]
	}
	return nil
}

// isShown: the detailed panes show this server.
func (p *fleetPane) isShown(name string) bool {
	return name == p.shownName(collectors.SourcePostgres) || name == p.shownName(collectors.SourceRedis)
}

// shownHere: an alert or finding about server belongs on the shown
// panes. "" is a single target's, or the team's external alerting.
func (p *fleetPane) shownHere(server string) bool { return server == "" || p.isShown(server) }

// project is the frame the detailed panes and the header read: the
// selected servers' stats in place of the primaries', their alerts and
// findings only, and no history for a server other than the primary (the
// trend is the primaries'). The probe, jobs and pgbouncer belong to the
// primary PostgreSQL server and are left out while another one is shown.
// A single target's frame is returned as it is.
func (p *fleetPane) project(f analysis.Frame) analysis.Frame {
	p.othersFiring, p.othersFindings = nil, 0
	if !p.active() {
		return f
	}
	s := f.Snapshot
	s.Errors = make(map[string]string, len(f.Snapshot.Errors))
	for k, v := range f.Snapshot.Errors {
		s.Errors[k] = v
	}
	maskPG, maskRedis := false, false
	if pg := p.shown(collectors.SourcePostgres); pg != nil {
		s.Postgres = pg.Postgres
		setError(s.Errors, collectors.SourcePostgres, pg.Error)
		if !pg.Primary {
			maskPG = true
			s.Probe, s.Jobs, s.PgBouncer, s.Refused = nil, nil, nil, nil
			for _, src := range []string{collectors.SourceProbe, collectors.SourceJobs, collectors.SourcePgBouncer} {
				delete(s.Errors, src)
			}
		}
	}
	if r := p.shown(collectors.SourceRedis); r != nil {
		s.Redis = r.Redis
		setError(s.Errors, collectors.SourceRedis, r.Error)
		maskRedis = !r.Primary
	}
	out := f
	out.Snapshot = s
	if maskPG || maskRedis {
		out.Trend = make([]collectors.Point, len(f.Trend))
		for i, pt := range f.Trend {
			pt.PGOK = pt.PGOK && !maskPG
			pt.RedisOK = pt.RedisOK && !maskRedis
			out.Trend[i] = pt
		}
	}
	out.Alerts = nil
	firing := map[string]int{}
	for _, a := range f.Alerts {
		switch {
		case p.shownHere(a.Server):
			out.Alerts = append(out.Alerts, a)
		case a.State == analysis.Firing:
			firing[a.Server]++
		}
	}
	for _, srv := range p.servers { // configuration order: a stable line
		if n := firing[srv.Name]; n > 0 {
			p.othersFiring = append(p.othersFiring, nameCount{srv.Name, n})
		}
	}
	out.Findings = nil
	for _, fd := range f.Findings {
		if p.shownHere(fd.Server) {
			out.Findings = append(out.Findings, fd)
		} else {
			p.othersFindings++
		}
	}
	return out
}

func setError(errs map[string]string, source, text string) {
	if text == "" {
		delete(errs, source)
		return
	}
	errs[source] = text
}

// pgStats is the named server's PostgreSQL sample (nil when unknown).
func (p *fleetPane) pgStats(name string) *collectors.PGStats {
	if s := p.server(name); s != nil {
		return s.Postgres
	}
	return nil
}

// firingElsewhere is the total of othersFiring.
func (p *fleetPane) firingElsewhere() int {
	n := 0
	for _, c := range p.othersFiring {
		n += c.n
	}
	return n
}

// view renders the block: one line per server, ranked; when they do not
// all fit, the last line counts and names the rest.
func (p *fleetPane) view(st styles) block {
	w, h := p.width, p.height
	if h <= 0 || len(p.entries) == 0 {
		return nil
	}
	nameW := 4
	for _, e := range p.entries {
		nameW = max(nameW, ansi.StringWidth(oneLine(e.row.Name)))
	}
	nameW = min(nameW, 18)
	shown, rest := p.fitEntries(h)
	var lines []string
	for _, e := range shown {
		lines = append(lines, p.line(st, e, nameW, w))
	}
	if len(rest) > 0 {
		names := make([]string, len(rest))
		for i, e := range rest {
			names[i] = oneLine(e.row.Name)
		}
		lines = append(lines, st.dim.Render(fmt.Sprintf("   +%d more: %s (S lists all)", len(rest), strings.Join(names, ", "))))
	}
	return fitBlock(lines, w, h)
}

// fitEntries splits the ranked entries into the lines that fit in h and
// the rest ("+N more"). The servers on the panes always keep their line:
// the block never hides what the header is talking about.
func (p *fleetPane) fitEntries(h int) (shown, rest []fleetEntry) {
	if len(p.entries) <= h {
		return p.entries, nil
	}
	room := max(h-1, 0)
	keep := make([]bool, len(p.entries))
	n := 0
	for i, e := range p.entries {
		if n < room && p.isShown(e.row.Name) {
			keep[i], n = true, n+1
		}
	}
	for i := range p.entries {
		if n < room && !keep[i] {
			keep[i], n = true, n+1
		}
	}
	for i, e := range p.entries {
		if keep[i] {
			shown = append(shown, e)
		} else {
			rest = append(rest, e)
		}
	}
	return shown, rest
}

// line is one server: shown marker and number key, name, kind, slots used
// of usable, the primary's probe verdict, alert counts, DOWN with why.
func (p *fleetPane) line(st styles, e fleetEntry, nameW, w int) string {
	r := e.row
	mark := " "
	if p.isShown(r.Name) {
		mark = "▸"
	}
	num := " "
	if e.key > 0 {
		num = fmt.Sprint(e.key)
	}
	kind := "PG"
	switch {
	case e.cluster:
		kind = fmt.Sprintf("Cluster×%d", e.nodes)
	case r.Kind == collectors.SourceRedis:
		kind = "Redis"
	}
	name := midCut(oneLine(r.Name), nameW)
	head := fmt.Sprintf(" %s%s %s %-10s", mark, num, name, kind)
	var parts []string
	numW := 16 // "%5d/%-5d %3.0f%%"
	if w >= 110 {
		numW += 11 // and the gauge
	}
	if r.Down {
		parts = append(parts, st.critical.Render("DOWN")+strings.Repeat(" ", numW-4))
	} else {
		used := fmt.Sprintf("%5d/%-5d %3.0f%%", r.Used, r.Usable, 100*r.Ratio)
		switch {
		case r.Ratio >= 0.9:
			used = st.critical.Render(used)
		case r.Ratio >= 0.8:
			used = st.warning.Render(used)
		}
		if w >= 110 {
			used += " " + gauge(r.Used, r.Usable, 10)
		}
		parts = append(parts, used)
	}
	parts = append(parts, fitLine(alertCounts(st, r), 19))
	if r.ProbeOK != nil {
		if *r.ProbeOK {
			parts = append(parts, "probe OK")
		} else {
			parts = append(parts, st.critical.Render("probe FAIL"))
		}
	}
	if e.cluster && !r.Down {
		node := "the fullest node"
		if r.Node != "" {
			node = "fullest node " + oneLine(r.Node)
		}
		parts = append(parts, "("+node+")")
	}
	if r.Down && r.Error != "" {
		parts = append(parts, oneLine(r.Error))
	}
	return head + " " + strings.Join(parts, "  ")
}

// alertCounts is "2 firing 1 pending", or "ok" when the server has none;
// nothing for a DOWN server, whose rules cannot tell.
func alertCounts(st styles, r analysis.FleetRow) string {
	var out []string
	if r.Firing > 0 {
		out = append(out, st.critical.Render(fmt.Sprintf("%d firing", r.Firing)))
	}
	if r.Pending > 0 {
		out = append(out, st.warning.Render(fmt.Sprintf("%d pending", r.Pending)))
	}
	switch {
	case len(out) == 0 && r.Down:
		return ""
	case len(out) == 0:
		return st.ok.Render("ok")
	}
	return strings.Join(out, " ")
}

// openPicker puts the picker's cursor on the shown PostgreSQL server.
func (p *fleetPane) openPicker() {
	p.cursor = p.shownName(collectors.SourcePostgres)
	if p.cursor == "" && len(p.entries) > 0 {
		p.cursor = p.entries[0].row.Name
	}
}

// pickerIndex is the cursor's row, re-found by name after a re-sort.
func (p *fleetPane) pickerIndex() int {
	return max(slices.IndexFunc(p.entries, func(e fleetEntry) bool { return e.row.Name == p.cursor }), 0)
}

func (p *fleetPane) movePicker(delta int) {
	if len(p.entries) == 0 {
		return
	}
	i := max(0, min(p.pickerIndex()+delta, len(p.entries)-1))
	p.cursor = p.entries[i].row.Name
}

// pickerView lists every server, ranked, with the cursor; it scrolls to
// keep the cursor on screen.
func (p *fleetPane) pickerView(st styles, w, h int) block {
	if h <= 0 {
		return nil
	}
	lines := []string{st.focused.Render("▌Servers · ↑/↓ choose · enter shows it · 1-9 directly · esc closes")}
	nameW := 4
	for _, e := range p.entries {
		nameW = max(nameW, ansi.StringWidth(oneLine(e.row.Name)))
	}
	nameW = min(nameW, 24)
	room := max(h-2, 1)
	cur := p.pickerIndex()
	off := max(0, cur-room+1)
	for i := off; i < len(p.entries) && i < off+room; i++ {
		line := p.line(st, p.entries[i], nameW, w)
		if i == cur {
			line = st.selected.Render(fitLine(">"+strings.TrimPrefix(ansi.Strip(line), " "), w))
		}
		lines = append(lines, line)
	}
	note := st.dim.Render(" ▸ shown now: sessions, groups and the PG line follow the PostgreSQL server, the Redis pane the Redis one.")
	return append(fitBlock(lines, w, h-1), fitLine(note, w))
}

// pgTarget and redisTarget are the server names the dashboard's requests
// carry: the shown server, "" for a single target.
func (c *common) pgTarget() string    { return c.fleet.shownName(collectors.SourcePostgres) }
func (c *common) redisTarget() string { return c.fleet.shownName(collectors.SourceRedis) }

// claims: 1..9 and S belong to the fleet pane on the dashboard when
// several servers are watched.
func (p *fleetPane) claims(msg tea.KeyMsg) bool {
	return p.active() && key.Matches(msg, p.keys.Select, p.keys.Picker)
}

// Update handles 1..9 and S on the dashboard, and the picker's keys.
func (p *fleetPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.c.mode == modePicker {
		p.onPickerKey(km)
		return nil
	}
	k := p.keys
	switch {
	case key.Matches(km, k.Select):
		s := p.byKey(km.String())
		if s == nil {
			p.c.notify(fmt.Sprintf("No server %s: %d are watched (S lists them).", km.String(), len(p.servers)))
			return nil
		}
		p.c.send(showServerMsg{name: s.Name})
	case key.Matches(km, k.Picker):
		p.openPicker()
		p.c.send(setModeMsg{mode: modePicker})
	}
	return nil
}

func (p *fleetPane) ShortHelp() []key.Binding {
	if p.c.mode == modePicker {
		k := p.keys
		return []key.Binding{k.Choose, k.Down, k.Select, k.Close, p.c.global.Quit}
	}
	return []key.Binding{p.keys.Select, p.keys.Picker}
}

func (p *fleetPane) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

func (p *fleetPane) helpGroups() []helpGroup {
	k := p.keys
	return []helpGroup{{"Servers (several watched)", []key.Binding{k.Select, k.Picker, k.Choose, k.Close}}}
}

// View is the fleet block: one line per server.
func (p *fleetPane) View() string { return strings.Join(p.view(p.c.st), "\n") }

func kindWord(s *collectors.ServerSnapshot) string {
	switch {
	case s.Redis != nil && s.Redis.Cluster:
		return "Redis Cluster"
	case s.Kind == collectors.SourceRedis:
		return "Redis"
	}
	return "PostgreSQL"
}

// onPickerKey moves over the server list; Enter (or a number) shows one.
func (p *fleetPane) onPickerKey(msg tea.KeyMsg) {
	k := p.keys
	switch {
	case key.Matches(msg, k.Close), key.Matches(msg, p.c.global.Quit):
		p.c.send(setModeMsg{mode: modeNormal})
	case key.Matches(msg, k.Up):
		p.movePicker(-1)
	case key.Matches(msg, k.Down):
		p.movePicker(1)
	case key.Matches(msg, p.c.nav.Top):
		p.movePicker(-1 << 30)
	case key.Matches(msg, p.c.nav.Bottom):
		p.movePicker(1 << 30)
	case key.Matches(msg, k.Choose):
		p.c.send(setModeMsg{mode: modeNormal})
		p.c.send(showServerMsg{name: p.cursor})
	case key.Matches(msg, k.Select):
		p.c.send(setModeMsg{mode: modeNormal})
		if s := p.byKey(msg.String()); s != nil {
			p.c.send(showServerMsg{name: s.Name})
		}
	}
}

// serverLabel is " name" after "PG"/"Redis" in the header when several
// servers are watched, so the header says which one the panes show.
func (c *common) serverLabel(kind string) string {
	if !c.fleet.active() {
		return ""
	}
	if n := c.fleet.shownName(kind); n != "" {
		return " " + oneLine(n)
	}
	return ""
}

// showServerMsg switches the detailed panes to the named server.
type showServerMsg struct{ name string }
