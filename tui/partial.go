package tui

import (
	"fmt"
	"slices"

	"github.com/slotwatch/slotwatch/collectors"
)

// partialItems is the alert area's line for a PostgreSQL snapshot with rows
// hidden from the monitoring role: the screen is partly blind, said in
// words with the grant that fixes it, so a quiet screen is never read as OK.
func (h *headerPane) partialItems() []alertItem {
	if h.c.status(collectors.SourcePostgres).state == srcDown {
		return nil
	}
	gap := h.c.frame.Snapshot.Postgres.PrivilegeGap()
	if gap == "" {
		return nil
	}
	return []alertItem{{state: stateBlind, name: "PostgreSQL privilege",
		line: h.c.st.critical.Render("?? PARTIAL  ") + " " + gap}}
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
