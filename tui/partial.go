package tui

import (
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
