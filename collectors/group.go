package collectors

import (
	"cmp"
	"slices"
)

// groupKey is who holds a connection. addr is empty unless groups are
// split by client address.
type groupKey struct{ app, user, addr, db string }

// GroupSessions is the one grouping rule of slotwatch (collector, demo and
// the dashboard's client toggle): sessions by (application, user,
// database), and also by client address when byClient is set; ClientAddr
// is "" otherwise, so a group's scope is exactly what a mitigation may
// name. Groups are ranked by connections held, the leaker first; ties are
// broken by name so the order is stable between refreshes.
func GroupSessions(sessions []Session, byClient bool) []SessionGroup {
	index := map[groupKey]int{}
	groups := []SessionGroup{}
	for i := range sessions {
		s := &sessions[i]
		key := groupKey{app: s.ApplicationName, user: s.Usename, db: s.Datname}
		if byClient {
			key.addr = s.ClientAddr
		}
		gi, ok := index[key]
		if !ok {
			gi = len(groups)
			index[key] = gi
			groups = append(groups, SessionGroup{ApplicationName: key.app, Usename: key.user,
				ClientAddr: key.addr, Datname: key.db, ByState: map[string]int{}})
		}
		g := &groups[gi]
		state := sessionState(s)
		g.Total++
		g.ByState[state]++
		if s.State == "idle" {
			g.OldestIdleSeconds = max(g.OldestIdleSeconds, s.StateSeconds)
		}
		g.OldestBackendSeconds = max(g.OldestBackendSeconds, s.BackendSeconds)
	}
	slices.SortFunc(groups, func(a, b SessionGroup) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.ApplicationName, b.ApplicationName),
			cmp.Compare(a.Usename, b.Usename), cmp.Compare(a.ClientAddr, b.ClientAddr), cmp.Compare(a.Datname, b.Datname))
	})
	return groups
}

// Summarize derives Total, ByState, Waiting and Groups (by application,
// user and database) from st.Sessions. The live collector and the demo
// both call it, so their panes count alike.
func Summarize(st *PGStats) {
	st.Total = len(st.Sessions)
	st.ByState = map[string]int{}
	st.Waiting, st.HiddenSessions = 0, 0
	for i := range st.Sessions {
		s := &st.Sessions[i]
		st.ByState[sessionState(s)]++
		if s.Hidden {
			st.HiddenSessions++
		}
		if s.WaitEventType == "Lock" {
			st.Waiting++
		}
	}
	st.Groups = GroupSessions(st.Sessions, false)
}

func sessionState(s *Session) string {
	if s.State == "" {
		return HiddenState
	}
	return s.State
}
