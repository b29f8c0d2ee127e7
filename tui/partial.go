package tui

import "github.com/slotwatch/slotwatch/collectors"

// partialItems is the alert area's line for a PostgreSQL snapshot with rows
// hidden from the monitoring role: the screen is partly blind, said in
// words with the grant that fixes it, so a quiet screen is never read as OK.
func (m *Model) partialItems() []alertItem {
	if m.status(collectors.SourcePostgres).state == srcDown {
		return nil
	}
	gap := m.frame.Snapshot.Postgres.PrivilegeGap()
	if gap == "" {
		return nil
	}
	return []alertItem{{state: stateBlind, name: "PostgreSQL privilege",
		line: m.st.critical.Render("?? PARTIAL  ") + " " + gap}}
}
