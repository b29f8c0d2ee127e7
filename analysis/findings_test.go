package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

func findingsByKind(fs []Finding) map[string][]Finding {
	m := map[string][]Finding{}
	for _, f := range fs {
		kind, _, _ := strings.Cut(f.ID, "/")
		m[kind] = append(m[kind], f)
	}
	return m
}

func mustContain(t *testing.T, f Finding, parts ...string) {
	t.Helper()
	all := f.About + "\n" + strings.Join(f.Evidence, "\n") + "\n" + strings.Join(f.Fix, "\n")
	for _, p := range parts {
		if !strings.Contains(all, p) {
			t.Errorf("finding %s lacks %q:\n%s", f.ID, p, all)
		}
	}
}

func one(t *testing.T, m map[string][]Finding, kind string) Finding {
	t.Helper()
	if len(m[kind]) != 1 {
		t.Fatalf("want one %s finding, got %d: %+v", kind, len(m[kind]), m[kind])
	}
	f := m[kind][0]
	if f.About == "" || len(f.Evidence) == 0 || len(f.Fix) == 0 || f.Title == "" {
		t.Fatalf("finding %s lacks about, title, evidence or fix: %+v", kind, f)
	}
	return f
}

func TestFindingsOnTheIncident(t *testing.T) {
	_, fs := Once(incident(t0))
	m := findingsByKind(fs)

	f := one(t, m, FindingPersistentConnections)
	mustContain(t, f, "talentflow-web / user talentflow / db talentflow", "77 of 95", "CONN_MAX_AGE=60",
		"CONN_HEALTH_CHECKS=True", "Django 5.1 pooling", "idle_session_timeout", "3h0m ago")
	if f.Severity != "critical" { // 95 of 97 usable, but the probe is refused
		t.Errorf("severity %s", f.Severity)
	}

	f = one(t, m, FindingIdleInTxBlocker)
	mustContain(t, f, "pid 2001", "blocks 12 session(s)", "Lock/transactionid ×1", "Lock/tuple ×11",
		"idle_in_transaction_session_timeout", "terminate pid 2001")

	f = one(t, m, FindingConnectionsRefused)
	mustContain(t, f, "SQLSTATE 53300", "remaining connection slots are reserved", "reserved_connections",
		"pg_use_reserved_connections", "PostgreSQL 15.5", "pooler", "db:5432/talentflow", "other 2 usable slots")

	f = one(t, m, FindingRedisClientLeak)
	mustContain(t, f, "host 10.0.5.7 name analytics-cache-# (redis-py)", "150 of 162",
		"150 of its 150 clients were used only when they connected", "shared connection pool", "timeout")

	f = one(t, m, FindingCheckThenInsertRace)
	mustContain(t, f, "job 12345 (Senior Backend Engineer)", "58 rows against a limit of 50 (8 over)", "FOR UPDATE", "enforce the limit in the database")
}

func TestNoFindingsOnAHealthySystem(t *testing.T) {
	p := NewPipeline(DefaultRules())
	var f Frame
	for i := range 30 {
		f = p.Step(healthy(t0.Add(time.Duration(i) * time.Minute)))
	}
	if len(f.Findings) != 0 {
		t.Fatalf("findings on a healthy system: %+v", f.Findings)
	}
	for _, a := range f.Alerts {
		if a.State != Inactive {
			t.Errorf("%s is %s on a healthy system: %s", a.Name, a.State, a.Summary)
		}
	}
}

// Each finding needs its own evidence: remove it and the finding goes.
func TestFindingsNeedTheirEvidence(t *testing.T) {
	cases := map[string]func(s *collectors.Snapshot){
		FindingPersistentConnections: func(s *collectors.Snapshot) {
			for i := range s.Postgres.Sessions {
				s.Postgres.Sessions[i].BackendStart = t0.Add(-30 * time.Second) // young: they do age out
			}
		},
		FindingIdleInTxBlocker: func(s *collectors.Snapshot) {
			for i := range s.Postgres.Sessions {
				s.Postgres.Sessions[i].BlockedBy = nil
			}
		},
		FindingConnectionsRefused: func(s *collectors.Snapshot) {
			s.Probe = &collectors.ProbeResult{SampledAt: t0, OK: true}
		},
		FindingRedisClientLeak: func(s *collectors.Snapshot) {
			for i := range s.Redis.Clients {
				s.Redis.Clients[i].IdleSeconds = 0 // all in use: a busy pool
			}
		},
		FindingCheckThenInsertRace: func(s *collectors.Snapshot) { s.Jobs.OverCapacity = nil },
	}
	for kind, remove := range cases {
		s := incident(t0)
		remove(&s)
		_, fs := Once(s)
		m := findingsByKind(fs)
		if len(m[kind]) != 0 {
			t.Errorf("%s found without its evidence: %+v", kind, m[kind])
		}
		if len(m) != 4 {
			t.Errorf("removing the evidence of %s changed other findings: %d kinds left", kind, len(m))
		}
	}
}

// From history: a group that only grows while total_connections_received
// climbs is a leak even when its clients are busy (no used-once pattern).
func TestRedisLeakFromHistory(t *testing.T) {
	p := NewPipeline(DefaultRules())
	var f Frame
	for m := 0; m <= 10; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		s := collectors.Snapshot{TakenAt: at, Redis: redisLeak(at, 45+15*m)}
		for i := range s.Redis.Clients {
			s.Redis.Clients[i].IdleSeconds = 0
		}
		f = p.Step(s)
	}
	fd := one(t, findingsByKind(f.Findings), FindingRedisClientLeak)
	mustContain(t, fd, "only grew: 45 → 195 clients over 10m00s (+15.0 per minute)", "total_connections_received climbed by 150")
	if strings.Contains(strings.Join(fd.Evidence, " "), "used only when they connected") {
		t.Errorf("busy clients reported as used once: %v", fd.Evidence)
	}
}

func TestOverCapacityFirstSeen(t *testing.T) {
	p := NewPipeline(DefaultRules())
	p.Step(healthy(t0))
	p.Step(incident(t0.Add(time.Minute)))
	f := p.Step(incident(t0.Add(2 * time.Minute)))
	mustContain(t, one(t, findingsByKind(f.Findings), FindingCheckThenInsertRace), "first seen at 2024-01-21 15:43:00 UTC")
}

func TestPersistentSeverityFollowsTheLimit(t *testing.T) {
	s := incident(t0)
	s.Probe.OK, s.Probe.SQLState = true, ""
	_, fs := Once(s)
	if f := one(t, findingsByKind(fs), FindingPersistentConnections); f.Severity != "warning" {
		t.Errorf("severity %s below the limit with a working probe, want warning", f.Severity)
	}
	s.Postgres.Total = 97
	_, fs = Once(s)
	if f := one(t, findingsByKind(fs), FindingPersistentConnections); f.Severity != "critical" {
		t.Errorf("severity %s at the limit, want critical", f.Severity)
	}
}

// groupKey must agree with the collectors' grouping, or leak evidence would
// attach to no group.
func TestGroupKeyMatchesCollectors(t *testing.T) {
	cs := []collectors.RedisClient{
		{Addr: "10.0.5.7:5000", Name: "analytics-cache-17", LibName: "redis-py"},
		{Addr: "[::1]:6000", Name: "w1-c22x3", LibName: "go-redis(,go1.26)"},
		{Addr: "/tmp/redis.sock:0", Name: ""},
		{Addr: "10.0.0.1:1", Name: "123abc456"},
	}
	for i := range cs {
		g := collectors.GroupRedisClients(cs[i : i+1])[0]
		if got := string(groupKey(nil, &cs[i])); got != g.Key() {
			t.Errorf("groupKey(%+v) = %q, collectors say %q", cs[i], got, g.Key())
		}
	}
}
