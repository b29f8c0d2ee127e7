package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// replicaSessions are replica-1's backends: reporting queries, pids the
// primary does not have.
func replicaSessions(at time.Time) []collectors.Session {
	var out []collectors.Session
	for i := range 6 {
		state := "active"
		if i%2 == 1 {
			state = "idle"
		}
		out = append(out, collectors.Session{PID: int32(31000 + i), BackendStart: at.Add(-time.Duration(i+1) * time.Hour),
			Datname: "talentflow", Usename: "reporting", ApplicationName: "metabase", ClientAddr: "10.0.3.7",
			State: state, StateSeconds: float64(30 * (i + 1)), Query: fmt.Sprintf("SELECT count(*) FROM report_%d", i)})
	}
	return out
}

// clusterStats is a three-node Redis Cluster holding the incident's
// clients: the leaking group lives on one node, which is the fullest.
func clusterStats(base *collectors.RedisStats) *collectors.RedisStats {
	r := *base
	r.Cluster = true
	r.Target = "10.0.4.1:7000"
	r.Clients = slices.Clone(base.Clients)
	nodes := []string{"10.0.4.1:7000", "10.0.4.2:7000", "10.0.4.3:7000"}
	for i := range r.Clients {
		r.Clients[i].Node = nodes[i%3]
		if r.Clients[i].Host() == "10.0.2.21" {
			r.Clients[i].Node = nodes[0]
		}
	}
	r.Nodes = []collectors.RedisNodeStats{
		{Addr: nodes[0], Role: "master", ConnectedClients: 150, MaxClients: 160, Groups: base.Groups},
		{Addr: nodes[1], Role: "master", ConnectedClients: 20, MaxClients: 160},
		{Addr: nodes[2], Role: "replica", ConnectedClients: 22, MaxClients: 160},
	}
	r.ConnectedClients, r.MaxClients = 192, 480
	return &r
}

// fleetFrame is the incident watched as a fleet: the primary PostgreSQL
// (the incident), replica-1 with a few reporting sessions, and the Redis
// as a three-node cluster named cache. The rows are ranked as analysis
// ranks them: least headroom first.
func fleetFrame(t testing.TB) analysis.Frame {
	f := incidentFrame(t)
	s := &f.Snapshot
	replica := &collectors.PGStats{Sample: s.Postgres.Sample, Target: "10.0.0.2:5432/talentflow",
		ServerVersion: s.Postgres.ServerVersion, MaxConnections: 100, SuperuserReservedConnections: 3,
		Sessions: replicaSessions(s.TakenAt), ByState: map[string]int{"active": 3, "idle": 3}}
	replica.Total = len(replica.Sessions)
	replica.Groups = collectors.GroupSessions(replica.Sessions, false)
	s.Redis = clusterStats(s.Redis)
	s.Servers = []collectors.ServerSnapshot{
		{Name: "primary", Kind: collectors.SourcePostgres, Primary: true, Postgres: s.Postgres},
		{Name: "replica-1", Kind: collectors.SourcePostgres, Postgres: replica},
		{Name: "cache", Kind: collectors.SourceRedis, Primary: true, Redis: s.Redis},
	}
	for i := range f.Alerts {
		switch a := &f.Alerts[i]; {
		case strings.HasPrefix(a.Name, "Redis"):
			a.Server = "cache"
		default:
			a.Server = "primary"
		}
	}
	f.Alerts = append(f.Alerts, analysis.Alert{Name: "PostgresConnectionLimitReached", State: analysis.Pending, Server: "replica-1",
		Since: s.TakenAt.Add(-20 * time.Second), Value: 0.81, Summary: "81 of 100 max_connections in use (81%)"})
	for i := range f.Findings {
		f.Findings[i].Server = "primary"
		if f.Findings[i].ID == "redis-leak" {
			f.Findings[i].Server = "cache"
		}
	}
	no := false
	pg := s.Postgres
	f.Fleet = []analysis.FleetRow{
		{Name: "primary", Kind: collectors.SourcePostgres, Primary: true, Used: pg.Used(), Usable: pg.Usable(),
			Ratio: float64(pg.Used()) / float64(pg.Usable()), ProbeOK: &no, Firing: 3},
		{Name: "cache", Kind: collectors.SourceRedis, Primary: true, Used: 150, Usable: 160, Ratio: 150.0 / 160, Pending: 1},
		{Name: "replica-1", Kind: collectors.SourcePostgres, Used: replica.Used(), Usable: replica.Usable(),
			Ratio: float64(replica.Used()) / float64(replica.Usable()), Pending: 1},
	}
	return f
}

// press sends keys to a model, running each command's message (previews)
// the way the program would.
func press(m Model, keys ...string) Model {
	for _, k := range keys {
		next, cmd := m.Update(keyMsg(k))
		m = next.(Model)
		if msg := runCmd(cmd); msg != nil {
			m = update(m, msg)
		}
	}
	return m
}

// TestGoldenFleet pins the three-server dashboard: the fleet block ranked
// with number keys, the primary shown; replica-1 shown after 2; the
// cluster's nodes; the picker; and a terminate dialog on the replica.
func TestGoldenFleet(t *testing.T) {
	frame := fleetFrame(t)
	mit := &fakeMitigator{sessions: frame.Snapshot.Servers[1].Postgres.Sessions}
	cases := map[string]struct {
		w, h int
		keys []string
	}{
		"primary-80x24":   {80, 24, nil},
		"primary-120x40":  {120, 40, nil},
		"replica-80x24":   {80, 24, []string{"2"}},
		"replica-120x40":  {120, 40, []string{"2"}},
		"nodes-120x40":    {120, 40, []string{"tab", "tab", "l", "l"}},
		"clients-120x40":  {120, 40, []string{"tab", "tab", "l"}},
		"picker-80x24":    {80, 24, []string{"S", "down"}},
		"confirm-120x40":  {120, 40, []string{"2", "K"}},
		"help-120x40":     {120, 40, []string{"?"}},
		"findings-120x40": {120, 40, []string{"2", "f"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := press(newTestModel(t, Options{Mitigator: mit}, frame, c.w, c.h), c.keys...)
			v := m.View()
			checkScreen(t, v, c.w, c.h)
			golden.RequireEqual(t, []byte(v))
		})
	}
}
