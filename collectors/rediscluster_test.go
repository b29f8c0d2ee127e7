package collectors

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

func TestSplitClusterURL(t *testing.T) {
	for _, tc := range []struct {
		raw, single string
		addrs       []string
	}{
		{"redis+cluster://a:1,b:2,c:3", "redis://a:1", []string{"a:1", "b:2", "c:3"}},
		{"redis+cluster://u:p%40w@a:1,b/0?dial_timeout=1s", "redis://u:p%40w@a:1/0?dial_timeout=1s", []string{"a:1", "b:6379"}},
		{"rediss+cluster://a:1", "rediss://a:1", []string{"a:1"}},
		{"redis://a:1/0", "redis://a:1/0", nil},
	} {
		single, addrs, err := splitClusterURL(tc.raw)
		if err != nil || single != tc.single || !slices.Equal(addrs, tc.addrs) {
			t.Errorf("splitClusterURL(%q) = %q, %v, %v; want %q, %v", tc.raw, single, addrs, err, tc.single, tc.addrs)
		}
	}
	if _, _, err := splitClusterURL("redis+cluster://a:1,,b:2"); err == nil {
		t.Error("an empty node address must be rejected")
	}
	for _, bad := range []string{"redis+cluster://a:1/3", "redis+cluster://u:s3cret@a:1,b:2/3"} {
		err := (RedisConfig{URL: bad}).validate()
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "only database 0") {
			t.Errorf("validate(%q) = %v; want the database refused, no password", bad, err)
		}
	}
	for _, bad := range []string{"redis+cluster://u:s3cret@a:notaport,b:2", "redis+cluster://u:s3cret@a:1?dial_timeout=x"} {
		err := (RedisConfig{URL: bad}).validate()
		if err == nil || strings.Contains(err.Error(), "s3c") || !strings.Contains(err.Error(), "is not valid") {
			t.Errorf("validate(%q) = %v; want it refused, no password", RedactURL(bad), err)
		}
	}
	if err := (RedisConfig{URL: "redis://a:1/0", Cluster: true}).validate(); err != nil {
		t.Errorf("a plain URL with Cluster: %v", err)
	}
}

// clientsOn lists the names of the clients of st on node.
func clientsOn(st *RedisStats, node string) []string {
	var names []string
	for _, c := range st.Clients {
		if c.Node == node {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return names
}

func nodeOf(st *RedisStats, addr string) *RedisNodeStats {
	for i := range st.Nodes {
		if st.Nodes[i].Addr == addr {
			return &st.Nodes[i]
		}
	}
	return nil
}

// infoField reads one INFO field over a raw connection.
func infoField(t *testing.T, c *redisConn, field string) int64 {
	t.Helper()
	info, err := c.do("INFO")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatalf("INFO has no %s", field)
	return 0
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	rc := testserver.StartRedisCluster(t, 3)
	addrs := rc.Addrs()
	// Each node: one admin (for the test's own checks) and its own apps.
	admins := make([]*redisConn, 3)
	apps := map[string][]string{}
	for i, addr := range addrs {
		admins[i] = holdRedis(t, "tcp", addr, "admin"+strconv.Itoa(i)+"-%d", 1)[0]
		prefix := []string{"web", "worker", "cron"}[i]
		holdRedis(t, "tcp", addr, prefix+"-%d", i+1)
		apps[addr] = []string{"admin" + strconv.Itoa(i) + "-0"}
		for j := range i + 1 {
			apps[addr] = append(apps[addr], prefix+"-"+strconv.Itoa(j))
		}
		slices.Sort(apps[addr])
	}
	set, mb, cancel := startSet(t, Config{Redis: &RedisConfig{URL: rc.URL(), Interval: 50 * time.Millisecond}})
	defer cancel()
	s := waitMailbox(t, mb, func(s Snapshot) bool {
		if s.Redis == nil || len(s.Errors) != 0 || len(s.Redis.Nodes) != 3 {
			return false
		}
		for _, addr := range addrs {
			if !slices.Equal(clientsOn(s.Redis, addr), apps[addr]) {
				return false
			}
		}
		return true
	})
	st := s.Redis
	t.Run("every node, its clients, our own left out", func(t *testing.T) {
		if !st.Cluster || len(st.Clients) != 9 || st.OwnConnections != 3 {
			t.Fatalf("cluster %v, %d clients, own %d; want 9 clients of 3 nodes, one own connection each", st.Cluster, len(st.Clients), st.OwnConnections)
		}
		var connected, maxClients int64
		for i, addr := range addrs {
			node := nodeOf(st, addr)
			if node == nil || node.Error != "" || node.Role != "master" || node.OwnConnections != 1 {
				t.Fatalf("node %s: %+v; want a master answering, one own connection", addr, node)
			}
			// Stable: nobody connects or leaves meanwhile.
			if got := infoField(t, admins[i], "connected_clients"); node.ConnectedClients != got || got != int64(len(apps[addr])+1) {
				t.Errorf("node %s: connected_clients %d, INFO says %d, want %d (its clients and ours)", addr, node.ConnectedClients, got, len(apps[addr])+1)
			}
			if ids := redisClientsNamed(t, admins[i], "slotwatch"); len(ids) != 1 {
				t.Errorf("node %s: slotwatch holds %d connections, want 1", addr, len(ids))
			}
			connected += node.ConnectedClients
			maxClients += node.MaxClients
		}
		if st.ConnectedClients != connected || st.MaxClients != maxClients || st.ConnectedClients != 12 {
			t.Errorf("totals connected %d, maxclients %d; want the nodes' sums %d and %d", st.ConnectedClients, st.MaxClients, connected, maxClients)
		}
		worker := nodeOf(st, addrs[1]).Groups
		if i := slices.IndexFunc(worker, func(g RedisGroup) bool { return g.Name == "worker-#" }); i < 0 || worker[i].Count != 2 {
			t.Errorf("node %s groups %+v; want worker-# of 2", addrs[1], worker)
		}
		if i := slices.IndexFunc(st.Groups, func(g RedisGroup) bool { return g.Name == "cron-#" }); i < 0 || st.Groups[i].Count != 3 {
			t.Errorf("cluster groups %+v; want cron-# of 3", st.Groups)
		}
		for _, c := range st.Clients {
			if c.Name == "slotwatch" {
				t.Errorf("slotwatch's own connection is listed: %+v", c)
			}
		}
	})
	ctx := context.Background()
	r := set.Redis()
	t.Run("runner names nodes", func(t *testing.T) {
		want := slices.Sorted(slices.Values(addrs))
		if !r.Cluster() || !slices.Equal(r.Nodes(), want) {
			t.Fatalf("Cluster() %v, Nodes() %v; want %v", r.Cluster(), r.Nodes(), want)
		}
		if err := r.WithConn(ctx, func(context.Context, *redis.Conn) error { return nil }); err == nil || !strings.Contains(err.Error(), "name the node") {
			t.Errorf("WithConn on a cluster = %v; want to be told to name a node", err)
		}
		if err := r.WithNodeConn(ctx, "127.0.0.1:1", func(context.Context, *redis.Conn) error { return nil }); err == nil || !strings.Contains(err.Error(), "has no node") {
			t.Errorf("WithNodeConn on an unknown node = %v", err)
		}
		for i, addr := range addrs {
			var id int64
			err := r.WithNodeConn(ctx, addr, func(ctx context.Context, conn *redis.Conn) error {
				var err error
				id, err = conn.ClientID(ctx).Result()
				return err
			})
			if ids := redisClientsNamed(t, admins[i], "slotwatch"); err != nil || len(ids) != 1 || ids[0] != strconv.FormatInt(id, 10) {
				t.Errorf("WithNodeConn(%s) ran on client %d (%v); slotwatch's clients there are %v", addr, id, err, ids)
			}
		}
	})
	t.Run("CLIENT KILL ID on the node holding the client", func(t *testing.T) {
		i := slices.IndexFunc(st.Clients, func(c RedisClient) bool { return c.Name == "worker-1" })
		victim := st.Clients[i]
		var killed int64
		err := r.WithNodeConn(ctx, victim.Node, func(ctx context.Context, conn *redis.Conn) error {
			var err error
			killed, err = conn.ClientKillByFilter(ctx, "ID", strconv.FormatInt(victim.ID, 10)).Result()
			return err
		})
		if err != nil || killed != 1 || victim.Node != addrs[1] {
			t.Fatalf("kill %+v: %d killed, %v", victim, killed, err)
		}
		s := waitMailbox(t, mb, func(s Snapshot) bool {
			return s.Redis != nil && len(s.Errors) == 0 && !slices.Contains(clientsOn(s.Redis, addrs[1]), "worker-1")
		})
		if got := clientsOn(s.Redis, addrs[1]); !slices.Equal(got, []string{"admin1-0", "worker-0"}) {
			t.Errorf("after the kill node %s has %v", addrs[1], got)
		}
	})
	t.Run("own connection killed: a new one, still one", func(t *testing.T) {
		ids := redisClientsNamed(t, admins[2], "slotwatch")
		if reply, err := admins[2].do("CLIENT KILL ID " + ids[0]); err != nil || reply != ":1" {
			t.Fatalf("CLIENT KILL: %q, %v", reply, err)
		}
		err := r.WithNodeConn(ctx, addrs[2], func(ctx context.Context, conn *redis.Conn) error { return conn.Ping(ctx).Err() })
		if err != nil {
			t.Fatalf("WithNodeConn after its connection was killed: %v", err)
		}
		if ids := redisClientsNamed(t, admins[2], "slotwatch"); len(ids) != 1 {
			t.Errorf("slotwatch connections on %s after the kill: %v, want one", addrs[2], ids)
		}
	})
	t.Run("a node that stops", func(t *testing.T) {
		rc.Nodes[2].Stop(t)
		s := waitMailbox(t, mb, func(s Snapshot) bool {
			node := nodeOf(s.Redis, addrs[2])
			return s.Redis != nil && node != nil && node.Error != ""
		})
		if msg := s.Errors[SourceRedis]; !strings.Contains(msg, addrs[2]) || !strings.Contains(msg, "the other nodes are current") {
			t.Errorf("error = %q; want the node named and the others current", msg)
		}
		for _, addr := range addrs[:2] {
			if node := nodeOf(s.Redis, addr); node == nil || node.Error != "" {
				t.Errorf("node %s while another is down: %+v", addr, node)
			}
		}
		if got := clientsOn(s.Redis, addrs[2]); len(got) != 0 {
			t.Errorf("the stopped node's clients are still listed: %v", got)
		}
		if s.Redis.ConnectedClients != nodeOf(s.Redis, addrs[0]).ConnectedClients+nodeOf(s.Redis, addrs[1]).ConnectedClients {
			t.Errorf("totals %d count the stopped node", s.Redis.ConnectedClients)
		}
		err := r.WithNodeConn(ctx, addrs[2], func(context.Context, *redis.Conn) error { return nil })
		if err == nil {
			t.Error("WithNodeConn on a stopped node must fail")
		}
	})
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for len(redisClientsNamed(t, admins[0], "slotwatch")) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ids := redisClientsNamed(t, admins[0], "slotwatch"); len(ids) != 0 {
		t.Errorf("slotwatch connections after stop: %v", ids)
	}
	if err := r.WithNodeConn(ctx, addrs[0], func(context.Context, *redis.Conn) error { return nil }); !errors.Is(err, errStopped) {
		t.Errorf("WithNodeConn after the collectors stopped = %v, want errStopped", err)
	}
}

// TestRedisClusterCollectOnce is `snapshot --json` against a cluster.
func TestRedisClusterCollectOnce(t *testing.T) {
	t.Parallel()
	rc := testserver.StartRedisCluster(t, 3)
	holdRedis(t, "tcp", rc.Addrs()[0], "web-%d", 2)
	s := CollectOnce(context.Background(), Config{Redis: &RedisConfig{URL: "redis://" + rc.Addrs()[1], Cluster: true}})
	if s.Redis == nil || len(s.Errors) != 0 || !s.Redis.Cluster || len(s.Redis.Nodes) != 3 || s.Redis.OwnConnections != 3 {
		t.Fatalf("CollectOnce of a cluster named by one node: %+v, errors %v", s.Redis, s.Errors)
	}
	if got := clientsOn(s.Redis, rc.Addrs()[0]); !slices.Equal(got, []string{"web-0", "web-1"}) {
		t.Errorf("clients on %s: %v", rc.Addrs()[0], got)
	}
}

// TestRedisClusterReplicas: replicas are nodes too, each with slotwatch's
// one connection.
func TestRedisClusterReplicas(t *testing.T) {
	t.Parallel()
	rc := testserver.StartRedisClusterWithReplicas(t, 3, 1)
	set, mb, cancel := startSet(t, Config{Redis: &RedisConfig{URL: rc.URL(), Interval: 50 * time.Millisecond}})
	defer cancel()
	s := waitMailbox(t, mb, func(s Snapshot) bool { return s.Redis != nil && len(s.Errors) == 0 && len(s.Redis.Nodes) == 6 })
	roles := map[string]int{}
	for _, node := range s.Redis.Nodes {
		roles[node.Role]++
		if node.OwnConnections != 1 || node.Error != "" {
			t.Errorf("node %+v; want one own connection", node)
		}
	}
	if roles["master"] != 3 || roles["replica"] != 3 || s.Redis.OwnConnections != 6 {
		t.Errorf("roles %v, own %d; want 3 masters, 3 replicas, 6 own connections", roles, s.Redis.OwnConnections)
	}
	if got, want := set.Redis().Nodes(), slices.Sorted(slices.Values(rc.Addrs())); !slices.Equal(got, want) {
		t.Errorf("Nodes() = %v, want %v", got, want)
	}
	for _, addr := range rc.Addrs() {
		admin := holdRedis(t, "tcp", addr, "admin-%d", 1)[0]
		if ids := redisClientsNamed(t, admin, "slotwatch"); len(ids) != 1 {
			t.Errorf("node %s: slotwatch holds %v, want one connection", addr, ids)
		}
	}
}

// TestRedisClusterDown: a cluster that cannot be reached, or a server that
// is no cluster, is one sentence with no password; a single Redis's runner
// answers the node API as its one node.
func TestRedisClusterDown(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t, testserver.RedisOptions{})
	down := testserver.StartRedis(t, testserver.RedisOptions{})
	down.Stop(t)
	for _, url := range []string{"redis+cluster://u:s3cret@" + down.Addr, "redis+cluster://" + r.Addr} {
		s := CollectOnce(context.Background(), Config{Redis: &RedisConfig{URL: url, Timeout: time.Second}})
		msg := s.Errors[SourceRedis]
		t.Log(msg)
		if s.Redis != nil || msg == "" || strings.Contains(msg, "s3cret") || strings.Count(msg, ";") > 1 || !strings.Contains(msg, "(cluster)") {
			t.Errorf("%s: redis %+v, error %q; want no stats and one sentence naming the cluster", RedactURL(url), s.Redis, msg)
		}
	}
	set, mb, cancel := startSet(t, Config{Redis: &RedisConfig{URL: r.URL, Interval: time.Hour}})
	defer cancel()
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Redis != nil })
	single := set.Redis()
	if single.Cluster() || !slices.Equal(single.Nodes(), []string{r.Addr}) {
		t.Errorf("single server: Cluster %v, Nodes %v", single.Cluster(), single.Nodes())
	}
	for _, addr := range []string{"", r.Addr} {
		if err := single.WithNodeConn(context.Background(), addr, func(ctx context.Context, conn *redis.Conn) error { return conn.Ping(ctx).Err() }); err != nil {
			t.Errorf("WithNodeConn(%q) on a single server: %v", addr, err)
		}
	}
	if err := single.WithNodeConn(context.Background(), "127.0.0.1:1", func(context.Context, *redis.Conn) error { return nil }); err == nil {
		t.Error("WithNodeConn on another address of a single server must fail")
	}
}

// TestClusterListDue: each node's CLIENT LIST follows the single server's
// adaptive interval by that node's own clients.
func TestClusterListDue(t *testing.T) {
	now := time.Now()
	c := &clusterCollector{cfg: RedisConfig{Interval: time.Second}, nodes: map[string]*clusterNodeState{
		"busy":  {listAt: now.Add(-2 * time.Second), last: &RedisNodeStats{ConnectedClients: 2500}},
		"quiet": {listAt: now.Add(-2 * time.Second), last: &RedisNodeStats{ConnectedClients: 10}},
		"late":  {listAt: now.Add(-3 * time.Second), last: &RedisNodeStats{ConnectedClients: 2500}},
	}}
	for addr, want := range map[string]bool{"busy": false, "quiet": true, "late": true, "new": true} {
		if got := c.listDue(addr, now); got != want {
			t.Errorf("listDue(%s) = %v, want %v", addr, got, want)
		}
	}
}
