package testserver

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster is a running throwaway Redis Cluster, every slot assigned.
type RedisCluster struct {
	// Nodes are in start order; redis-cli makes the first ones masters
	// and the rest their replicas.
	Nodes []*Redis
}

// StartRedisCluster starts n (at least 3, as redis-cli --cluster create
// requires) redis-server nodes with cluster mode on, each on a free port
// in its own directory, joins them as masters with redis-cli --cluster
// create and waits until every node reports cluster_state:ok and knows
// every other node. All stop at cleanup.
func StartRedisCluster(t testing.TB, n int) *RedisCluster {
	t.Helper()
	return StartRedisClusterWithReplicas(t, n, 0)
}

// StartRedisClusterWithReplicas is StartRedisCluster with replicas
// replicas per master: masters*(1+replicas) nodes.
func StartRedisClusterWithReplicas(t testing.TB, masters, replicas int) *RedisCluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	n := masters * (1 + replicas)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		Missing(t, "redis-cli", "redis-tools")
	}
	rc := &RedisCluster{}
	for range n {
		dir := t.TempDir()
		rc.Nodes = append(rc.Nodes, StartRedis(t, RedisOptions{Args: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000",
		}}))
	}
	args := append([]string{"--cluster", "create"}, rc.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range rc.Addrs() {
		waitClusterOK(t, cli, addr, masters, replicas, rc.Addrs())
	}
	return rc
}

// Addrs lists the nodes' host:port, in start order.
func (rc *RedisCluster) Addrs() []string {
	addrs := make([]string, len(rc.Nodes))
	for i, n := range rc.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// URL is the redis+cluster:// URL naming every node.
func (rc *RedisCluster) URL() string {
	return "redis+cluster://" + strings.Join(rc.Addrs(), ",")
}

// waitClusterOK polls the node at addr until CLUSTER INFO says
// cluster_state:ok (the slots are assigned), CLUSTER NODES shows every
// master and replica in its role, and CLUSTER SLOTS, which clients read the
// layout from, lists every node of all (it leaves out a replica until it
// has replicated something).
func waitClusterOK(t testing.TB, cli, addr string, masters, replicas int, all []string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last string
	for ctx.Err() == nil {
		info, err := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "CLUSTER", "INFO").CombinedOutput()
		nodes, errNodes := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "CLUSTER", "NODES").CombinedOutput()
		slots, errSlots := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "CLUSTER", "SLOTS").CombinedOutput()
		last = string(info) + string(nodes) + string(slots)
		if err == nil && errNodes == nil && errSlots == nil && strings.Contains(string(info), "cluster_state:ok") &&
			knownNodes(string(info)) == masters*(1+replicas) && roles(string(nodes)) == [2]int{masters, masters * replicas} &&
			listsPorts(string(slots), all) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the Redis Cluster node %s did not reach cluster_state:ok with %d masters and %d replicas within 30s:\n%s", addr, masters, masters*replicas, last)
}

// listsPorts reports whether redis-cli's CLUSTER SLOTS output has a line
// with the port of every address.
func listsPorts(slots string, addrs []string) bool {
	lines := map[string]bool{}
	for line := range strings.Lines(slots) {
		lines[strings.TrimSpace(line)] = true
	}
	for _, a := range addrs {
		if _, port, _ := net.SplitHostPort(a); !lines[port] {
			return false
		}
	}
	return true
}

// roles counts the masters and the replicas of a CLUSTER NODES reply.
func roles(nodes string) [2]int {
	var n [2]int
	for line := range strings.Lines(nodes) {
		fields := strings.Fields(line)
		if len(fields) < 3 {
			continue
		}
		for flag := range strings.SplitSeq(fields[2], ",") {
			switch flag {
			case "master":
				n[0]++
			case "slave":
				n[1]++
			}
		}
	}
	return n
}

// knownNodes is CLUSTER INFO's cluster_known_nodes (-1 when absent).
func knownNodes(info string) int {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_known_nodes:"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}
