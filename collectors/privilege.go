package collectors

import "fmt"

// PrivilegeGap is the sentence saying how many sessions the monitoring
// role cannot read and the grant that fixes it, or "" when it sees every
// row. It is the one wording the header, the rules and the actions use.
func (p *PGStats) PrivilegeGap() string {
	if p == nil || p.HiddenSessions == 0 {
		return ""
	}
	return HiddenSentence(p.HiddenSessions, p.Total, p.Role)
}

// HiddenSentence names hidden of total sessions hidden from role and the
// grant that makes them visible.
func HiddenSentence(hidden, total int, role string) string {
	if role == "" {
		return fmt.Sprintf("%d of %d sessions hidden from the monitoring role: GRANT pg_monitor TO it", hidden, total)
	}
	return fmt.Sprintf("%d of %d sessions hidden from role %s: GRANT pg_monitor TO %s", hidden, total, role, role)
}
