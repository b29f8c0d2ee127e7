package report

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// fleetTimeline is the fixture incident on the primaries plus a replica
// that fills to 95 of its 97 usable slots from step 20 on and does not
// answer in steps 70-74, and a Redis Cluster whose fullest node holds 90 of
// its 100 maxclients at step 40.
func fleetTimeline() []collectors.Snapshot {
	var out []collectors.Snapshot
	for i := 0; i < 96; i++ {
		s := fixtureSnapshot(i)
		s.Servers = []collectors.ServerSnapshot{
			{Name: "primary", Kind: collectors.SourcePostgres, Primary: true, Postgres: s.Postgres},
			{Name: "cache", Kind: collectors.SourceRedis, Primary: true, Redis: s.Redis},
			fleetReplica(i, s.TakenAt),
			fleetCluster(i, s.TakenAt),
		}
		out = append(out, s)
	}
	return out
}

func fleetReplica(i int, at time.Time) collectors.ServerSnapshot {
	total := 30
	if i >= 20 {
		total = 95
	}
	sv := collectors.ServerSnapshot{Name: "replica-1", Kind: collectors.SourcePostgres, Postgres: &collectors.PGStats{
		Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, Target: "10.0.0.7:5432/talentflow",
		MaxConnections: 100, SuperuserReservedConnections: 3, Total: total, ByState: map[string]int{"idle": total}}}
	if i >= 70 && i < 75 {
		sv.Postgres.SampledAt = at.Add(-time.Duration(i-69) * 10 * time.Second)
		sv.Error = "PostgreSQL at 10.0.0.7:5432 does not answer (i/o timeout); check the server and the network"
	}
	return sv
}

func fleetCluster(i int, at time.Time) collectors.ServerSnapshot {
	fullest := int64(20)
	if i == 40 {
		fullest = 90
	}
	rs := &collectors.RedisStats{Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, Target: "10.0.8.1:7000",
		ConnectedClients: 40 + fullest, MaxClients: 300, Cluster: true, Nodes: []collectors.RedisNodeStats{
			{Addr: "10.0.8.1:7000", Role: "master", ConnectedClients: 20, MaxClients: 100},
			{Addr: "10.0.8.2:7001", Role: "master", ConnectedClients: fullest, MaxClients: 100},
			{Addr: "10.0.8.3:7002", Role: "master", ConnectedClients: 20, MaxClients: 100},
		}}
	return collectors.ServerSnapshot{Name: "sessions", Kind: collectors.SourceRedis, Redis: rs}
}

func TestReportNamesServersAndSummarisesEach(t *testing.T) {
	md := render(t, fleetTimeline(), fixtureAudit())
	wantAll(t, md,
		"## Servers",
		"| Server | Kind | Peak used | At | At the end | Down | Alerts fired |",
		"| primary (primary) | postgres | 36 of 37 usable (97%) | 15:35:00 | 7 of 37 usable (19%) | – | PostgresLockWaits, JobsOverCapacity, PostgresConnectionLimitReached, PostgresRefusingConnections |\n"+
			"| cache (primary) | redis | 187 of 200 maxclients (94%) | 15:41:50 | 12 of 200 maxclients (6%) | – | RedisClientsNearLimit |\n"+
			"| replica-1 | postgres |",
		"| replica-1 | postgres | 95 of 97 usable (98%) | 15:35:20 | 95 of 97 usable (98%) | 5 of 96 snapshots: PostgreSQL at 10.0.0.7:5432 does not answer (i/o timeout); check the server and the network | PostgresConnectionLimitReached |",
		"| sessions | redis | 90 of 100 maxclients (90%) on node 10.0.8.2:7001 | 15:38:40 | 20 of 100 maxclients (20%) | – | – |",
		"PostgresConnectionLimitReached on replica-1: pending → firing",
		"PostgresConnectionLimitReached on primary: pending → firing",
		"RedisClientsNearLimit on sessions: inactive → pending",
		"4 servers were watched (see Servers); the fullest was replica-1 at 95 of 97 usable (98%) at 15:35:20",
		"; 1 was down or unanswered at some point.",
		"### 1. Persistent connections that never age out: talentflow-web / user talentflow / db talentflow on primary",
		"Redis client leak: host 10.0.2.7 name analytics-cache-# (redis-py) on cache",
	)
	// The replica's alert holds its state while the replica does not
	// answer: no resolved row between 15:43:40 and 15:44:20.
	if strings.Contains(md, "PostgresConnectionLimitReached on replica-1: firing → resolved") {
		t.Errorf("the replica's alert resolved while it did not answer:\n%s", md)
	}
}

func TestSingleTargetReportHasNoServerSection(t *testing.T) {
	md := render(t, fixtureTimeline(), fixtureAudit())
	for _, part := range []string{"## Servers", " on primary", "servers were watched"} {
		if strings.Contains(md, part) {
			t.Errorf("a single-target report holds %q", part)
		}
	}
}
