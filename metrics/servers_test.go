package metrics

import (
	"strings"
	"testing"

	"github.com/slotwatch/slotwatch/analysis"
	"github.com/slotwatch/slotwatch/collectors"
)

// fleetSnapshot is the incident on the primaries plus a replica at 95 of
// 100 connections, a replica that never answered and a Redis Cluster.
func fleetSnapshot(t *testing.T) collectors.Snapshot {
	s := incidentSnapshot(t)
	at := s.TakenAt
	sample := collectors.Sample{SampledAt: at, LastGoodAt: at}
	replica := &collectors.PGStats{Sample: sample, Target: "10.0.0.7:5432/talentflow", MaxConnections: 100, SuperuserReservedConnections: 3,
		Total: 95, ByState: map[string]int{"idle": 95},
		Groups: []collectors.SessionGroup{{ApplicationName: "reports", Usename: "ro", Datname: "talentflow", Total: 95, ByState: map[string]int{"idle": 95}}}}
	cluster := &collectors.RedisStats{Sample: sample, Target: "10.0.8.1:7000", ConnectedClients: 130, MaxClients: 300, Cluster: true,
		Nodes: []collectors.RedisNodeStats{
			{Addr: "10.0.8.1:7000", Role: "master", ConnectedClients: 40, MaxClients: 100},
			{Addr: "10.0.8.2:7001", Role: "master", ConnectedClients: 90, MaxClients: 100},
			{Addr: "10.0.8.3:7002", Role: "master", Error: "i/o timeout", ConnectedClients: 99, MaxClients: 100},
		}}
	s.Servers = []collectors.ServerSnapshot{
		{Name: "primary", Kind: collectors.SourcePostgres, Primary: true, Postgres: s.Postgres},
		{Name: "cache", Kind: collectors.SourceRedis, Primary: true, Redis: s.Redis},
		{Name: "replica-1", Kind: collectors.SourcePostgres, Postgres: replica},
		{Name: "replica-2", Kind: collectors.SourcePostgres, Error: "PostgreSQL at 10.0.0.8:5432 refused the connection; check that it is running"},
		{Name: "sessions", Kind: collectors.SourceRedis, Redis: cluster},
	}
	return s
}

func TestServersAreLabelled(t *testing.T) {
	f := analysis.NewPipeline(analysis.DefaultRules()).Step(fleetSnapshot(t))
	out := scrape(t, exporterWith(f, DefaultTopN))
	for _, want := range []string{
		`pg_up{server="primary"} 1`, `pg_up{server="replica-1"} 1`, `pg_up{server="replica-2"} 0`,
		`redis_up{server="cache"} 1`, `redis_up{server="sessions"} 1`,
		`slotwatch_pg_slots_used{server="replica-1"} 95`,
		`slotwatch_pg_slots_usable{server="primary"} 97`,
		`pg_stat_activity_count{application_name="talentflow-web",datname="talentflow",server="primary",state="idle",usename="talentflow_app"} 77`,
		`pg_stat_activity_count{application_name="reports",datname="talentflow",server="replica-1",state="idle",usename="ro"} 95`,
		`redis_connected_clients{server="sessions"} 130`,
		`slotwatch_redis_node_connected_clients{node="10.0.8.2:7001",server="sessions"} 90`,
		`slotwatch_redis_node_max_clients{node="10.0.8.2:7001",server="sessions"} 100`,
		`slotwatch_redis_node_up{node="10.0.8.3:7002",server="sessions"} 0`,
		`slotwatch_source_up{server="replica-2",source="postgres"} 0`,
		`slotwatch_source_up{server="primary",source="probe"} 1`,
		`slotwatch_alert_state{alertname="PostgresConnectionLimitReached",server="replica-1",state="pending"} 1`,
		`slotwatch_alert_state{alertname="PostgresRefusingConnections",server="primary",state="firing"} 1`,
		`slotwatch_alert_state{alertname="RedisClientsNearLimit",server="sessions",state="pending"} 1`,
		// not per server: unchanged
		`slotwatch_probe_outcome{sqlstate="53300"} 1`,
		`slotwatch_findings{kind="persistent-connections"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("the scrape lacks %q", want)
		}
	}
	for _, unwanted := range []string{
		"\npg_up ", "\nredis_connected_clients ", `slotwatch_alert_state{alertname="PostgresConnectionLimitReached",state=`, // unlabelled series beside labelled ones
		`slotwatch_pg_slots_used{server="replica-2"}`, // no numbers from a failed server
		`slotwatch_redis_node_connected_clients{node="10.0.8.3:7002"`,
	} {
		if strings.Contains(out, unwanted) {
			t.Errorf("the scrape holds %q", unwanted)
		}
	}
	promtoolCheck(t, out)
}

func TestSingleTargetSeriesHaveNoServerLabel(t *testing.T) {
	f := analysis.NewPipeline(analysis.DefaultRules()).Step(incidentSnapshot(t))
	out := scrape(t, exporterWith(f, DefaultTopN))
	if strings.Contains(out, `server="`) {
		t.Errorf("a single target's series carry a server label:\n%s", out)
	}
	for _, want := range []string{"pg_up 1\n", "redis_up 1\n", `slotwatch_source_up{source="postgres"} 1` + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
}
