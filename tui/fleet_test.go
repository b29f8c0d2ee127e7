package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/slotwatch/slotwatch/actions"

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
		{Name: "cache", Kind: collectors.SourceRedis, Primary: true, Used: 150, Usable: 160, Ratio: 150.0 / 160, Pending: 1,
			Node: "10.0.4.1:7000"},
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

// recordingMitigator is the fake Mitigator of fleet tests: it records
// every request and plans from the sessions and address of the server the
// request names, as actions' Fleet routes them.
type recordingMitigator struct {
	*fakeMitigator
	sessions map[string][]collectors.Session
	addr     map[string]string

	mu       sync.Mutex
	requests []actions.SessionRequest
	filters  []actions.RedisFilter
	guardReq []actions.GuardRequest
}

func newRecordingMitigator(f analysis.Frame) *recordingMitigator {
	r := &recordingMitigator{fakeMitigator: &fakeMitigator{}, sessions: map[string][]collectors.Session{},
		addr: map[string]string{}}
	for _, s := range f.Snapshot.Servers {
		switch {
		case s.Postgres != nil:
			r.sessions[s.Name] = s.Postgres.Sessions
			r.addr[s.Name] = s.Postgres.Target
		case s.Redis != nil:
			r.addr[s.Name] = s.Redis.Target
		}
	}
	return r
}

func (r *recordingMitigator) PreviewSessions(ctx context.Context, req actions.SessionRequest) (actions.SessionPlan, error) {
	r.mu.Lock()
	r.requests = append(r.requests, req)
	r.mu.Unlock()
	plan, err := (&fakeMitigator{sessions: r.sessions[req.Server]}).PreviewSessions(ctx, req)
	plan.Server = r.addr[req.Server]
	return plan, err
}

func (r *recordingMitigator) PreviewRedis(ctx context.Context, f actions.RedisFilter) (actions.RedisPlan, error) {
	r.mu.Lock()
	r.filters = append(r.filters, f)
	r.mu.Unlock()
	plan, err := r.fakeMitigator.PreviewRedis(ctx, f)
	plan.Server = r.addr[f.Server]
	return plan, err
}

func (r *recordingMitigator) PreviewGuardSet(ctx context.Context, req actions.GuardRequest) (actions.GuardPlan, error) {
	r.mu.Lock()
	r.guardReq = append(r.guardReq, req)
	r.mu.Unlock()
	plan, err := r.fakeMitigator.PreviewGuardSet(ctx, req)
	// As actions' Fleet: the plan names its server, and a cluster's
	// timeout is set on every node.
	plan.Server, plan.ServerName = r.addr[req.Server], req.Server
	if req.Server == "cache" {
		old := "0"
		for _, n := range []string{"10.0.4.1:7000", "10.0.4.2:7000", "10.0.4.3:7000"} {
			plan.Nodes = append(plan.Nodes, actions.GuardNode{Node: n, Current: &old, New: plan.New})
		}
	}
	return plan, err
}

func (r *recordingMitigator) sessionRequests() []actions.SessionRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// TestFlowFleetTerminateOnReplica: 2 shows replica-1's sessions; K on the
// first one previews, names and runs a terminate on replica-1 only.
func TestFlowFleetTerminateOnReplica(t *testing.T) {
	frame := fleetFrame(t)
	mit := newRecordingMitigator(frame)
	opts := Options{Mitigator: mit, Now: func() time.Time { return fixedNow }}
	tm := teatest.NewTestModel(t, New(context.Background(), opts, asciiRenderer()), teatest.WithInitialTermSize(120, 40))
	tm.Send(frameMsg{frame: frame})
	waitFor(t, tm, "Sessions 92", "PG primary 92/97")
	tm.Type("2")
	waitFor(t, tm, "PG replica-1 6/97", "Sessions 6", "31005 metabase")
	tm.Type("K")
	waitFor(t, tm, "CONFIRM TERMINATE of 1 session(s) on replica-1 (10.0.0.2:5432/talentflow)")
	tm.Type("y")
	waitFor(t, tm, "terminate on replica-1: 1 done")
	m := finish(t, tm)
	reqs := mit.sessionRequests()
	if len(reqs) != 1 || reqs[0].Server != "replica-1" || !slices.Equal(reqs[0].Filter.PIDs, []int32{31005}) {
		t.Fatalf("want one terminate request of pid 31005 on replica-1, got %+v", reqs)
	}
	mit.mu.Lock()
	executed := slices.Clone(mit.executed)
	mit.mu.Unlock()
	if len(executed) != 1 || executed[0].Request.Server != "replica-1" || executed[0].Server != "10.0.0.2:5432/talentflow" {
		t.Fatalf("the executed plan must be replica-1's, got %+v", executed)
	}
	if m.fleet.shownName(collectors.SourcePostgres) != "replica-1" {
		t.Fatalf("still showing %q after the action", m.fleet.shownName(collectors.SourcePostgres))
	}
}

// TestFleetSelectionSurvivesResort: the selection is a name. A frame in
// which the fleet re-sorts (replica-1 now has the least headroom) keeps
// replica-1 shown, and 2 still means replica-1 (keys follow the
// configuration, not the rank).
func TestFleetSelectionSurvivesResort(t *testing.T) {
	m := press(newTestModel(t, Options{Mitigator: &fakeMitigator{}}, fleetFrame(t), 120, 40), "2")
	next := fleetFrame(t)
	slices.Reverse(next.Fleet) // replica-1 first now
	next.Snapshot.TakenAt = next.Snapshot.TakenAt.Add(time.Second)
	m = update(m, frameMsg{frame: next})
	v := m.View()
	lines := strings.Split(v, "\n")
	if !strings.Contains(lines[1], "▸2 replica-1") {
		t.Fatalf("the re-sorted fleet should rank replica-1 first, still shown:\n%s", v)
	}
	if !strings.Contains(v, "PG replica-1 6/97") || !strings.Contains(v, "Sessions 6") {
		t.Fatalf("replica-1 must stay shown after a re-sort:\n%s", v)
	}
	for _, s := range m.sessions.all {
		if s.ApplicationName != "metabase" {
			t.Fatalf("the sessions pane holds %s's session %d", s.ApplicationName, s.PID)
		}
	}
	m = press(m, "1")
	if got := m.fleet.shownName(collectors.SourcePostgres); got != "primary" || len(m.sessions.all) != 92 {
		t.Fatalf("1 shows the primary whatever the rank: showing %q with %d sessions", got, len(m.sessions.all))
	}
	m = press(m, "2")
	if got := m.fleet.shownName(collectors.SourcePostgres); got != "replica-1" {
		t.Fatalf("2 shows replica-1 whatever the rank: showing %q", got)
	}
}

// TestFleetSelectedServerGone: a selected server that leaves the fleet
// falls back to the primary, says so, and actions go to the primary.
func TestFleetSelectedServerGone(t *testing.T) {
	m := press(newTestModel(t, Options{Mitigator: &fakeMitigator{}}, fleetFrame(t), 120, 40), "2", " ")
	if len(m.sessions.marks) != 1 {
		t.Fatalf("space should mark a replica session, %d marked", len(m.sessions.marks))
	}
	gone := fleetFrame(t)
	gone.Snapshot.Servers = slices.DeleteFunc(gone.Snapshot.Servers, func(s collectors.ServerSnapshot) bool { return s.Name == "replica-1" })
	gone.Fleet = slices.DeleteFunc(gone.Fleet, func(r analysis.FleetRow) bool { return r.Name == "replica-1" })
	m = update(m, frameMsg{frame: gone})
	v := m.View()
	if !strings.Contains(v, "PG primary 92/97") || !strings.Contains(v, "replica-1 is no longer watched; showing the primary.") {
		t.Fatalf("the dashboard should fall back to the primary and say so:\n%s", v)
	}
	if len(m.sessions.marks) != 0 {
		t.Fatal("marks of the replica's backends must not survive the switch to the primary")
	}
	if got := m.pgTarget(); got != "primary" {
		t.Fatalf("actions must now target the primary, got %q", got)
	}
}

// TestFleetAlertsOfShownServers: the alert area shows the shown servers'
// alerts and counts what fires elsewhere; the findings line counts the
// findings of servers not shown.
func TestFleetAlertsOfShownServers(t *testing.T) {
	m := newTestModel(t, Options{}, fleetFrame(t), 120, 40)
	v := m.View()
	if strings.Contains(v, "81 of 100") || strings.Contains(v, "OTHERS") {
		t.Fatalf("with the primaries shown, replica-1's pending alert has no line and nothing fires elsewhere:\n%s", v)
	}
	m = press(m, "2")
	v = m.View()
	for _, want := range []string{"!! OTHERS   3 firing on other servers: primary 3", "81 of 100 max_connections",
		"RedisClientsGrowing", "(2 on other servers)"} {
		if !strings.Contains(v, want) {
			t.Fatalf("showing replica-1 and cache, the screen should contain %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "PostgresRefusingConnections") || strings.Contains(v, "probe FAIL 53300") {
		t.Fatalf("the primary's probe is not replica-1's: no probe line or alert while it is shown:\n%s", v)
	}
}

// TestFleetRedisClusterKill: X on a client of the cluster names the
// server and keeps only the client with that id on that node (ids are per
// node).
func TestFleetRedisClusterKill(t *testing.T) {
	frame := fleetFrame(t)
	mit := newRecordingMitigator(frame)
	m := press(newTestModel(t, Options{Mitigator: mit}, frame, 120, 40), "tab", "tab", "l")
	c := *m.redis.currentClient()
	other := c
	other.Node = "10.0.4.2:7000"
	mit.clients = []collectors.RedisClient{c, other}
	m = press(m, "X")
	if len(mit.filters) != 1 || mit.filters[0].Server != "cache" || !slices.Equal(mit.filters[0].IDs, []int64{c.ID}) {
		t.Fatalf("want a CLIENT KILL request of id %d on cache, got %+v", c.ID, mit.filters)
	}
	if m.mode != modeConfirm || len(m.confirm.redis().Targets) != 1 || m.confirm.redis().Targets[0].Node != c.Node || m.confirm.dropped != 1 {
		t.Fatalf("only the client on %s may be a target: %+v (dropped %d)", c.Node, m.confirm.redis(), m.confirm.dropped)
	}
	if v := m.View(); !strings.Contains(v, "on cache (10.0.4.1:7000)") {
		t.Fatalf("the dialog should name the cluster:\n%s", v)
	}
}

// TestFleetMitigationsNameTheirServer: a finding's suggested actions act
// on the finding's server (Mitigation.Server, else Finding.Server).
func TestFleetMitigationsNameTheirServer(t *testing.T) {
	frame := fleetFrame(t)
	frame.Findings = append(frame.Findings,
		analysis.Finding{ID: "replica-idle", Severity: "critical", Title: "idle reporting sessions", Server: "replica-1",
			Mitigations: []analysis.Mitigation{{Kind: analysis.TerminateSessions, Server: "replica-1", Label: "terminate pid 31001",
				PIDs: []int32{31001}}}},
		analysis.Finding{ID: "cache-timeout", Severity: "critical", Title: "cache keeps idle clients", Server: "cache",
			Mitigations: []analysis.Mitigation{{Kind: analysis.SetRedisTimeout, Label: "set Redis timeout 300", Value: "300"}}})
	mit := newRecordingMitigator(frame)
	m := press(newTestModel(t, Options{Mitigator: mit}, frame, 120, 40), "2", "f")
	next, cmd := m.Update(keyMsg("m")) // the first finding: replica-idle (critical, first of its rank on replica-1)
	m = update(next.(Model), cmd())
	reqs := mit.sessionRequests()
	if len(reqs) != 1 || reqs[0].Server != "replica-1" || !slices.Equal(reqs[0].Filter.PIDs, []int32{31001}) {
		t.Fatalf("the mitigation should preview pid 31001 on replica-1, got %+v", reqs)
	}
	if m.mode != modeConfirm || len(m.confirm.session().Targets) != 1 {
		t.Fatalf("the replica's backend must be the target (its start time is the replica's), mode %d", m.mode)
	}
	m = press(m, "n")
	m = press(m, "down")
	next, cmd = m.Update(keyMsg("m"))
	m = update(next.(Model), cmd())
	if len(mit.guardReq) != 1 || mit.guardReq[0].Server != "cache" {
		t.Fatalf("the guard should be asked on cache, got %+v", mit.guardReq)
	}
	if v := m.View(); !strings.Contains(v, "CONFIRM GUARD redis-timeout on cache (10.0.4.1:7000)") ||
		!strings.Contains(v, "Nodes (3)") || !strings.Contains(v, "10.0.4.3:7000         0 → 300") {
		t.Fatalf("the guard dialog should name cache and list its nodes:\n%s", v)
	}
}

// TestSingleTargetRequestsNameNoServer: with one server the requests
// carry no name and nothing of the fleet is on screen.
func TestSingleTargetRequestsNameNoServer(t *testing.T) {
	frame := incidentFrame(t)
	mit := &recordingMitigator{fakeMitigator: &fakeMitigator{}, sessions: map[string][]collectors.Session{"": frame.Snapshot.Postgres.Sessions},
		addr: map[string]string{"": "db.talentflow.internal:5432/talentflow"}}
	m := press(newTestModel(t, Options{Mitigator: mit}, frame, 120, 40), "2", "K")
	if reqs := mit.sessionRequests(); len(reqs) != 1 || reqs[0].Server != "" {
		t.Fatalf("a single target's request names no server, got %+v", reqs)
	}
	if v := m.View(); strings.Contains(v, "▸") || strings.Contains(v, "1-9") || !strings.Contains(v, "on db.talentflow.internal:5432/talentflow") {
		t.Fatalf("no fleet block, keys or name for a single target:\n%s", v)
	}
}

// bigFleetFrame is the fleet with nine more servers, some DOWN with long,
// wide or hostile errors and names, so the block has more rows than fit.
func bigFleetFrame(t testing.TB) analysis.Frame {
	f := fleetFrame(t)
	long := strings.Repeat("dial tcp: connection refused by a very long path ", 6) + "漢字\x1b[2J"
	for i := range 9 {
		name := fmt.Sprintf("pg-%d", i+4)
		switch i {
		case 3:
			name = "漢字漢字-replica-with-a-very-long-name"
		case 5:
			name = "evil\x1b[31mname"
		}
		s := collectors.ServerSnapshot{Name: name, Kind: collectors.SourcePostgres, Postgres: f.Snapshot.Servers[1].Postgres}
		row := analysis.FleetRow{Name: name, Kind: collectors.SourcePostgres, Used: 6, Usable: 97, Ratio: 6.0 / 97, Firing: i}
		if i%3 == 0 {
			s.Postgres, s.Error = nil, long
			row = analysis.FleetRow{Name: name, Kind: collectors.SourcePostgres, Down: true, Error: long}
		}
		f.Snapshot.Servers = append(f.Snapshot.Servers, s)
		f.Fleet = append(f.Fleet, row)
	}
	return f
}

// TestLayoutGridFleet keeps the layout invariants with a fleet: every
// mode over the size grid, three and twelve servers; on short screens the
// block shows what fits and "+N more".
func TestLayoutGridFleet(t *testing.T) {
	skipSweepUnderRace(t)
	frames := map[string]analysis.Frame{"three": fleetFrame(t), "twelve": bigFleetFrame(t)}
	scenarios := map[string][]string{
		"primary": nil, "replica": {"2"}, "picker": {"S", "down", "down"}, "confirm": {"2", "K"},
		"nodes": {"tab", "tab", "l", "l"}, "findings": {"f"}, "help": {"?"}, "down-server": {"4"},
		"detail": {"2", "enter"},
	}
	for fname, frame := range frames {
		mit := newRecordingMitigator(frame)
		for w := 20; w <= 240; w += 11 {
			for h := 5; h <= 70; h += 5 {
				for name, keys := range scenarios {
					m := press(newTestModel(t, Options{Mitigator: mit}, frame, w, h), keys...)
					t.Run(fmt.Sprintf("%s/%s/%dx%d", fname, name, w, h), func(t *testing.T) {
						v := m.View()
						checkScreen(t, v, w, h)
						if strings.Contains(v, "\x1b") {
							t.Fatalf("an escape sequence reached the screen: %q", v)
						}
					})
				}
			}
		}
	}
	m := newTestModel(t, Options{}, bigFleetFrame(t), 80, 24)
	lines := strings.Split(m.View(), "\n")
	if !strings.Contains(lines[3], "+10 more: ") || !strings.Contains(lines[4], "PG primary") {
		t.Fatalf("at 80x24 the block shows two servers and +10 more:\n%s", strings.Join(lines, "\n"))
	}
}

// TestFleetWithoutRows: servers but no fleet rows from the analysis still
// get their lines (configuration order, slots from the stats) and keys.
func TestFleetWithoutRows(t *testing.T) {
	f := fleetFrame(t)
	f.Fleet = nil
	m := newTestModel(t, Options{}, f, 120, 40)
	lines := strings.Split(m.View(), "\n")
	for i, want := range []string{"▸1 primary", "2 replica-1", "▸3 cache"} {
		if !strings.Contains(lines[1+i], want) {
			t.Fatalf("line %d should show %q:\n%s", 1+i, want, strings.Join(lines, "\n"))
		}
	}
	if !strings.Contains(lines[2], "6/97") {
		t.Fatalf("replica-1's slots come from its stats: %q", lines[2])
	}
	if m = press(m, "2"); m.pgTarget() != "replica-1" {
		t.Fatalf("2 should show replica-1, showing %q", m.pgTarget())
	}
}

// TestFleetDigitsInFindingsView: in the findings view 1-9 still pick a
// suggested action; they switch servers only on the dashboard.
func TestFleetDigitsInFindingsView(t *testing.T) {
	frame := fleetFrame(t)
	frame.Findings[0].Mitigations = []analysis.Mitigation{{Kind: analysis.TerminateSessions, Label: "terminate pid 20100",
		PIDs: []int32{20100}}}
	mit := newRecordingMitigator(frame)
	m := press(newTestModel(t, Options{Mitigator: mit}, frame, 120, 40), "f")
	next, cmd := m.Update(keyMsg("1"))
	m = next.(Model)
	if cmd == nil || m.pgTarget() != "primary" {
		t.Fatalf("1 in the findings view must preview the first action, not switch servers (showing %q)", m.pgTarget())
	}
	m = update(m, cmd())
	if reqs := mit.sessionRequests(); len(reqs) != 1 || reqs[0].Server != "primary" {
		t.Fatalf("the finding is the primary's; its action should name it: %+v", reqs)
	}
}

func (r *recordingMitigator) Preview(ctx context.Context, req actions.Request) (actions.Plan, error) {
	return previewByKind(ctx, r, req)
}
