package collectors

import (
	"context"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// testHonestSources checks contract C3 for PostgreSQL, jobs and Redis: a
// source that answered keeps its last good data beside its error; one that
// never answered has no data at all. It stops p (so it runs last).
func testHonestSources(t *testing.T, p *testserver.Postgres) {
	r := testserver.StartRedis(t, testserver.RedisOptions{})
	cfg := Config{
		PG:    &PGConfig{DSN: p.DSN, Interval: 50 * time.Millisecond},
		Jobs:  &JobsConfig{DSN: p.DSN, Query: oneJobQuery, Interval: 50 * time.Millisecond},
		Redis: &RedisConfig{URL: r.URL, Interval: 50 * time.Millisecond, Timeout: 500 * time.Millisecond},
	}
	_, mb, cancel := startSet(t, cfg)
	defer cancel()
	waitMailbox(t, mb, func(s Snapshot) bool {
		return s.Postgres != nil && s.Jobs != nil && s.Redis != nil && len(s.Errors) == 0
	})
	p.Stop(t)
	r.Stop(t)
	stoppedAt := time.Now()
	s := waitMailbox(t, mb, func(s Snapshot) bool {
		return s.Errors[SourcePostgres] != "" && s.Errors[SourceJobs] != "" && s.Errors[SourceRedis] != "" &&
			s.Postgres.SampledAt.After(stoppedAt) && s.Jobs.SampledAt.After(stoppedAt) && s.Redis.SampledAt.After(stoppedAt)
	})
	if pg := s.Postgres; pg.LastGoodAt.After(stoppedAt) || pg.LastGoodAt.IsZero() || pg.MaxConnections != 12 {
		t.Errorf("failing PostgreSQL: last good %v (stopped %v), max_connections %d; want the last good data", pg.LastGoodAt, stoppedAt, pg.MaxConnections)
	}
	if j := s.Jobs; j.LastGoodAt.After(stoppedAt) || j.LastGoodAt.IsZero() || len(j.OverCapacity) != 1 {
		t.Errorf("failing jobs: %+v; want the last good rows", j)
	}
	if rs := s.Redis; rs.LastGoodAt.After(stoppedAt) || rs.LastGoodAt.IsZero() || rs.ServerVersion == "" {
		t.Errorf("failing Redis: %+v; want the last good data", rs)
	}
	cancel()

	// The same, now unreachable, servers for a fresh console: DOWN.
	_, mb, cancelFresh := startSet(t, cfg)
	defer cancelFresh()
	down := waitMailbox(t, mb, func(s Snapshot) bool {
		return s.Errors[SourcePostgres] != "" && s.Errors[SourceJobs] != "" && s.Errors[SourceRedis] != ""
	})
	if down.Postgres != nil || down.Jobs != nil || down.Redis != nil {
		t.Errorf("never-answered sources carry data: postgres %+v, jobs %+v, redis %+v", down.Postgres, down.Jobs, down.Redis)
	}
	once := CollectOnce(context.Background(), cfg)
	if once.Postgres != nil || once.Jobs != nil || once.Redis != nil || len(once.Errors) != 3 {
		t.Errorf("CollectOnce against unreachable servers: %+v", once)
	}
}
