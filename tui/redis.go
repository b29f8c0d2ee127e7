package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/slotwatch/slotwatch/collectors"
)

// redisPane shows Redis clients by group, or the raw client list on
// demand; for a Redis Cluster also one row per node. Groups and clients
// are always the whole cluster's.
type redisPane struct {
	c             *common
	keys          redisKeys
	width, height int
	stats         *collectors.RedisStats
	groups        []collectors.RedisGroup
	clients       []collectors.RedisClient
	nodes         []collectors.RedisNodeStats
	list          redisList
	cursor        int
	key           string // group key, client id (and node) or node address under the cursor
}

// redisList is what the Redis pane lists; l cycles through them.
type redisList int

const (
	listGroups redisList = iota
	listClients
	listNodes // a Redis Cluster only
)

func (p *redisPane) set(r *collectors.RedisStats) {
	p.stats = r
	if r != nil && r.Cluster { // l also lists the nodes
		p.keys.Clients.SetHelp("l", "groups/clients/nodes")
	} else {
		p.keys.Clients.SetHelp("l", "groups/clients")
	}
	p.groups, p.clients, p.nodes = nil, nil, nil
	if r != nil {
		p.groups = slices.Clone(r.Groups)
		slices.SortStableFunc(p.groups, func(a, b collectors.RedisGroup) int { return cmp.Compare(b.Count, a.Count) })
		p.clients = slices.Clone(r.Clients)
		slices.SortStableFunc(p.clients, func(a, b collectors.RedisClient) int {
			return cmp.Compare(b.IdleSeconds, a.IdleSeconds)
		})
		if r.Cluster {
			p.nodes = r.Nodes
		}
	}
	if p.list == listNodes && p.nodes == nil {
		p.list = listGroups
	}
	for i := 0; i < p.len(); i++ {
		if p.keyAt(i) == p.key {
			p.cursor = i
			return
		}
	}
	p.move(0)
}

func (p *redisPane) len() int {
	switch p.list {
	case listClients:
		return len(p.clients)
	case listNodes:
		return len(p.nodes)
	}
	return len(p.groups)
}

func (p *redisPane) keyAt(i int) string {
	switch p.list {
	case listClients:
		return strconv.FormatInt(p.clients[i].ID, 10) + "@" + p.clients[i].Node
	case listNodes:
		return p.nodes[i].Addr
	}
	return p.groups[i].Key()
}

func (p *redisPane) move(delta int) {
	p.cursor = max(0, min(p.cursor+delta, p.len()-1))
	if p.cursor < p.len() {
		p.key = p.keyAt(p.cursor)
	}
}

// toggleClients is l: groups, clients, then (a cluster) nodes.
func (p *redisPane) toggleClients() {
	switch {
	case p.list == listGroups:
		p.list = listClients
	case p.list == listClients && p.nodes != nil:
		p.list = listNodes
	default:
		p.list = listGroups
	}
	p.cursor, p.key = 0, ""
	p.move(0)
}

func (p *redisPane) currentGroup() *collectors.RedisGroup {
	if p.list != listGroups || p.cursor >= len(p.groups) {
		return nil
	}
	return &p.groups[p.cursor]
}

func (p *redisPane) currentClient() *collectors.RedisClient {
	if p.list != listClients || p.cursor >= len(p.clients) {
		return nil
	}
	return &p.clients[p.cursor]
}

// noTargetText is why X found nothing to kill under the cursor.
func (p *redisPane) noTargetText() string {
	if p.list == listNodes {
		return "A node is not a client: l back to the groups or clients to pick what to kill."
	}
	return "No Redis group under the cursor (Tab to the Redis pane)."
}

// The name pattern takes the spare width: it is what tells a leaking
// client apart (analytics-cache-#), while hosts are short addresses.
var redisGroupColumns = []column{
	{title: "HOST", width: 13, mid: true, min: 9},
	{title: "NAME", width: 12, drop: 1, grow: true, mid: true},
	{title: "LIB", width: 9, drop: 3},
	{title: "COUNT", width: 5, right: true},
	{title: "/MIN", width: 5, right: true},
	{title: "MAX IDLE", width: 8, right: true, drop: 2},
}

var redisClientColumns = []column{
	{title: "ID", width: 7, right: true},
	{title: "ADDR", width: 21, grow: true, mid: true},
	{title: "NAME", width: 12, drop: 2, mid: true},
	{title: "LIB", width: 9, drop: 3},
	{title: "AGE", width: 7, right: true, drop: 1},
	{title: "IDLE", width: 7, right: true},
	{title: "CMD", width: 10, drop: 4},
}

func (p *redisPane) redisTitle(w int) string {
	r := p.stats
	if r == nil {
		return "Redis not configured"
	}
	view := "groups"
	switch p.list {
	case listClients:
		view = "client list"
	case listNodes:
		view = fmt.Sprintf("cluster %d nodes", len(p.nodes))
	}
	if st := p.c.status(collectors.SourceRedis); st.state == srcStale { // the pane may be 26 cells wide
		view = p.c.st.critical.Render("STALE " + ageText(st.age))
	}
	t := fmt.Sprintf("Redis %s %d/%d ", view, r.ConnectedClients, r.MaxClients)
	// On the maxclients scale the bars say how close the limit is.
	sw := max(w-ansi.StringWidth(t)-4, 0)
	vals := sparkSeries(p.c.frame.Trend, sw, func(p *collectors.Point) (float64, bool) { return float64(p.RedisClients), p.RedisOK })
	return t + sparklineTo(vals, sw, float64(r.MaxClients))
}

// clientListNote says when CLIENT LIST is read less often than INFO, so an
// engineer knows the groups lag the client count.
func (p *redisPane) clientListNote() string {
	r := p.stats
	if r == nil || r.ClientListEverySeconds <= p.c.frame.Snapshot.Source(collectors.SourceRedis).Interval.Seconds() {
		return ""
	}
	note := fmt.Sprintf(" CLIENT LIST every %s", dur(r.ClientListEverySeconds))
	if !r.ClientsSampledAt.IsZero() {
		note += ", " + ageText(p.c.frame.Snapshot.TakenAt.Sub(r.ClientsSampledAt)) + " old"
	}
	return note
}

// render is the groups, clients or nodes list, or why there is none.
func (p *redisPane) render() block {
	w, h := p.width, p.height
	focused := p.c.focus == focusRedis
	switch st := p.c.status(collectors.SourceRedis); st.state {
	case srcDown:
		return p.c.noData(" Redis groups", "Redis", st, w, h)
	case srcOff:
		return fitBlock([]string{p.c.st.bold.Render(" Redis not configured")}, w, h)
	}
	lines := []string{paneTitle(p.c.st, focused, p.redisTitle(w))}
	if note := p.clientListNote(); note != "" {
		lines = append(lines, p.c.st.dim.Render(note))
	}
	cols := redisGroupColumns
	switch {
	case p.list == listNodes:
		cols = redisNodeColumns
	case p.list == listClients && p.nodes != nil:
		cols = redisClusterClientColumns
	case p.list == listClients:
		cols = redisClientColumns
	}
	// The name grows before optional columns stay, except on the narrowest
	// pane where it keeps a middle-cut stub rather than go.
	minName := 8
	if w >= 40 {
		minName = 12
	}
	idx, widths := fitColumns(cols, w-1, minName)
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	lines = append(lines, p.c.st.heading.Render(fitLine(" "+renderTitles(cols, idx, widths, titles), w)))
	rows := max(h-len(lines), 0)
	off := max(0, p.cursor-rows+1)
	for i := off; i < p.len() && i < off+rows; i++ {
		var vals []string
		switch p.list {
		case listNodes:
			vals = nodeValues(&p.nodes[i])
		case listClients:
			c := &p.clients[i]
			vals = []string{strconv.FormatInt(c.ID, 10), orDash(c.Addr), orDash(c.Name), orDash(c.LibName),
				dur(float64(c.AgeSeconds)), dur(float64(c.IdleSeconds)), orDash(c.Cmd)}
			if p.nodes != nil {
				vals = append(vals, orDash(c.Node))
			}
		default:
			g := &p.groups[i]
			growth := "-"
			if v, ok := collectors.RedisGroupGrowth(p.c.frame.Trend, g.Key()); ok {
				growth = growthText(v)
			}
			vals = []string{orDash(g.Host), orDash(g.Name), orDash(g.LibName), strconv.Itoa(g.Count), growth,
				dur(float64(g.MaxIdleSeconds))}
		}
		prefix := " "
		if focused && i == p.cursor {
			prefix = ">"
		}
		line := fitLine(prefix+renderRow(cols, idx, widths, vals), w)
		if focused && i == p.cursor {
			line = p.c.st.selected.Render(line)
		}
		lines = append(lines, line)
	}
	if p.len() == 0 {
		what := "no client group"
		switch p.list {
		case listClients:
			what = "no client"
		case listNodes:
			what = "no node answered"
		}
		lines = append(lines, p.c.st.dim.Render("  "+what))
	}
	return fitBlock(lines, w, h)
}

// In a cluster the client list says which node each client is on (ids
// are per node).
var redisClusterClientColumns = append(slices.Clone(redisClientColumns), column{title: "NODE", width: 14, drop: 1, mid: true})

var redisNodeColumns = []column{
	{title: "NODE", width: 21, grow: true, mid: true},
	{title: "ROLE", width: 7, drop: 2},
	{title: "CLIENTS", width: 7, right: true},
	{title: "MAX", width: 6, right: true, drop: 1},
	{title: "USE", width: 4, right: true},
	{title: "REJECTED", width: 8, right: true, drop: 3},
	{title: "GROUPS", width: 6, right: true, drop: 4},
}

// nodeValues is one cluster node's row; a node whose sample failed says
// so instead of numbers.
func nodeValues(n *collectors.RedisNodeStats) []string {
	if n.Error != "" {
		return []string{orDash(n.Addr) + " " + oneLine(n.Error), orDash(n.Role), "DOWN", "-", "-", "-", "-"}
	}
	return []string{orDash(n.Addr), orDash(n.Role), strconv.FormatInt(n.ConnectedClients, 10),
		strconv.FormatInt(n.MaxClients, 10), fmt.Sprintf("%.0f%%", pct(float64(n.ConnectedClients), float64(n.MaxClients))),
		strconv.FormatInt(n.RejectedConnections, 10), strconv.Itoa(len(n.Groups))}
}

// growthText is a group's clients per minute in at most five cells.
func growthText(v float64) string {
	if v >= 99.95 || v <= -9.95 {
		return fmt.Sprintf("%+.0f", v)
	}
	return fmt.Sprintf("%+.1f", v)
}

func (p *redisPane) SetSize(w, h int) { p.width, p.height = w, h }

// Update handles the Redis pane's keys.
func (p *redisPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if p.c.navigate(km, p.move, 5) {
		return nil
	}
	switch {
	case key.Matches(km, p.keys.Clients):
		p.toggleClients()
	case key.Matches(km, p.keys.Kill):
		return p.askRedis()
	}
	return nil
}

func (p *redisPane) ShortHelp() []key.Binding { return []key.Binding{p.keys.Clients, p.keys.Kill} }

// FullHelp is the short help, then the keys the help line shows after the
// global ones.
func (p *redisPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{p.ShortHelp(), {p.c.nav.Down}}
}

func (p *redisPane) helpGroups() []helpGroup {
	return []helpGroup{{"Redis pane", []key.Binding{p.keys.Clients, p.keys.Kill}}}
}

func (p *redisPane) View() string { return p.render().String() }

// top puts the cursor on the first row, for another server's data.
func (p *redisPane) top() { p.cursor, p.key = 0, "" }
