package analysis

import (
	"fmt"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Fakes for pure code: snapshots shaped like the TalentFlow incident and
// like a healthy system.

var t0 = time.Date(2024, 1, 21, 15, 42, 0, 0, time.UTC)

// pgSnap is a PostgreSQL sample with total client connections out of 100.
func pgSnap(at time.Time, total int) collectors.Snapshot {
	return collectors.Snapshot{
		TakenAt: at,
		Postgres: &collectors.PGStats{
			Sample:         collectors.Sample{SampledAt: at, LastGoodAt: at},
			Target:         "db:5432/talentflow",
			MaxConnections: 100, SuperuserReservedConnections: 3,
			Total:   total,
			ByState: map[string]int{"idle": total},
		},
	}
}

func session(pid int32, state string, at time.Time, backendAge, stateAge time.Duration) collectors.Session {
	return collectors.Session{
		PID: pid, BackendStart: at.Add(-backendAge), Datname: "talentflow", Usename: "talentflow",
		ApplicationName: "talentflow-web", ClientAddr: fmt.Sprintf("10.0.3.%d", 11+pid%4),
		State: state, StateSeconds: stateAge.Seconds(),
		Query: `SELECT "candidates_candidate"."id" FROM "candidates_candidate" LIMIT 21`,
	}
}

// incident builds the incident at `at`: 77 persistent idle sessions, 3 idle
// in transaction (pid 2001 holding the lock 12 waiters want), 15 active,
// the probe refused with 53300, a leaking Redis group and job 12345 over
// its limit.
func incident(at time.Time) collectors.Snapshot {
	var ss []collectors.Session
	for i := range 77 {
		ss = append(ss, session(int32(1000+i), "idle", at, 3*time.Hour, 12*time.Minute+time.Duration(i)*time.Second))
	}
	for i := range 3 {
		s := session(int32(2001+i), "idle in transaction", at, 3*time.Hour, 2*time.Minute)
		s.XactSeconds = 135
		s.Query = `UPDATE "jobs_job" SET "application_count" = 50 WHERE "jobs_job"."id" = 12345`
		ss = append(ss, s)
	}
	for i := range 15 {
		s := session(int32(3000+i), "active", at, 3*time.Hour, time.Second)
		if i < 12 {
			s.WaitEventType, s.WaitEvent, s.BlockedBy = "Lock", "transactionid", []int32{2001}
			if i > 0 {
				s.WaitEvent, s.BlockedBy = "tuple", []int32{3000}
			}
		}
		ss = append(ss, s)
	}
	s := pgSnap(at, len(ss))
	pg := s.Postgres
	pg.Sessions, pg.Waiting = ss, 12
	pg.ServerVersion, pg.ServerVersionNum = "15.5", 150005
	pg.ByState = map[string]int{"idle": 77, "idle in transaction": 3, "active": 15}
	s.Probe = &collectors.ProbeResult{SampledAt: at, SQLState: "53300",
		Error: "FATAL: remaining connection slots are reserved for non-replication superuser connections (SQLSTATE 53300)"}
	s.Redis = redisLeak(at, 150)
	s.Jobs = &collectors.JobsStats{Sample: collectors.Sample{SampledAt: at, LastGoodAt: at},
		OverCapacity: []collectors.JobCapacity{{ID: "12345", Label: "Senior Backend Engineer", Count: 58, Limit: 50, Excess: 8}}}
	return s
}

// redisLeak has n leaked clients from one analytics host, one per 20 s,
// each idle since it connected, plus 12 healthy pooled web clients.
func redisLeak(at time.Time, n int) *collectors.RedisStats {
	var cs []collectors.RedisClient
	for i := range 12 {
		cs = append(cs, collectors.RedisClient{ID: int64(i + 1), Addr: fmt.Sprintf("10.0.3.%d:%d", 11+i%4, 40000+i),
			LibName: "redis-py", AgeSeconds: 10800, IdleSeconds: 1, Cmd: "get"})
	}
	for i := range n {
		age := int64(20 * (n - i))
		cs = append(cs, collectors.RedisClient{ID: int64(100 + i), Addr: fmt.Sprintf("10.0.5.7:%d", 50000+i),
			Name: fmt.Sprintf("analytics-cache-%d", i), LibName: "redis-py", AgeSeconds: age, IdleSeconds: age - 1, Cmd: "get"})
	}
	return redisStats(at, cs, int64(5000+n))
}

func redisStats(at time.Time, cs []collectors.RedisClient, received int64) *collectors.RedisStats {
	return &collectors.RedisStats{
		Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, Target: "cache:6379/0",
		ConnectedClients: int64(len(cs)), MaxClients: 10000, TotalConnectionsReceived: received,
		ClientsSampledAt: at, Clients: cs, Groups: collectors.GroupRedisClients(cs),
	}
}

// healthy is a calm system: a few short-lived web connections (CONN_MAX_AGE
// 60), a probe that succeeds, a pooled Redis, no job over capacity.
func healthy(at time.Time) collectors.Snapshot {
	var ss []collectors.Session
	for i := range 20 {
		ss = append(ss, session(int32(1000+i), "idle", at, 40*time.Second, 2*time.Second))
	}
	ss = append(ss, session(2001, "idle in transaction", at, 30*time.Second, 100*time.Millisecond))
	ss = append(ss, session(3000, "active", at, 20*time.Second, 50*time.Millisecond))
	s := pgSnap(at, len(ss))
	s.Postgres.Sessions = ss
	s.Postgres.ByState = map[string]int{"idle": 20, "idle in transaction": 1, "active": 1}
	s.Probe = &collectors.ProbeResult{SampledAt: at, OK: true, ConnectMS: 3}
	var cs []collectors.RedisClient
	for i := range 30 {
		cs = append(cs, collectors.RedisClient{ID: int64(i + 1), Addr: fmt.Sprintf("10.0.5.7:%d", 50000+i),
			Name: fmt.Sprintf("analytics-cache-%d", i), LibName: "redis-py", AgeSeconds: 3600, IdleSeconds: 2, Cmd: "get"})
	}
	s.Redis = redisStats(at, cs, 40)
	s.Jobs = &collectors.JobsStats{Sample: collectors.Sample{SampledAt: at, LastGoodAt: at}, OverCapacity: []collectors.JobCapacity{}}
	return s
}
