package tui

import (
	"fmt"
	"strconv"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/slotwatch/slotwatch/collectors"
)

// jobsPane lists the application's rows over capacity (the jobs query);
// a view, no keys.
type jobsPane struct {
	c             *common
	width, height int
}

func (p *jobsPane) SetSize(w, h int)          { p.width, p.height = w, h }
func (p *jobsPane) Update(tea.Msg) tea.Cmd    { return nil }
func (p *jobsPane) View() string              { return p.jobsView(p.width, p.height).String() }
func (p *jobsPane) ShortHelp() []key.Binding  { return nil }
func (p *jobsPane) FullHelp() [][]key.Binding { return nil }

var jobColumns = []column{
	{title: "JOB", width: 8, mid: true},
	{title: "LABEL", width: 12, grow: true, drop: 1},
	{title: "COUNT", width: 5, right: true},
	{title: "LIMIT", width: 5, right: true},
	{title: "EXCESS", width: 6, right: true},
}

// jobsView lists the rows over capacity. It says OK only on fresh data:
// a stale list is shown with its age, and a jobs query that never answered
// shows no rows and no OK.
func (p *jobsPane) jobsView(w, h int) block {
	st := p.c.status(collectors.SourceJobs)
	j := p.c.frame.Snapshot.Jobs
	if st.state == srcDown || j == nil {
		return p.c.noData(" Jobs over capacity", "jobs query", st, w, h)
	}
	title := fmt.Sprintf(" Jobs over capacity (%d)", len(j.OverCapacity))
	if st.state == srcStale { // short: the pane may be 24 cells wide
		title = fmt.Sprintf(" Jobs %s (%d)", p.c.st.critical.Render("STALE "+ageText(st.age)), len(j.OverCapacity))
	}
	lines := []string{p.c.st.bold.Render(title)}
	idx, widths := fitColumns(jobColumns, w-1, 6)
	titles := []string{"JOB", "LABEL", "COUNT", "LIMIT", "EXCESS"}
	lines = append(lines, p.c.st.heading.Render(fitLine(" "+renderTitles(jobColumns, idx, widths, titles), w)))
	for _, c := range j.OverCapacity {
		lines = append(lines, " "+renderRow(jobColumns, idx, widths, []string{orDash(c.ID), orDash(c.Label),
			strconv.FormatInt(c.Count, 10), strconv.FormatInt(c.Limit, 10), "+" + strconv.FormatInt(c.Excess, 10)}))
	}
	switch {
	case len(j.OverCapacity) > 0:
	case st.state == srcFresh:
		lines = append(lines, p.c.st.ok.Render(" OK every job within its limit"))
	default:
		lines = append(lines, p.c.st.dim.Render(" none over capacity "+ageText(st.age)+" ago"))
	}
	return fitBlock(lines, w, h)
}

func (p *jobsPane) jobRows() int {
	if j := p.c.frame.Snapshot.Jobs; j != nil {
		return max(len(j.OverCapacity), 1)
	}
	return 1
}
