package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// fleetServers are the throwaway servers of the several-servers tests: two
// PostgreSQL servers (primary and replica-1, each with sessions of its own
// application), a Redis (cache) and a Redis Cluster (sessions).
type fleetServers struct {
	primary, replica *testserver.Postgres
	cache            *testserver.Redis
	cluster          *testserver.RedisCluster
	config           string // YAML config naming all four
	audit            string
}

const (
	primarySessions = 3
	replicaSessions = 5
)

func startFleet(t *testing.T) fleetServers {
	t.Helper()
	f := fleetServers{
		primary: testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30}),
		replica: testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30}),
		cache:   testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 100}),
		cluster: testserver.StartRedisCluster(t, 3),
	}
	holdPG(t, f.primary, "web-primary", primarySessions)
	holdPG(t, f.replica, "web-replica", replicaSessions)
	dir := t.TempDir()
	f.audit = filepath.Join(dir, "audit.jsonl")
	f.config = filepath.Join(dir, "slotwatch.yaml")
	body := fmt.Sprintf(`pg:
  - {name: primary, dsn: %q}
  - name: replica-1
    dsn: %q
redis:
  - {name: cache, url: %q}
  - {name: sessions, url: %q, cluster: true}
interval: 200ms
probe:
  interval: 0s
jobs:
  disabled: true
alerts:
  PostgresConnectionLimitReached: {threshold: 0.15}
audit_log: %s
`, f.primary.DSN, f.replica.DSN, f.cache.URL, "redis://"+f.cluster.Addrs()[0], f.audit)
	if err := os.WriteFile(f.config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// holdPG opens n sessions named app as the ordinary role app (the safety
// policy protects superusers' sessions), closed at cleanup.
func holdPG(t *testing.T, pg *testserver.Postgres, app string, n int) {
	t.Helper()
	pg.Psql(t, "postgres", "CREATE ROLE app LOGIN")
	for range n {
		c, err := pgx.Connect(context.Background(), pg.DSNFor("app", "postgres")+"&application_name="+app)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
	}
}

func countApp(t *testing.T, pg *testserver.Postgres, app string) int {
	t.Helper()
	n, err := strconv.Atoi(pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"+app+"'"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFleetEndToEnd: a config with lists makes `snapshot --json` list every
// server in configuration order with its own numbers (the single-target
// top level stays, holding the primaries), the text names them, and
// `terminate --server replica-1` acts on the replica only, while terminate
// without --server refuses and lists the servers.
func TestFleetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers, a Redis and a Redis Cluster")
	}
	f := startFleet(t)
	// A leaked client on a cluster node, for the cluster's client count.
	mitHoldRedis(t, f.cluster.Addrs()[1], "leak-%d", 2)

	code, out, errOut := mitRun(t, "snapshot", "--json", "--config", f.config)
	if code != exitOK {
		t.Fatalf("snapshot --json: exit %d\n%s", code, errOut)
	}
	var snap snapshotOutput
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("snapshot --json is not JSON: %v\n%.500s", err, out)
	}
	var names []string
	for _, s := range snap.Servers {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "primary replica-1 cache sessions" {
		t.Fatalf("servers[] = %q, want every server in configuration order", got)
	}
	prim, repl, cache, sess := snap.Servers[0], snap.Servers[1], snap.Servers[2], snap.Servers[3]
	if !prim.Primary || repl.Primary || !cache.Primary || sess.Primary || prim.Kind != collectors.SourcePostgres || sess.Kind != collectors.SourceRedis {
		t.Errorf("primaries and kinds: %+v", snap.Servers)
	}
	if prim.Postgres == nil || repl.Postgres == nil || prim.Postgres.Total != primarySessions || repl.Postgres.Total != replicaSessions {
		t.Fatalf("PostgreSQL totals: primary %+v replica %+v", prim.Postgres, repl.Postgres)
	}
	if snap.Postgres == nil || snap.Postgres.Total != primarySessions || snap.Redis == nil || snap.Redis.Target != cache.Redis.Target {
		t.Errorf("the top level must stay the primaries': postgres %+v redis %+v", snap.Postgres, snap.Redis)
	}
	if sess.Redis == nil || !sess.Redis.Cluster || len(sess.Redis.Nodes) != 3 || sess.Error != "" {
		t.Fatalf("the cluster server: %+v (error %q)", sess.Redis, sess.Error)
	}
	leaks := 0
	for _, c := range sess.Redis.Clients {
		if strings.HasPrefix(c.Name, "leak-") {
			leaks++
		}
	}
	if leaks != 2 {
		t.Errorf("the cluster lists %d leak-* clients, want 2", leaks)
	}
	// The threshold of 15% of max_connections: the replica's 5 of 30 cross
	// it, the primary's 3 do not; each server's alert names its server.
	limit := map[string]string{}
	for _, a := range snap.Alerts {
		if a.Name == "PostgresConnectionLimitReached" {
			limit[a.Server] = string(a.State)
		}
	}
	if limit["replica-1"] != "pending" || limit["primary"] != "inactive" || len(limit) != 2 {
		t.Errorf("PostgresConnectionLimitReached by server: %v, want replica-1 pending and primary inactive", limit)
	}

	code, text, _ := mitRun(t, "snapshot", "--config", f.config)
	if code != exitOK || !strings.Contains(text, "Servers: primary (primary PostgreSQL), replica-1, cache (primary Redis), sessions") ||
		!strings.Contains(text, "PostgreSQL replica-1: 127.0.0.1:") {
		t.Errorf("snapshot text with several servers: exit %d\n%s", code, text)
	}

	fleetTerminate(t, f)
}

func fleetTerminate(t *testing.T, f fleetServers) {
	code, _, errOut := mitRun(t, "terminate", "--config", f.config, "--app", "web-*", "--yes")
	if code != exitUsage || !strings.Contains(errOut, "primary, replica-1") || !strings.Contains(errOut, "--server NAME") {
		t.Fatalf("terminate without --server among two PostgreSQL servers: exit %d\n%s", code, errOut)
	}
	code, _, errOut = mitRun(t, "terminate", "--config", f.config, "--server", "cache", "--app", "web-*", "--yes")
	if code != exitUsage || !strings.Contains(errOut, "names no PostgreSQL server") {
		t.Fatalf("terminate --server naming a Redis server: exit %d\n%s", code, errOut)
	}
	code, out, errOut := mitRun(t, "terminate", "--config", f.config, "--server", "replica-1", "--app", "web-*", "--yes", "--json")
	if code != exitOK {
		t.Fatalf("terminate --server replica-1: exit %d\n%s\n%s", code, out, errOut)
	}
	var res actionOutput[actions.SessionPlan]
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Executed || res.Plan.ServerName != "replica-1" || res.Counts["done"] != replicaSessions {
		t.Fatalf("terminate on replica-1: executed %v server %q counts %v", res.Executed, res.Plan.ServerName, res.Counts)
	}
	waitFor(t, "the replica's sessions to end", func() bool { return countApp(t, f.replica, "web-replica") == 0 })
	if n := countApp(t, f.primary, "web-primary"); n != primarySessions {
		t.Fatalf("terminate --server replica-1 touched the primary: %d of its %d sessions left", n, primarySessions)
	}
	// A Redis Cluster server: the kill runs on each client's own node.
	code, out, errOut = mitRun(t, "redis-kill", "--config", f.config, "--server", "sessions", "--name", "leak-*", "--yes")
	if code != exitOK || !strings.Contains(out, "redis-kill on sessions (") || !strings.Contains(out, "done 2,") {
		t.Fatalf("redis-kill --server sessions: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = mitRun(t, "redis-kill", "--config", f.config, "--name", "leak-*", "--yes")
	if code != exitUsage || !strings.Contains(errOut, "cache, sessions") {
		t.Fatalf("redis-kill without --server among two Redis servers: exit %d\n%s", code, errOut)
	}
	code, out, errOut = mitRun(t, "guard", "show", "--config", f.config)
	if code != exitOK || !strings.Contains(out, "cache ") || strings.Count(out, "sessions node 127.0.0.1:") != 3 {
		t.Fatalf("guard show over every server: exit %d\n%s\n%s", code, out, errOut)
	}
	audit, err := os.ReadFile(f.audit)
	if err != nil || !strings.Contains(string(audit), `"server_name":"replica-1"`) {
		t.Errorf("the audit log does not name the server: %v\n%s", err, audit)
	}
}

// TestFleetConnectionBudget: with two PostgreSQL servers, a Redis and a
// Redis Cluster, the console (collectors and the action fleet, wired as
// watch wires them) holds one connection on each server (each cluster
// node), and an action on one server runs on its collector's connection.
func TestFleetConnectionBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers, a Redis and a Redis Cluster")
	}
	f := startFleet(t)
	ctx, s, set, box := startFromConfig(t, f.config, t.TempDir())
	waitFor(t, "a sample of every server", func() bool {
		select {
		case <-box.Ready():
		case <-time.After(time.Second):
		}
		snap, _ := box.Take()
		if len(snap.Servers) != 4 {
			return false
		}
		for _, srv := range snap.Servers {
			if srv.Postgres == nil && srv.Redis == nil {
				return false
			}
		}
		return true
	})
	audit, err := actions.OpenAuditLog(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	fleet, err := actionFleet(set, s.policy(), audit, actions.Operator{User: "test"})
	if err != nil {
		t.Fatal(err)
	}
	checkOne := func(when string) {
		t.Helper()
		for name, pg := range map[string]*testserver.Postgres{"primary": f.primary, "replica-1": f.replica} {
			admin := superConn(t, ctx, pg)
			if n := slotwatchBackends(t, admin); n != 1 {
				t.Errorf("%s: the console holds %d backends on %s, want 1", when, n, name)
			}
			_ = admin.Close(ctx)
		}
		for _, addr := range append([]string{f.cache.Addr}, f.cluster.Addrs()...) {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			if n := slotwatchClients(t, ctx, rdb); n != 1 {
				t.Errorf("%s: the console holds %d clients on Redis %s, want 1", when, n, addr)
			}
			_ = rdb.Close()
		}
	}
	checkOne("watching")

	plan, err := actions.PreviewAs[actions.SessionPlan](ctx, fleet, actions.SessionRequest{Server: "replica-1", Kind: actions.Terminate, Filter: actions.SessionFilter{App: "web-replica"}})
	if err != nil || len(plan.Targets) != replicaSessions || plan.ServerName != "replica-1" {
		t.Fatalf("preview on replica-1: %v targets on %q, %v", plan.PIDs(), plan.ServerName, err)
	}
	if rep, err := actions.ExecuteAs[actions.SessionReport](ctx, fleet, plan); err != nil || actions.Counts(rep.Results)[actions.Done] != replicaSessions {
		t.Fatalf("terminate on replica-1: %+v, %v", rep.Results, err)
	}
	if n := countApp(t, f.primary, "web-primary"); n != primarySessions {
		t.Fatalf("the replica's terminate touched the primary: %d sessions left", n)
	}
	checkOne("after an action on replica-1")
}

// TestFleetInTmux runs the binary on a config with two PostgreSQL servers
// and a Redis: the dashboard shows a fleet line for each server, and K
// with replica-1 shown terminates on the replica only.
func TestFleetInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	primary := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	replica := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	cache := testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 100})
	holdPG(t, replica, "web-replica", replicaSessions)
	holdPG(t, primary, "web-primary", primarySessions)
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("pg:\n  - {name: primary, dsn: %q}\n  - {name: replica-1, dsn: %q}\nredis: %s\nprobe:\n  interval: 0s\njobs:\n  disabled: true\n",
		primary.DSN, replica.DSN, cache.URL)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildSlotwatch(t)
	s := startTmux(t, "fleet", fmt.Sprintf("env NO_COLOR=1 HOME=%s %s watch --config %s --audit-log %s", dir, bin, config, filepath.Join(dir, "audit.jsonl")))
	// One fleet line per server, the replica's counting the sessions held
	// on it and slotwatch's own connection.
	want := map[string]string{"primary": fmt.Sprintf("%d/27", primarySessions+1), "replica-1": fmt.Sprintf("%d/27", replicaSessions+1), cache.Addr: "1/100"}
	var rows map[string]string
	var screen string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		screen = s.capture()
		if rows = fleetRows(screen); fmt.Sprint(rows) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet lines %v, want %v; screen:\n%s", rows, want, screen)
		}
	}
	// 2 shows the replica in the detailed panes; K there terminates the
	// selected session on the replica, named in the confirmation.
	s.keys("2")
	s.waitFor(fmt.Sprintf("PG replica-1 %d/27 used", replicaSessions+1), "web-replica")
	s.keys("i")
	s.waitFor("state=idle")
	s.keys("K")
	s.waitFor("CONFIRM TERMINATE", "replica-1", "Press y")
	s.keys("y")
	waitFor(t, "one replica session to end", func() bool { return countApp(t, replica, "web-replica") == replicaSessions-1 })
	if n := countApp(t, primary, "web-primary"); n != primarySessions {
		t.Fatalf("K on replica-1 touched the primary: %d of its %d sessions left", n, primarySessions)
	}
	s.keys("q")
	s.waitExit()
}

// fleetRowRE is a fleet line: selection mark, number key, name, kind and
// used/usable slots.
var fleetRowRE = regexp.MustCompile(`^\s*▸?\d+ (\S+)\s+(?:PG|Redis|Cluster\S*)\s+(\d+/\d+)\s`)

// fleetRows maps each fleet line's server name to its used/usable.
func fleetRows(screen string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(screen, "\n") {
		if m := fleetRowRE.FindStringSubmatch(l); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out
}

// TestServeFleetOverSSH serves two PostgreSQL servers: the operator's K
// with replica-1 shown terminates on the replica only, the audit line names
// replica-1, the viewer is told "on replica-1", and the served console
// still holds one backend on each server.
func TestServeFleetOverSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end SSH test skipped in -short mode")
	}
	for _, tool := range []string{"tmux", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test installs tmux and openssh-client)", tool)
		}
	}
	primary := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	replica := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 30})
	holdPG(t, primary, "web-primary", primarySessions)
	holdPG(t, replica, "web-replica", replicaSessions)
	dir := t.TempDir()
	kim, marcus := sshKeygen(t, dir, "kim"), sshKeygen(t, dir, "marcus")
	var keys strings.Builder
	for _, k := range []sshKey{kim, marcus} {
		pub, err := os.ReadFile(k.path + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		keys.Write(pub)
	}
	authorized, audit, config := filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "config.yaml")
	mustWrite(t, authorized, keys.String())
	mustWrite(t, config, fmt.Sprintf("pg:\n  - {name: primary, dsn: %q}\n  - {name: replica-1, dsn: %q}\ninterval: 250ms\naudit_log: %s\nprobe:\n  interval: 0s\njobs:\n  disabled: true\nserve:\n  operators: [kim]\n",
		primary.DSN, replica.DSN, audit))
	_, ssh, _ := startServe(t, dir, config, authorized)
	op := servedSession(t, "fleet-kim", 160, 45, ssh(kim))
	viewer := servedSession(t, "fleet-marcus", 160, 45, ssh(marcus))
	for _, s := range []*tmuxSession{op, viewer} {
		s.waitFor("slotwatch LIVE", "replica-1", "2 watching")
	}
	op.keys("2")
	op.waitFor("PG replica-1", "web-replica")
	op.keys("i")
	op.waitFor("state=idle")
	op.keys("K")
	op.waitFor("CONFIRM TERMINATE", "Press y")
	op.keys("y")
	result := waitAuditEntry(t, audit, func(e actions.AuditEntry) bool { return e.Phase == actions.PhaseResult })
	if result.ServerName != "replica-1" || len(result.Done) != 1 || result.Operator.User != "kim" {
		t.Fatalf("the served terminate is audited on %q with %d done by %q, want replica-1, 1, kim", result.ServerName, len(result.Done), result.Operator.User)
	}
	screen := viewer.waitFor("kim terminated 1 session")
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "kim terminated 1 session") && !strings.Contains(l, "on replica-1") {
			t.Errorf("the viewer's announcement does not name the server: %q", strings.TrimSpace(l))
		}
	}
	waitFor(t, "the replica session to end", func() bool { return countApp(t, replica, "web-replica") == replicaSessions-1 })
	if n := countApp(t, primary, "web-primary"); n != primarySessions {
		t.Fatalf("the served terminate on replica-1 touched the primary: %d sessions left", n)
	}
	for name, pg := range map[string]*testserver.Postgres{"primary": primary, "replica-1": replica} {
		if n := pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'slotwatch%'"); n != "1" {
			t.Errorf("serve holds %s backends on %s with two sessions, want 1", n, name)
		}
	}
}

// startFromConfig starts the collectors a config file names, as watch
// would, until the test ends; the context ends with the test too.
func startFromConfig(t *testing.T, config, home string) (context.Context, *settings, *collectors.Set, *collectors.Mailbox) {
	t.Helper()
	s, err := (&targetFlags{configPath: config}).resolve(envFrom(map[string]string{"HOME": home}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := collectorsConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	box := collectors.NewMailbox()
	set, err := collectors.Start(ctx, cfg, box)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, s, set, box
}
