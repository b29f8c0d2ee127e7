package analysis

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Fakes for pure code: snapshots listing several servers, built by hand as
// the collectors publish them (the primaries also at the top level, sharing
// the same stats).

// withServers lists the top-level primaries of s and then others, as the
// collectors do for a configuration with several servers.
func withServers(s collectors.Snapshot, others ...collectors.ServerSnapshot) collectors.Snapshot {
	if s.Postgres != nil || s.Errors[collectors.SourcePostgres] != "" {
		s.Servers = append(s.Servers, collectors.ServerSnapshot{Name: "primary", Kind: collectors.SourcePostgres, Primary: true,
			Postgres: s.Postgres, Error: s.Errors[collectors.SourcePostgres]})
	}
	if s.Redis != nil || s.Errors[collectors.SourceRedis] != "" {
		s.Servers = append(s.Servers, collectors.ServerSnapshot{Name: "cache", Kind: collectors.SourceRedis, Primary: true,
			Redis: s.Redis, Error: s.Errors[collectors.SourceRedis]})
	}
	s.Servers = append(s.Servers, others...)
	return s
}

// replica is a PostgreSQL server with total client connections out of 100.
func replica(name string, at time.Time, total int) collectors.ServerSnapshot {
	pg := pgSnap(at, total).Postgres
	pg.Target = name + ":5432/talentflow"
	return collectors.ServerSnapshot{Name: name, Kind: collectors.SourcePostgres, Postgres: pg}
}

func alertOn(t *testing.T, f Frame, name, server string) Alert {
	t.Helper()
	for _, a := range f.Alerts {
		if a.Name == name && a.Server == server {
			return a
		}
	}
	t.Fatalf("no alert %s on server %q at %s: %+v", name, server, f.Snapshot.TakenAt, f.Alerts)
	return Alert{}
}

func TestReplicaAtTheLimitFiresOnItsOwnServer(t *testing.T) {
	p := NewPipeline(DefaultRules())
	var last Frame
	var transitions []Transition
	for i := range 14 { // 0 .. 130 s: longer than the rule's for (2m)
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		s := healthy(at)
		last = p.Step(withServers(s, replica("replica-1", at, 95)))
		transitions = append(transitions, last.Transitions...)
	}
	if a := alertOn(t, last, RulePGConnectionLimit, "replica-1"); a.State != Firing || !strings.Contains(a.Summary, "95 of 100") {
		t.Errorf("the replica's connection limit alert is %s (%s), want firing at 95 of 100", a.State, a.Summary)
	}
	if a := alertOn(t, last, RulePGConnectionLimit, "primary"); a.State != Inactive {
		t.Errorf("the primary's connection limit alert is %s (%s), want inactive", a.State, a.Summary)
	}
	// The primary's rules first, in rule order, named after their
	// server; then the replica's PostgreSQL rules only.
	var got []string
	for _, a := range last.Alerts {
		got = append(got, a.Name+"@"+a.Server)
	}
	want := []string{
		RulePGConnectionLimit + "@primary", RulePGRefusing + "@primary", RulePGLockWaits + "@primary",
		RuleRedisNearLimit + "@cache", RuleRedisGrowing + "@cache", RuleJobsOverCapacity + "@primary", RulePgbouncerWaiting + "@primary",
		RulePGConnectionLimit + "@replica-1", RulePGLockWaits + "@replica-1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alerts:\n got %v\nwant %v", got, want)
	}
	var fired []Transition
	for _, tr := range transitions {
		if tr.To == Firing {
			fired = append(fired, tr)
		}
	}
	if len(fired) != 1 || fired[0].Server != "replica-1" || fired[0].Rule != RulePGConnectionLimit || !fired[0].At.Equal(t0.Add(120*time.Second)) {
		t.Errorf("firing transitions %+v, want one: %s on replica-1 at +120s (pending from +0s, for 2m)", fired, RulePGConnectionLimit)
	}
	row := fleetRow(t, last.Fleet, "replica-1")
	if row.Firing != 1 || row.Used != 95 || row.Usable != 97 || row.ProbeOK != nil {
		t.Errorf("replica-1's fleet row %+v, want 1 firing, 95 of 97 and no probe", row)
	}
	if p := fleetRow(t, last.Fleet, "primary"); p.ProbeOK == nil || !*p.ProbeOK || p.Firing != 0 {
		t.Errorf("the primary's fleet row %+v, want the probe ok and nothing firing", p)
	}
	if last.Fleet[0].Name != "replica-1" {
		t.Errorf("the fullest server is not first: %+v", last.Fleet)
	}
}

func fleetRow(t *testing.T, rows []FleetRow, name string) FleetRow {
	t.Helper()
	for _, r := range rows {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no fleet row %s in %+v", name, rows)
	return FleetRow{}
}

func TestSingleTargetIsUnchanged(t *testing.T) {
	s := incident(t0)
	f := NewPipeline(DefaultRules()).Step(s)
	if f.Fleet != nil {
		t.Errorf("a single target has fleet rows: %+v", f.Fleet)
	}
	for _, a := range f.Alerts {
		if a.Server != "" {
			t.Errorf("alert %s names server %q for a single target", a.Name, a.Server)
		}
	}
	for _, x := range f.Findings {
		if x.Server != "" {
			t.Errorf("finding %s names server %q for a single target", x.ID, x.Server)
		}
	}
	for _, v := range []any{f.Alerts, f.Findings, f.Transitions} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"server"`) {
			t.Errorf("single-target JSON carries a server field: %s", b)
		}
	}
	// The same snapshot listed as servers evaluates the same rules the
	// same way: only Server differs.
	m := NewPipeline(DefaultRules()).Step(withServers(incident(t0)))
	if len(m.Alerts) != len(f.Alerts) || len(m.Findings) != len(f.Findings) {
		t.Fatalf("with Servers: %d alerts, %d findings; alone: %d, %d", len(m.Alerts), len(m.Findings), len(f.Alerts), len(f.Findings))
	}
	for i := range m.Alerts {
		a := m.Alerts[i]
		a.Server = ""
		if !reflect.DeepEqual(a, f.Alerts[i]) {
			t.Errorf("alert %d differs beyond Server:\n%+v\n%+v", i, m.Alerts[i], f.Alerts[i])
		}
	}
}

func TestFindingsAndMitigationsNameTheirServer(t *testing.T) {
	s := withServers(incident(t0), collectors.ServerSnapshot{Name: "sessions", Kind: collectors.SourceRedis, Redis: redisLeak(t0, 80)})
	f := NewPipeline(DefaultRules()).Step(s)
	byServer := map[string]map[string]int{}
	for _, x := range f.Findings {
		kind, _, _ := strings.Cut(x.ID, "/")
		if byServer[x.Server] == nil {
			byServer[x.Server] = map[string]int{}
		}
		byServer[x.Server][kind]++
		for _, m := range x.Mitigations {
			if m.Server != x.Server {
				t.Errorf("finding %s on %q suggests %s on %q", x.ID, x.Server, m.Label, m.Server)
			}
		}
	}
	want := map[string]map[string]int{
		"primary": {FindingPersistentConnections: 1, FindingIdleInTxBlocker: 1, FindingConnectionsRefused: 1, FindingCheckThenInsertRace: 1},
		"cache":   {FindingRedisClientLeak: 1},
		// a one-shot: only the per-call fingerprint, no history needed
		"sessions": {FindingRedisClientLeak: 1},
	}
	if !reflect.DeepEqual(byServer, want) {
		t.Errorf("findings per server:\n got %v\nwant %v", byServer, want)
	}
}

func TestFleetDownAndOrder(t *testing.T) {
	at := t0
	s := withServers(pgSnap(at, 40),
		replica("replica-1", at, 60),
		collectors.ServerSnapshot{Name: "replica-2", Kind: collectors.SourcePostgres}, // never answered
		replica("replica-3", at, 60),
		collectors.ServerSnapshot{Name: "cache", Kind: collectors.SourceRedis, Redis: redisStats(at, nil, 0)},
	)
	down := replica("replica-4", at, 99) // last good 99, latest failed
	down.Error = "PostgreSQL at replica-4:5432 refused the connection; check that it is running"
	s.Servers = append(s.Servers, down)
	s.Servers[len(s.Servers)-2].Redis.ConnectedClients = 9000 // 90% of maxclients

	rows := NewPipeline(DefaultRules()).Step(s).Fleet
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %v %d/%d", r.Name, r.Down, r.Used, r.Usable))
	}
	want := []string{
		"replica-2 true 0/0", "replica-4 true 0/0", // down first, in configuration order
		"cache false 9000/10000",                         // 90%
		"replica-1 false 60/97", "replica-3 false 60/97", // equal ratios keep configuration order
		"primary false 40/97",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fleet rows:\n got %q\nwant %q", got, want)
	}
	if r := fleetRow(t, rows, "replica-4"); r.Error != down.Error || r.Ratio != 0 {
		t.Errorf("a failed server's row %+v, want its error and no stale numbers", r)
	}
	if r := fleetRow(t, rows, "replica-2"); !strings.Contains(r.Error, "replica-2 has not answered yet") {
		t.Errorf("a server that never answered says %q", r.Error)
	}
	// The failed server's rules hold their state: no data is not healthy.
	f := NewPipeline(DefaultRules()).Step(s)
	if a := alertOn(t, f, RulePGConnectionLimit, "replica-4"); a.State != Inactive || !strings.Contains(a.Summary, "no data from postgres yet") {
		t.Errorf("the down replica's alert %s: %s", a.State, a.Summary)
	}
}

func TestFleetRowsIsPure(t *testing.T) {
	s := withServers(pgSnap(t0, 10), replica("replica-1", t0, 20))
	alerts := []Alert{
		{Name: RulePGConnectionLimit, State: Firing, Server: "replica-1"},
		{Name: RulePGLockWaits, State: Pending, Server: "replica-1"},
		{Name: RulePGLockWaits, State: Pending, Server: "primary"},
		{Name: RulePGLockWaits, State: Resolved, Server: "primary"},
	}
	rows := FleetRows(s, alerts)
	if r := fleetRow(t, rows, "replica-1"); r.Firing != 1 || r.Pending != 1 {
		t.Errorf("replica-1 %+v, want 1 firing and 1 pending", r)
	}
	if r := fleetRow(t, rows, "primary"); r.Firing != 0 || r.Pending != 1 {
		t.Errorf("primary %+v, want 0 firing and 1 pending", r)
	}
	if FleetRows(pgSnap(t0, 10), alerts) != nil {
		t.Error("a single target has fleet rows")
	}
}

// cluster is a Redis Cluster of three masters: 300 clients of 30000 in
// all (1%), but one node at fullest of its own 10000.
func cluster(at time.Time, fullest int64) *collectors.RedisStats {
	rs := redisStats(at, nil, 0)
	rs.Cluster = true
	rs.Nodes = []collectors.RedisNodeStats{
		{Addr: "10.0.7.1:7000", Role: "master", ConnectedClients: 100, MaxClients: 10000},
		{Addr: "10.0.7.2:7001", Role: "master", ConnectedClients: fullest, MaxClients: 10000},
		{Addr: "10.0.7.3:7002", Role: "master", ConnectedClients: 100, MaxClients: 10000},
		{Addr: "10.0.7.4:7003", Role: "replica", Error: "i/o timeout", ConnectedClients: 9999, MaxClients: 10000},
	}
	rs.ConnectedClients, rs.MaxClients = 200+fullest, 30000
	return rs
}

func TestClusterHeadroomIsTheFullestNode(t *testing.T) {
	cases := []struct {
		name    string
		fullest int64
		active  bool
	}{
		{"one node at 95% while the cluster is at 34%", 9500, true},
		{"every node well below the threshold", 300, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := cluster(t0, c.fullest)
			l := FullestRedis(rs)
			if l.Node != "10.0.7.2:7001" || l.Clients != c.fullest || l.MaxClients != 10000 || l.Nodes != 3 {
				t.Errorf("FullestRedis = %+v, want node 10.0.7.2:7001 with %d of 10000 of 3 nodes answering", l, c.fullest)
			}
			s := withServers(pgSnap(t0, 10), collectors.ServerSnapshot{Name: "sessions", Kind: collectors.SourceRedis, Redis: rs})
			p := NewPipeline(DefaultRules())
			f := p.Step(s)
			a := alertOn(t, f, RuleRedisNearLimit, "sessions")
			if (a.State != Inactive) != c.active || !strings.Contains(a.Summary, "fullest node 10.0.7.2:7001") {
				t.Errorf("%s is %s (%s), active want %v", RuleRedisNearLimit, a.State, a.Summary, c.active)
			}
			if r := fleetRow(t, f.Fleet, "sessions"); r.Used != int(c.fullest) || r.Usable != 10000 || r.Node != "10.0.7.2:7001" {
				t.Errorf("the cluster's fleet row %+v, want the fullest node's %d of 10000", r, c.fullest)
			}
		})
	}
}

func TestClusterLeakCountsEveryNodeAndNamesThem(t *testing.T) {
	rs := redisLeak(t0, 150) // clients and groups are the cluster's totals
	rs.Cluster = true
	leak := collectors.RedisGroup{Host: "10.0.5.7", Name: "analytics-cache-#", LibName: "redis-py"}
	nodeGroups := func(n int) []collectors.RedisGroup {
		g := leak
		g.Count = n
		return []collectors.RedisGroup{g}
	}
	rs.Nodes = []collectors.RedisNodeStats{
		{Addr: "10.0.7.1:7000", Role: "master", ConnectedClients: 40, MaxClients: 100, Groups: nodeGroups(30)},
		{Addr: "10.0.7.2:7001", Role: "master", ConnectedClients: 122, MaxClients: 130, Groups: nodeGroups(120)},
	}
	s := collectors.Snapshot{TakenAt: t0, Redis: rs}
	f := NewPipeline(DefaultRules()).Step(s)
	leakF := one(t, findingsByKind(f.Findings), FindingRedisClientLeak)
	mustContain(t, leakF, "150 of 162 connected clients", "on the cluster's nodes: 10.0.7.2:7001 120, 10.0.7.1:7000 30",
		"the fullest node, 10.0.7.2:7001, has 122 of its 130 maxclients connected")
	if leakF.Severity != SeverityCritical {
		t.Errorf("a leak with a node at 94%% of maxclients is %s, want critical", leakF.Severity)
	}
}

func TestServerLeavingForgetsItsState(t *testing.T) {
	p := NewPipeline(DefaultRules())
	for i := range 14 {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		p.Step(withServers(pgSnap(at, 10), replica("replica-1", at, 95)))
	}
	at := t0.Add(200 * time.Second)
	f := p.Step(withServers(pgSnap(at, 10), replica("replica-2", at, 10)))
	for _, a := range f.Alerts {
		if a.Server == "replica-1" {
			t.Errorf("a server no longer listed still has alert %s", a.Name)
		}
	}
	at = t0.Add(210 * time.Second)
	f = p.Step(withServers(pgSnap(at, 10), replica("replica-1", at, 95)))
	if a := alertOn(t, f, RulePGConnectionLimit, "replica-1"); a.State != Pending || !a.Since.Equal(at) {
		t.Errorf("a server listed again starts over: %s since %s", a.State, a.Since)
	}
	p.Reset()
	if len(p.subs) != 0 {
		t.Error("Reset keeps the servers' pipelines")
	}
}
