package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
)

func (m *mitigationServers) clientNames(t *testing.T) []string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: m.redis.Addr, Protocol: 2, PoolSize: 1, ClientName: "probe"})
	defer c.Close()
	reply, err := c.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := collectors.ParseClientList(reply)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cl := range cs {
		if cl.Name != "probe" {
			names = append(names, cl.Name)
		}
	}
	slices.Sort(names)
	return names
}

func (m *mitigationServers) testRedisKill(t *testing.T) {
	mitHoldRedis(t, m.redis.Addr, "leak-%d", 3)
	mitHoldRedis(t, m.redis.Addr, "queue-%d", 1)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	base := []string{"redis-kill", "--redis", m.redis.URL, "--audit-log", audit, "--name", "leak-*"}

	if code, _, errOut := mitRun(t, "redis-kill", "--redis", m.redis.URL, "--audit-log", audit); code != exitUsage || !strings.Contains(errOut, "never means every client") {
		t.Fatalf("filterless: exit %d %s", code, errOut)
	}
	code, out, errOut := mitRun(t, base...)
	if code != exitOK || !strings.Contains(out, "Preview only") || !strings.Contains(out, "leak-2") {
		t.Fatalf("preview: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := m.clientNames(t); len(got) != 4 {
		t.Fatalf("preview killed clients: %v", got)
	}
	if code, _, errOut := mitRun(t, append(base, "--yes", "--read-only")...); code != exitRefused || !strings.Contains(errOut, "read-only") {
		t.Fatalf("read-only: exit %d %s", code, errOut)
	}
	code, out, errOut = mitRun(t, append(base, "--yes", "--json")...)
	if code != exitOK {
		t.Fatalf("kill: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Executed bool           `json:"executed"`
		Counts   map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Executed || res.Counts["done"] != 3 {
		t.Fatalf("json %v: %s", err, out)
	}
	if got := m.clientNames(t); !slices.Equal(got, []string{"queue-0"}) {
		t.Fatalf("clients left %v, want only queue-0", got)
	}
	es := auditOf(t, audit)
	phases := []string{}
	for _, e := range es {
		phases = append(phases, e.Phase)
	}
	if !slices.Equal(phases, []string{actions.PhasePreviewed, actions.PhaseRefused, actions.PhaseIntent, actions.PhaseResult}) || len(es[3].Done) != 3 {
		t.Fatalf("audit phases %v: %+v", phases, es)
	}
}
