package analysis

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Fixtures shaped like the real Django 4.2 app slotwatch was tried against (gunicorn, 4
// workers × 10 threads, max_connections 40, 3 reserved: 37 usable).

// djangoApp: 37 idle talentflow-web sessions. Unfixed (CONN_MAX_AGE=None):
// 13 were used again after they were minutes old. Fixed (CONN_MAX_AGE=60 +
// health checks): connections are minutes old too, but each was last used
// before it was 60 s old: its thread got no request since.
func djangoApp(at time.Time, fixed bool) collectors.Snapshot {
	var ss []collectors.Session
	for i := range 37 {
		backend, idle := 6*time.Minute+time.Duration(i)*time.Second, 5*time.Minute+30*time.Second // reused at 30 s
		if fixed {
			idle = backend - 50*time.Second
		} else if i < 13 {
			idle = 3 * time.Minute // reused at 3m+ of age
		}
		s := session(int32(4000+i), "idle", at, backend, idle)
		ss = append(ss, s)
	}
	s := pgSnap(at, len(ss))
	s.Postgres.MaxConnections = 40
	s.Postgres.Sessions = ss
	s.Postgres.ServerVersion, s.Postgres.ServerVersionNum = "15.5", 150005
	s.Postgres.ByState = map[string]int{"idle": len(ss)}
	s.Probe = &collectors.ProbeResult{SampledAt: at, OK: true, ConnectMS: 7}
	return s
}

func TestPersistentConnectionsSeparateUnfixedFromFixed(t *testing.T) {
	_, fs := Once(djangoApp(t0, false))
	f := one(t, findingsByKind(fs), FindingPersistentConnections)
	mustContain(t, f, "13 of the group's 37 connections were used again after they were over 1m10s old",
		"CONN_HEALTH_CHECKS=False", "12 of 80 requests", "applies only to sessions started after it is set",
		"guard first, then terminate", "holds 37 of the 37 usable slots", "number 37 or more", "pooler")
	if f.Severity != SeverityCritical { // 37 of 37 usable
		t.Errorf("unfixed app: severity %s, want critical", f.Severity)
	}

	_, fs = Once(djangoApp(t0, true))
	f = one(t, findingsByKind(fs), FindingPersistentConnections)
	if f.Severity != SeverityInfo || strings.Contains(f.Title, "never age out") {
		t.Errorf("fixed app: %s %q, want info without 'never age out'", f.Severity, f.Title)
	}
	mustContain(t, f, "0 of the group's 37 connections was used again", "threads that got no request since")
	if len(f.Mitigations) != 0 {
		t.Errorf("fixed app: mitigations %+v suggested for connections that do age out", f.Mitigations)
	}
}

// Over a stream, the fix turns the finding down and says so; terminating
// the sessions clears it with the reason, and it leaves after the retention.
func TestPersistentFindingDowngradesAndClears(t *testing.T) {
	p := NewPipeline(DefaultRules())
	f := p.Step(djangoApp(t0, false))
	first := one(t, findingsByKind(f.Findings), FindingPersistentConnections)
	if !first.Since.Equal(t0) {
		t.Fatalf("since %s, want the first snapshot %s", first.Since, t0)
	}
	f = p.Step(djangoApp(t0.Add(time.Minute), true))
	got := one(t, findingsByKind(f.Findings), FindingPersistentConnections)
	if got.Severity != SeverityInfo || !got.Since.Equal(t0) || !strings.HasPrefix(got.Evidence[0], "downgraded from critical at 15:43:00") {
		t.Fatalf("after the fix: %s since %s, evidence %q", got.Severity, got.Since, got.Evidence)
	}
	empty := djangoApp(t0.Add(2*time.Minute), true)
	empty.Postgres.Sessions = empty.Postgres.Sessions[:2]
	f = p.Step(empty)
	gone := findingsByKind(f.Findings)[FindingPersistentConnections]
	if len(gone) != 1 {
		t.Fatalf("after terminating: %+v, want the cleared finding", gone)
	}
	got = gone[0]
	if got.Cleared.IsZero() || got.Severity != SeverityInfo || len(got.Fix) != 0 {
		t.Fatalf("after terminating: %+v, want a cleared finding without a fix", got)
	}
	mustContain(t, got, "cleared at 15:44:00", "now holds 2 idle sessions", "a finding needs 5", "it was critical from 15:42:00")
	later := djangoApp(t0.Add(2*time.Minute+ClearedRetention+time.Second), true)
	later.Postgres.Sessions = later.Postgres.Sessions[:2]
	f = p.Step(later)
	if n := len(findingsByKind(f.Findings)[FindingPersistentConnections]); n != 0 {
		t.Errorf("a cleared finding is still shown after %s", ClearedRetention)
	}
}

// A healthy shared pool after a 9-second burst: clients opened during the
// burst and each used until it ended (9 s of use at age 100 s).
func healthyPoolAfterBurst(at time.Time) *collectors.RedisStats {
	var cs []collectors.RedisClient
	for j := range 30 {
		age := int64(100 - j*9/30) // opened over the 9 s burst
		cs = append(cs, collectors.RedisClient{ID: int64(j + 1), Addr: fmt.Sprintf("10.0.3.11:%d", 41000+j),
			LibName: "redis-py", AgeSeconds: age, IdleSeconds: 91, Cmd: "get"})
	}
	return redisStats(at, cs, 30)
}

// Leaked redis.from_url clients: one per request over ten minutes, each
// ran one command in the second it connected (age − idle 0 or 1 s); every
// gap seconds, or 6 per second when gap is 0.
func leakedFromURL(at time.Time, gap int64) *collectors.RedisStats {
	var cs []collectors.RedisClient
	for j := range 40 {
		age := 600 - gap*int64(j)
		if gap == 0 {
			age = 600 - int64(j)/6
		}
		cs = append(cs, collectors.RedisClient{ID: int64(j + 1), Addr: fmt.Sprintf("10.0.4.76:%d", 42000+j),
			LibName: "redis-py", AgeSeconds: age, IdleSeconds: age - int64(j%2), Cmd: "get"})
	}
	return redisStats(at, cs, 40)
}

func TestRedisLeakShapes(t *testing.T) {
	_, fs := Once(collectors.Snapshot{TakenAt: t0, Redis: healthyPoolAfterBurst(t0)})
	if m := findingsByKind(fs); len(m[FindingRedisClientLeak]) != 0 {
		t.Errorf("healthy pool after a burst reported as a leak: %v", m[FindingRedisClientLeak][0].Evidence)
	}
	_, fs = Once(collectors.Snapshot{TakenAt: t0, Redis: leakedFromURL(t0, 15)})
	f := one(t, findingsByKind(fs), FindingRedisClientLeak)
	mustContain(t, f, "40 of its 40 clients were used only when they connected (age − idle ≤ 1s)", "over the last 9m45s")
	// A fast leak (the drill's: one client per 150 ms) is as much a leak as
	// a pool filled by a burst is not: the difference is the use, not the
	// spread of opening times.
	_, fs = Once(collectors.Snapshot{TakenAt: t0, Redis: leakedFromURL(t0, 0)})
	one(t, findingsByKind(fs), FindingRedisClientLeak)
}

// Contract C3: a source that failed gives no finding, never "0 of 0".
func TestNoFindingFromAFailedSource(t *testing.T) {
	down := incident(t0)
	down.Postgres, down.Redis, down.Jobs = nil, nil, nil
	down.Errors = map[string]string{collectors.SourcePostgres: "connect: connection refused",
		collectors.SourceRedis: "dial tcp: connection refused", collectors.SourceJobs: "connect: connection refused"}
	_, fs := Once(down)
	for _, f := range fs {
		if f.ID != FindingConnectionsRefused+"/postgres" {
			t.Errorf("finding %s from a source that never answered: %v", f.ID, f.Evidence)
		}
		if strings.Contains(strings.Join(f.Evidence, " "), "0 of 0") {
			t.Errorf("zeroed numbers in %s: %v", f.ID, f.Evidence)
		}
	}
	stale := incident(t0)
	stale.Errors = map[string]string{collectors.SourcePostgres: "timeout", collectors.SourceRedis: "timeout",
		collectors.SourceJobs: "timeout", collectors.SourceProbe: "timeout"}
	if _, fs := Once(stale); len(fs) != 0 {
		t.Errorf("findings from stale data: %+v", fs)
	}
}

// Connections barely older than a max age prove nothing either way: no
// finding until they were reused past it or are old enough to tell.
func TestPersistentNeedsDecidableEvidence(t *testing.T) {
	young := djangoApp(t0, true)
	for i := range young.Postgres.Sessions {
		s := &young.Postgres.Sessions[i]
		s.BackendStart, s.StateSeconds = t0.Add(-75*time.Second), 20
	}
	if _, fs := Once(young); len(findingsByKind(fs)[FindingPersistentConnections]) != 0 {
		t.Errorf("75 s old connections without reuse gave a finding: %+v", fs)
	}
	for i := range 2 { // two of them served a request at 80 s of age, 20 s ago
		s := &young.Postgres.Sessions[i]
		s.BackendStart = t0.Add(-100 * time.Second)
	}
	_, fs := Once(young)
	if f := one(t, findingsByKind(fs), FindingPersistentConnections); f.Severity == SeverityInfo {
		t.Errorf("reuse at 80 s of age is the evidence, yet severity %s", f.Severity)
	}
}
