package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

func pooledSnapshot(at time.Time, waiting int, maxWait float64, svIdle int) collectors.Snapshot {
	sample := collectors.Sample{SampledAt: at, LastGoodAt: at}
	return collectors.Snapshot{
		TakenAt: at,
		Errors:  map[string]string{},
		PgBouncer: &collectors.PgBouncerStats{
			Sample:   sample,
			Settings: collectors.PgBouncerSettings{PoolMode: "transaction", DefaultPoolSize: 5},
			Pools: []collectors.PgBouncerPool{{Database: "talentflow", User: "talentflow", ClActive: 5,
				ClWaiting: waiting, SvActive: 5 - svIdle, SvIdle: svIdle, MaxWaitSeconds: maxWait, PoolMode: "transaction"}},
			Stats:   []collectors.PgBouncerDB{{Database: "talentflow", AvgWaitSeconds: 8.2}},
			Servers: []collectors.PgBouncerServer{{Database: "talentflow", User: "talentflow", State: "active", RemotePID: 41}},
		},
		Postgres: &collectors.PGStats{Sample: sample, MaxConnections: 100, SuperuserReservedConnections: 3, Total: 92,
			Sessions: []collectors.Session{{PID: 41, State: "idle in transaction"}, {PID: 42, State: "idle in transaction"}}},
	}
}

func TestPgbouncerClientsWaitingFiresAfterFor(t *testing.T) {
	p := NewPipeline(DefaultRules())
	t0 := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	state := func(f Frame) AlertState {
		for _, a := range f.Alerts {
			if a.Name == RulePgbouncerWaiting {
				return a.State
			}
		}
		t.Fatalf("no %s alert in the frame", RulePgbouncerWaiting)
		return ""
	}
	if s := state(p.Step(pooledSnapshot(t0, 47, 0.5, 0))); s != Inactive {
		t.Fatalf("a wait under the 1 s threshold made the alert %s", s)
	}
	if s := state(p.Step(pooledSnapshot(t0.Add(time.Second), 47, 8.2, 0))); s != Pending {
		t.Fatalf("47 clients waiting 8.2 s: alert %s, want pending until `for` passes", s)
	}
	f := p.Step(pooledSnapshot(t0.Add(31*time.Second), 47, 9, 0))
	if s := state(f); s != Firing {
		t.Fatalf("after 30 s of waits the alert is %s, want firing", s)
	}
	if s := state(p.Step(pooledSnapshot(t0.Add(40*time.Second), 0, 0, 2))); s != Resolved {
		t.Fatalf("no client waiting: alert %s, want resolved", s)
	}
}

func TestPoolSaturatedNeedsEveryServerBusy(t *testing.T) {
	at := time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)
	_, found := Once(pooledSnapshot(at, 47, 8.2, 0))
	var f *Finding
	for i := range found {
		if found[i].ID == FindingPoolSaturated {
			f = &found[i]
		}
	}
	if f == nil {
		t.Fatalf("47 clients waiting with every server busy gave no %s finding: %+v", FindingPoolSaturated, found)
	}
	ev := strings.Join(f.Evidence, "\n")
	for _, want := range []string{"47 clients wait", "8.2 s", "all 5 server connections are active", "idle in transaction (pids 41)"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	if !strings.Contains(strings.Join(f.Fix, " "), "97 usable slots") {
		t.Errorf("fix does not weigh pool size against PostgreSQL's usable slots: %v", f.Fix)
	}
	if len(f.Mitigations) != 1 || len(f.Mitigations[0].PIDs) != 1 || f.Mitigations[0].PIDs[0] != 41 {
		t.Errorf("mitigation should terminate the pool's idle-in-transaction backend 41 only (42 is not via the pool): %+v", f.Mitigations)
	}

	_, found = Once(pooledSnapshot(at, 47, 8.2, 1))
	for _, f := range found {
		if f.ID == FindingPoolSaturated {
			t.Fatalf("a pool with an idle server connection is not saturated, yet: %+v", f)
		}
	}
	down := pooledSnapshot(at, 47, 8.2, 0)
	down.Errors[collectors.SourcePgBouncer] = "cannot connect"
	_, found = Once(down)
	for _, f := range found {
		if f.ID == FindingPoolSaturated {
			t.Fatalf("a finding from a failing pgbouncer source: %+v", f)
		}
	}
}
