package collectors

import (
	"testing"
)

func TestGroupSessionsByScopeAndClient(t *testing.T) {
	sess := func(app, addr, state string, idle float64) Session {
		return Session{ApplicationName: app, Usename: "tf", Datname: "tf", ClientAddr: addr, State: state,
			StateSeconds: idle, BackendSeconds: idle + 10}
	}
	sessions := []Session{
		sess("web", "10.0.0.1", "idle", 300), sess("web", "10.0.0.2", "idle", 500), sess("web", "10.0.0.2", "active", 1),
		sess("worker", "10.0.0.9", "idle", 50), sess("worker", "10.0.0.9", "", 0),
	}
	groups := GroupSessions(sessions, false)
	if len(groups) != 2 {
		t.Fatalf("by application/user/database: %d groups %+v, want web and worker", len(groups), groups)
	}
	web, worker := groups[0], groups[1]
	if web.ApplicationName != "web" || web.ClientAddr != "" || web.Total != 3 || web.ByState["idle"] != 2 ||
		web.OldestIdleSeconds != 500 || web.OldestBackendSeconds != 510 {
		t.Errorf("web group = %+v; want 3 sessions across both clients, client_addr empty, oldest idle 500 s", web)
	}
	if worker.Total != 2 || worker.ByState[HiddenState] != 1 {
		t.Errorf("worker group = %+v; want 2 sessions, one hidden", worker)
	}
	byClient := GroupSessions(sessions, true)
	if len(byClient) != 3 || byClient[0].ClientAddr != "10.0.0.2" || byClient[0].Total != 2 ||
		byClient[1].ApplicationName != "worker" || byClient[2].ClientAddr != "10.0.0.1" || byClient[2].Total != 1 {
		t.Errorf("by client = %+v; want web@10.0.0.2 and worker@10.0.0.9 (2 each, by name), then web@10.0.0.1", byClient)
	}

	st := &PGStats{Sessions: append(sessions, Session{ApplicationName: "w", State: "active", WaitEventType: "Lock"})}
	Summarize(st)
	if st.Total != 6 || st.Waiting != 1 || st.ByState["idle"] != 3 || st.ByState["active"] != 2 || len(st.Groups) != 3 {
		t.Errorf("Summarize = total %d waiting %d by_state %v, %d groups; want 6, 1, idle 3 active 2, 3 groups",
			st.Total, st.Waiting, st.ByState, len(st.Groups))
	}
}
