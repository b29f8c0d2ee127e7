package tui

import (
	"fmt"
	"strconv"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/collectors"
)

var poolColumns = []column{
	{title: "POOL", width: 14, grow: true, mid: true},
	{title: "CL ACT", width: 6, right: true, drop: 2},
	{title: "WAIT", width: 5, right: true},
	{title: "MAXWAIT", width: 7, right: true},
	{title: "SV ACT", width: 6, right: true},
	{title: "IDLE", width: 4, right: true, drop: 1},
}

// poolerView is pgbouncer's pane: per pool, clients served and waiting,
// the longest wait and the server connections. Waiting clients are what
// the application sees as "connection wait time".
func (pp *poolerPane) poolerView(w, h int) block {
	st := pp.c.status(collectors.SourcePgBouncer)
	b := pp.c.frame.Snapshot.PgBouncer
	if st.state == srcDown || b == nil {
		return pp.c.noData(" pgbouncer pools", "pgbouncer", st, w, h)
	}
	title := fmt.Sprintf(" pgbouncer pools (%d) · %d waiting · %s", len(b.Pools), b.Waiting(), oneLine(b.Settings.PoolMode))
	if st.state == srcStale {
		title += " " + pp.c.st.critical.Render("STALE "+ageText(st.age))
	}
	lines := []string{pp.c.st.bold.Render(title)}
	idx, widths := fitColumns(poolColumns, w-1, 8)
	titles := []string{"POOL", "CL ACT", "WAIT", "MAXWAIT", "SV ACT", "IDLE"}
	lines = append(lines, pp.c.st.heading.Render(fitLine(" "+renderTitles(poolColumns, idx, widths, titles), w)))
	for _, p := range b.Pools {
		if p.Database == "pgbouncer" {
			continue // the admin console's own pseudo-pool
		}
		row := " " + renderRow(poolColumns, idx, widths, []string{oneLine(p.Database + "/" + p.User),
			strconv.Itoa(p.ClActive), strconv.Itoa(p.ClWaiting), fmt.Sprintf("%.1fs", p.MaxWaitSeconds),
			strconv.Itoa(p.SvActive), strconv.Itoa(p.SvIdle)})
		if p.ClWaiting > 0 {
			row = pp.c.st.critical.Render(row)
		}
		lines = append(lines, row)
	}
	return fitBlock(lines, w, h)
}

// poolerText is the header's pooler part: the incident's "waiting queries"
// and "connection wait time", only when a pooler is configured.
func (h *headerPane) poolerText() string {
	st := h.c.status(collectors.SourcePgBouncer)
	switch st.state {
	case srcOff:
		return ""
	case srcDown:
		return h.c.downText("pgbouncer", st)
	}
	b := h.c.frame.Snapshot.PgBouncer
	avg := 0.0
	for _, s := range b.Stats {
		avg = max(avg, s.AvgWaitSeconds)
	}
	text := fmt.Sprintf("pgbouncer %d waiting, max wait %.1fs, avg wait %.1fs", b.Waiting(), b.MaxWaitSeconds(), avg)
	if b.Waiting() > 0 {
		text = h.c.st.critical.Render(text)
	}
	if st.state == srcStale {
		text += " " + h.c.freshness(st)
	}
	return text
}

// viaPool says which pgbouncer pool a backend serves, for the session
// detail: "via pgbouncer pool talentflow/talentflow".
func (c *common) viaPool(pid int32) string {
	b := c.frame.Snapshot.PgBouncer
	if b == nil {
		return ""
	}
	if db, user, ok := b.PoolOf(pid); ok {
		return "via pgbouncer pool " + oneLine(db+"/"+user)
	}
	return ""
}

// poolerPane is pgbouncer's pools; a view, no keys.
type poolerPane struct {
	c             *common
	width, height int
}

func (pp *poolerPane) SetSize(w, h int)          { pp.width, pp.height = w, h }
func (pp *poolerPane) Update(tea.Msg) tea.Cmd    { return nil }
func (pp *poolerPane) View() string              { return pp.poolerView(pp.width, pp.height).String() }
func (pp *poolerPane) ShortHelp() []key.Binding  { return nil }
func (pp *poolerPane) FullHelp() [][]key.Binding { return nil }
