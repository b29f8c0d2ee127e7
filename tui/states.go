package tui

import (
	"fmt"
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/collectors"
)

// statesPane is the PostgreSQL sessions by state with their ten-minute
// sparklines; a view, no keys.
type statesPane struct {
	c             *common
	width, height int
}

func (p *statesPane) SetSize(w, h int)          { p.width, p.height = w, h }
func (p *statesPane) Update(tea.Msg) tea.Cmd    { return nil }
func (p *statesPane) View() string              { return p.render().String() }
func (p *statesPane) ShortHelp() []key.Binding  { return nil }
func (p *statesPane) FullHelp() [][]key.Binding { return nil }

// render is the states, "no data" while PostgreSQL never answered, and
// the age of last good counts on the pane itself.
func (p *statesPane) render() block {
	w, h := p.width, p.height
	pgSt := p.c.status(collectors.SourcePostgres)
	if pgSt.state == srcDown {
		return p.c.noData(" PostgreSQL by state", "PostgreSQL", pgSt, w, h)
	}
	b := p.pgStates(w, h)
	if pgSt.state == srcStale && len(b) > 0 {
		b[0] = fitLine(p.c.st.bold.Render(" PostgreSQL ")+p.c.st.critical.Render("STALE "+ageText(pgSt.age)), w)
	}
	return b
}

// pgStates renders the session counts by state with their sparklines.
func (p *statesPane) pgStates(w, h int) block {
	pg := p.c.frame.Snapshot.Postgres
	lines := []string{p.c.st.bold.Render(" PostgreSQL by state")}
	if pg == nil {
		lines = append(lines, "  not configured")
		return fitBlock(lines, w, h)
	}
	trend := p.c.frame.Trend
	type row struct {
		label string
		now   int
		hist  func(collectors.Point) int
	}
	rows := []row{
		{"total", pg.Total, func(p collectors.Point) int { return p.PGTotal }},
		{"active", pg.ByState["active"], func(p collectors.Point) int { return p.PGByState["active"] }},
		{"idle", pg.ByState["idle"], func(p collectors.Point) int { return p.PGByState["idle"] }},
		{"idle/tx", pg.ByState["idle in transaction"] + pg.ByState["idle in transaction (aborted)"],
			func(p collectors.Point) int {
				return p.PGByState["idle in transaction"] + p.PGByState["idle in transaction (aborted)"]
			}},
		{"lock wait", pg.Waiting, func(p collectors.Point) int { return p.PGWaiting }},
	}
	sw := max(w-16, 0)
	for _, r := range rows {
		vals := sparkSeries(trend, sw, func(p *collectors.Point) (float64, bool) { return float64(r.hist(*p)), p.PGOK })
		lines = append(lines, fmt.Sprintf("  %-9s %3d %s", r.label, r.now, sparklineTo(vals, sw, float64(pg.Usable()))))
	}
	lines = p.withHiddenState(lines, pg)
	return fitBlock(lines, w, h)
}

// withHiddenState adds to the by-state pane, under the total, the sessions
// whose state the role may not read: the states below leave them out, and
// on a short pane it is the last line kept.
func (p *statesPane) withHiddenState(lines []string, pg *collectors.PGStats) []string {
	if pg.HiddenSessions == 0 || len(lines) < 2 {
		return lines
	}
	row := p.c.st.critical.Render(fmt.Sprintf("  %-9s %3d state unknown", "hidden", pg.HiddenSessions))
	return slices.Insert(lines, 2, row)
}
