package actions

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

type discardSnapshots struct{}

func (discardSnapshots) Put(collectors.Snapshot) {}

// clusterFixture is a 3-node Redis Cluster ("cache") and a single Redis
// ("sessions") behind one Fleet whose drivers borrow the collectors'
// connections, as the dashboard's do.
type clusterFixture struct {
	cluster *testserver.RedisCluster
	single  *testserver.Redis
	admins  map[string]*redis.Client // per node address, and the single server's
	fleet   *Fleet
	path    string
}

func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	t.Parallel()
	f := &clusterFixture{cluster: testserver.StartRedisCluster(t, 3), single: testserver.StartRedis(t, testserver.RedisOptions{})}
	f.admins = map[string]*redis.Client{}
	for _, addr := range append(f.cluster.Addrs(), f.single.Addr) {
		c := redis.NewClient(&redis.Options{Addr: addr, ClientName: "test-admin", PoolSize: 1, Protocol: 2})
		t.Cleanup(func() { _ = c.Close() })
		f.admins[addr] = c
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	set, err := collectors.Start(ctx, collectors.Config{
		Redis:     &collectors.RedisConfig{Name: "cache", URL: f.cluster.URL()},
		MoreRedis: []collectors.RedisConfig{{Name: "sessions", URL: f.single.URL}},
	}, discardSnapshots{})
	if err != nil {
		t.Fatal(err)
	}
	runner := set.RedisServer("cache")
	for i := 0; i < 400 && len(runner.Nodes()) < 3; i++ {
		time.Sleep(25 * time.Millisecond) // the collector's first tick connects
	}
	if !runner.Cluster() || !slices.Equal(runner.Nodes(), sortedAddrs(f.cluster.Addrs())) {
		t.Fatalf("the runner sees cluster=%v nodes %v, want %v", runner.Cluster(), runner.Nodes(), f.cluster.Addrs())
	}
	f.path = filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := OpenAuditLog(f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = audit.Close() })
	op := Operator{User: "kim"}
	f.fleet, err = NewFleet(
		NamedService{Name: "cache", Kind: collectors.SourceRedis, Service: NewService(nil, NewRedisDriver(runner), DefaultPolicy(), audit, op)},
		NamedService{Name: "sessions", Kind: collectors.SourceRedis, Service: NewService(nil, NewRedisDriver(set.RedisServer("sessions")), DefaultPolicy(), audit, op)},
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("kill closes exactly the matching clients, each on its node", f.testKill)
	t.Run("timeout guard on every node, revert restores each node's value", f.testGuard)
	t.Run("a node refusing CONFIG SET: the nodes already changed are set back", f.testGuardRollback)
	t.Run("unknown Redis server is refused", f.testUnknown)
	t.Run("the CLI's own cluster connection kills on the node too", func(t *testing.T) { f.testDial(t, runner.Server()) })
	// Last: it stops a node.
	t.Run("a node gone before the kill fails only its own targets", f.testNodeDown)
}

func sortedAddrs(addrs []string) []string {
	out := slices.Clone(addrs)
	slices.Sort(out)
	return out
}

// rawClient opens a plain connection to addr named name.
func rawClient(t *testing.T, addr, name string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	send(t, c, "CLIENT SETNAME "+name)
	return c
}

// names lists the names of addr's clients, without slotwatch's and the
// test's own.
func (f *clusterFixture) names(t *testing.T, addr string) []string {
	t.Helper()
	reply, err := f.admins[addr].ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := collectors.ParseClientList(reply)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if c.Name != "slotwatch" && c.Name != "test-admin" {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out
}

func (f *clusterFixture) testKill(t *testing.T) {
	ctx := context.Background()
	n := f.cluster.Addrs()
	// The same number of clients in the same order on every node, so the
	// ids repeat across nodes: only (node, id) names a client.
	layout := map[string][]string{
		n[0]:          {"leaky-0a", "keep-0a", "leaky-0b", "keep-0b"},
		n[1]:          {"keep-1a", "leaky-1a", "keep-1b", "keep-1c"},
		n[2]:          {"keep-2a", "keep-2b", "keep-2c", "keep-2d"},
		f.single.Addr: {"leaky-s", "keep-s"},
	}
	conns := map[string]net.Conn{}
	for addr, names := range layout {
		for _, name := range names {
			conns[name] = rawClient(t, addr, name)
		}
	}
	plan, err := PreviewAs[RedisPlan](ctx, f.fleet, RedisFilter{Server: "cache", Name: "leaky-*"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range plan.Targets {
		got[c.Name] = c.Node
	}
	want := map[string]string{"leaky-0a": n[0], "leaky-0b": n[0], "leaky-1a": n[1]}
	if plan.ServerName != "cache" || len(got) != len(want) || got["leaky-0a"] != n[0] || got["leaky-0b"] != n[0] || got["leaky-1a"] != n[1] {
		t.Fatalf("plan on %q targets %v, want %v", plan.ServerName, got, want)
	}
	// Renamed after the preview: the re-check on its node sees it.
	send(t, conns["leaky-0b"], "CLIENT SETNAME keep-renamed")
	report, err := ExecuteAs[RedisReport](ctx, f.fleet, plan)
	if err != nil {
		t.Fatal(err)
	}
	c := Counts(report.Results)
	if c[Done] != 2 || c[Skipped] != 1 {
		t.Fatalf("results %+v", report.Results)
	}
	for _, r := range report.Results {
		if r.Outcome == Skipped && (r.Node != n[0] || !strings.Contains(r.Reason, "keep-renamed")) {
			t.Fatalf("skipped %+v, want the renamed client on %s", r, n[0])
		}
	}
	for addr, wantNames := range map[string][]string{
		n[0]:          {"keep-0a", "keep-0b", "keep-renamed"},
		n[1]:          {"keep-1a", "keep-1b", "keep-1c"},
		n[2]:          {"keep-2a", "keep-2b", "keep-2c", "keep-2d"},
		f.single.Addr: {"keep-s", "leaky-s"},
	} {
		if got := f.names(t, addr); !slices.Equal(got, wantNames) {
			t.Errorf("clients left on %s: %v, want %v", addr, got, wantNames)
		}
	}
	last := lastEntry(t, f.path)
	if last.Phase != PhaseResult || last.ServerName != "cache" || len(last.NodeTargets) != 3 {
		t.Fatalf("result line %+v", last)
	}
	for _, nt := range last.NodeTargets {
		if nt.Node != got[nameOf(plan, nt)] {
			t.Fatalf("audit names client %d on %s: %+v", nt.ID, nt.Node, last.NodeTargets)
		}
	}
}

// nameOf is the name the plan knew a node target by.
func nameOf(plan RedisPlan, nt NodeTarget) string {
	for _, c := range plan.Targets {
		if c.Node == nt.Node && c.ID == nt.ID {
			return c.Name
		}
	}
	return ""
}

func (f *clusterFixture) timeouts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, addr := range append(f.cluster.Addrs(), f.single.Addr) {
		m, err := f.admins[addr].ConfigGet(context.Background(), "timeout").Result()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m["timeout"])
	}
	return out
}

func (f *clusterFixture) testGuard(t *testing.T) {
	ctx := context.Background()
	n := f.cluster.Addrs()
	if err := f.admins[n[1]].ConfigSet(ctx, "timeout", "7").Err(); err != nil {
		t.Fatal(err)
	}
	plan, err := PreviewAs[GuardPlan](ctx, f.fleet, GuardRequest{Server: "cache", Setting: GuardRedisTimeout, Value: "300"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Nodes) != 3 || plan.ServerName != "cache" || !strings.Contains(show(plan.Current), "differs per node") {
		t.Fatalf("plan %+v", plan)
	}
	res, err := ExecuteAs[GuardResult](ctx, f.fleet, plan)
	if err != nil || res.Outcome != Done {
		t.Fatalf("set: %+v %v", res, err)
	}
	// Cluster nodes in start order, then the single server, untouched.
	if got := f.timeouts(t); !slices.Equal(got, []string{"300", "300", "300", "0"}) {
		t.Fatalf("timeouts after the set %v", got)
	}
	values, err := f.fleet.ShowGuardsOn(ctx, "cache", "")
	if err != nil {
		t.Fatal(err)
	}
	revertTo := map[string]string{}
	for _, v := range values {
		revertTo[v.Node] = show(v.RevertTo)
	}
	if len(values) != 3 || revertTo[n[0]] != "0" || revertTo[n[1]] != "7" || revertTo[n[2]] != "0" {
		t.Fatalf("show %+v", values)
	}
	revert, err := PreviewAs[GuardPlan](ctx, f.fleet, GuardRevert{Server: "cache", Setting: GuardRedisTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := ExecuteAs[GuardResult](ctx, f.fleet, revert); err != nil || res.Outcome != Done {
		t.Fatalf("revert: %+v %v", res, err)
	}
	if got := f.timeouts(t); !slices.Equal(got, []string{"0", "7", "0", "0"}) {
		t.Fatalf("timeouts after the revert %v, want each node's own previous value", got)
	}
	if _, err := PreviewAs[GuardPlan](ctx, f.fleet, GuardRevert{Server: "cache", Setting: GuardRedisTimeout}); err == nil {
		t.Fatal("a second revert found something to undo")
	}
}

func (f *clusterFixture) testUnknown(t *testing.T) {
	_, err := PreviewAs[RedisPlan](context.Background(), f.fleet, RedisFilter{Server: "queue", Name: "leaky-*"})
	want := `no Redis server named "queue" is configured; the servers are cache, sessions`
	if !IsRefused(err) || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	if last := lastEntry(t, f.path); last.Phase != PhaseRefused || last.ServerName != "queue" || last.Action != ActionRedisKill {
		t.Fatalf("audit line %+v", last)
	}
}

// testDial: DialRedis on a redis+cluster:// URL connects to every node by
// itself (the CLI), names the cluster as the dashboard's runner does (so
// the audit log's guard history is one), and kills on the client's node.
func (f *clusterFixture) testDial(t *testing.T, runnerTarget string) {
	ctx := context.Background()
	rc, err := DialRedis(ctx, f.cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	if rc.Server() != runnerTarget {
		t.Fatalf("the CLI names the cluster %q, the dashboard %q", rc.Server(), runnerTarget)
	}
	n := f.cluster.Addrs()
	rawClient(t, n[2], "cli-victim")
	rawClient(t, n[1], "cli-bystander")
	audit, _ := OpenAuditLog("")
	svc := NewService(nil, rc, DefaultPolicy(), audit, Operator{User: "kim"})
	report := kill(t, svc, RedisFilter{Name: "cli-victim"})
	if c := Counts(report.Results); c[Done] != 1 || report.Results[0].Node != n[2] {
		t.Fatalf("results %+v", report.Results)
	}
	if got := f.names(t, n[2]); slices.Contains(got, "cli-victim") {
		t.Fatalf("cli-victim still on %s: %v", n[2], got)
	}
	if got := f.names(t, n[1]); !slices.Contains(got, "cli-bystander") {
		t.Fatalf("cli-bystander gone from %s: %v", n[1], got)
	}
	if _, err := DialRedis(ctx, "redis+cluster://127.0.0.1:1"); err == nil {
		t.Fatal("dialled a cluster that is not there")
	}
}

// testGuardRollback: the last node (in the order the guard changes them)
// refuses CONFIG SET (its default user lost +config|set); the two nodes
// changed before it are set back, the result says so, and nothing is left
// to revert.
func (f *clusterFixture) testGuardRollback(t *testing.T) {
	ctx := context.Background()
	last := sortedAddrs(f.cluster.Addrs())[2]
	if err := f.admins[last].Do(ctx, "ACL", "SETUSER", "default", "-config|set").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.admins[last].Do(context.Background(), "ACL", "SETUSER", "default", "+config|set").Err() })
	before := f.timeouts(t)
	plan, err := PreviewAs[GuardPlan](ctx, f.fleet, GuardRequest{Server: "cache", Setting: GuardRedisTimeout, Value: "120"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ExecuteAs[GuardResult](ctx, f.fleet, plan)
	if err == nil || res.Outcome != Failed || !strings.Contains(res.Reason, "node "+last) || !strings.Contains(res.Reason, "the 2 node(s) already changed were set back") {
		t.Fatalf("set with a refusing node: %+v %v", res, err)
	}
	if got := f.timeouts(t); !slices.Equal(got, before) {
		t.Fatalf("timeouts %v after the failed set, want them as before %v", got, before)
	}
	if _, err := PreviewAs[GuardPlan](ctx, f.fleet, GuardRevert{Server: "cache", Setting: GuardRedisTimeout}); err == nil {
		t.Fatal("a failed set left something to revert")
	}
}

func (f *clusterFixture) testNodeDown(t *testing.T) {
	ctx := context.Background()
	n := f.cluster.Addrs()
	rawClient(t, n[0], "down-a")
	rawClient(t, n[1], "down-b")
	plan, err := PreviewAs[RedisPlan](ctx, f.fleet, RedisFilter{Server: "cache", Name: "down-*"})
	if err != nil || len(plan.Targets) != 2 {
		t.Fatalf("preview %+v, %v", plan.Targets, err)
	}
	f.cluster.Nodes[1].Stop(t)
	report, err := ExecuteAs[RedisReport](ctx, f.fleet, plan)
	if err != nil {
		t.Fatalf("one node down stopped the whole kill: %v", err)
	}
	for _, r := range report.Results {
		switch r.Node {
		case n[0]:
			if r.Outcome != Done {
				t.Errorf("target on the live node: %+v", r)
			}
		case n[1]:
			if r.Outcome != Failed || !strings.Contains(r.Reason, n[1]) {
				t.Errorf("target on the stopped node: %+v, want failed naming %s", r, n[1])
			}
		default:
			t.Errorf("result on node %q: %+v", r.Node, r)
		}
	}
	if got := f.names(t, n[0]); slices.Contains(got, "down-a") {
		t.Fatalf("down-a still on %s: %v", n[0], got)
	}
}

// TestRedisClusterReplicas: on a cluster with replicas, a client on a
// replica is killed on that replica, and the timeout guard changes and
// reverts every node, replicas included, through the dashboard's runner
// and the CLI's own connection alike.
func TestRedisClusterReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster with replicas")
	}
	t.Parallel()
	rc := testserver.StartRedisClusterWithReplicas(t, 3, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	set, err := collectors.Start(ctx, collectors.Config{Redis: &collectors.RedisConfig{Name: "cache", URL: rc.URL()}}, discardSnapshots{})
	if err != nil {
		t.Fatal(err)
	}
	runner := set.Redis()
	admins := map[string]*redis.Client{}
	for _, addr := range rc.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: addr, ClientName: "test-admin", PoolSize: 1, Protocol: 2})
		t.Cleanup(func() { _ = c.Close() })
		admins[addr] = c
		// Redis lists a replica in CLUSTER SLOTS only once its replication
		// offset, bumped by the master's pings, is gossiped: ping often.
		if err := c.ConfigSet(ctx, "repl-ping-replica-period", "1").Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i, stable := 0, 0; i < 1200 && stable < 20; i++ {
		if len(runner.Nodes()) == 6 {
			stable++
		} else {
			stable = 0
			time.Sleep(25 * time.Millisecond)
		}
	}
	replica, master := "", ""
	for addr, c := range admins {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "role:slave") {
			replica = addr
		} else {
			master = addr
		}
	}
	if replica == "" || master == "" {
		t.Fatal("no replica or no master among the nodes")
	}
	rawClient(t, replica, "replica-victim")
	rawClient(t, master, "replica-victim-not") // does not match the exact name
	audit, _ := OpenAuditLog("")
	svc := NewService(nil, NewRedisDriver(runner), DefaultPolicy(), audit, Operator{User: "kim"})
	report := kill(t, svc, RedisFilter{Name: "replica-victim"})
	if c := Counts(report.Results); c[Done] != 1 || report.Results[0].Node != replica {
		t.Fatalf("results %+v, want one done on replica %s", report.Results, replica)
	}
	timeouts := func() []string {
		var out []string
		for _, addr := range rc.Addrs() {
			m, err := admins[addr].ConfigGet(ctx, "timeout").Result()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m["timeout"])
		}
		return out
	}
	all := func(v string) []string { return slices.Repeat([]string{v}, 6) }
	cli, err := DialRedis(ctx, rc.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	for name, s := range map[string]*Service{"dashboard": svc, "cli": NewService(nil, cli, DefaultPolicy(), audit, Operator{User: "kim"})} {
		plan, err := s.PreviewGuardSet(ctx, GuardRequest{Setting: GuardRedisTimeout, Value: "45"})
		if err != nil || len(plan.Nodes) != 6 {
			t.Fatalf("%s: plan nodes %+v, %v", name, plan.Nodes, err)
		}
		if res, err := s.ExecuteGuard(ctx, plan); err != nil || res.Outcome != Done {
			t.Fatalf("%s: set %+v %v", name, res, err)
		}
		if got := timeouts(); !slices.Equal(got, all("45")) {
			t.Fatalf("%s: timeouts %v after the set", name, got)
		}
		revert, err := s.PreviewGuardRevert(ctx, GuardRequest{Setting: GuardRedisTimeout})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := s.ExecuteGuard(ctx, revert); err != nil || res.Outcome != Done {
			t.Fatalf("%s: revert %+v %v", name, res, err)
		}
		if got := timeouts(); !slices.Equal(got, all("0")) {
			t.Fatalf("%s: timeouts %v after the revert", name, got)
		}
	}
}
