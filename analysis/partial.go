package analysis

import (
	"fmt"
	"strings"

	"github.com/slotwatch/slotwatch/collectors"
)

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

// FindingBlindByPrivilege says that the findings which read sessions'
// states cannot be decided: some rows are hidden from the monitoring role.
const FindingBlindByPrivilege = "blind-by-privilege"

// needsStates are the findings a hidden row can hide: they read every
// session's state, idle time or application.
var needsStates = map[string]bool{FindingPersistentConnections: true, FindingIdleInTxBlocker: true}

// privilegeFindings is the blind finding while rows are hidden, so the
// findings view never reads "nothing found" for sessions it could not see.
func privilegeFindings(in *input) []Finding {
	pg := in.snap.Postgres
	if pg == nil || !sourceFresh(in.snap, collectors.SourcePostgres) {
		return nil
	}
	gap := pg.PrivilegeGap()
	if gap == "" {
		return nil
	}
	role := pg.Role
	if role == "" {
		role = "the monitoring role"
	}
	return []Finding{{
		ID:       FindingBlindByPrivilege,
		Severity: SeverityWarning,
		Title:    "Sessions hidden from the monitoring role: findings that need their states cannot be decided",
		About:    role,
		Evidence: []string{gap,
			"persistent connections and idle-in-transaction blockers are read from every session's state, idle time and application: they are held as last seen, never reported as cleared or absent"},
		Fix: []string{fmt.Sprintf("GRANT pg_monitor TO %s (or pg_read_all_stats), then the console sees every session", role)},
	}}
}

// heldByPrivilege reports whether an open finding that was not found in
// this snapshot is one a hidden row may hide: it is kept as last seen.
func heldByPrivilege(in *input, f *Finding) bool {
	kind, _, _ := strings.Cut(f.ID, "/")
	return needsStates[kind] && in.snap.Postgres.PrivilegeGap() != ""
}
