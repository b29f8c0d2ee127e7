package testserver

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

func TestStartRedisClusterAssignsEverySlot(t *testing.T) {
	rc := StartRedisCluster(t, 3)
	if len(rc.Addrs()) != 3 || rc.URL() != "redis+cluster://"+strings.Join(rc.Addrs(), ",") {
		t.Fatalf("addrs %v, URL %q", rc.Addrs(), rc.URL())
	}
	for _, addr := range rc.Addrs() {
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command("redis-cli", "-h", host, "-p", port, "CLUSTER", "INFO").CombinedOutput()
		if err != nil {
			t.Fatalf("CLUSTER INFO on %s: %v\n%s", addr, err, out)
		}
		info := string(out)
		for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want) {
				t.Errorf("node %s: CLUSTER INFO lacks %s:\n%s", addr, want, info)
			}
		}
	}
}
