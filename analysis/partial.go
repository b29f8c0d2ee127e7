package analysis

import "github.com/slotwatch/slotwatch/collectors"

// blindByPrivilege is the outcome of a rule that needs sessions' states or
// wait events when some rows are hidden from the monitoring role: not
// known, so the alert is held as for a source with no fresh data, never
// reported as OK.
func blindByPrivilege(pg *collectors.PGStats) (outcome, bool) {
	gap := pg.PrivilegeGap()
	if gap == "" {
		return outcome{}, false
	}
	return outcome{blind: "blind: " + gap}, true
}
