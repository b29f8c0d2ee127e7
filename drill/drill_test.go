package drill

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// syncBuffer collects the drill's progress lines from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPlanScalesToTheServer(t *testing.T) {
	p, err := planSessions(Config{}, serverInfo{MaxConnections: 100, SuperuserReserved: 3, Others: 2})
	if err != nil {
		t.Fatal(err)
	}
	// 92% of 97 usable, minus the 2 already connected: the incident's 92.
	if p.Total() != 87 || p.Usable != 97 || p.Idle <= p.IdleInTx+p.Waiters+p.Active {
		t.Fatalf("plan for 100 slots = %+v (total %d)", p, p.Total())
	}
	p, err = planSessions(Config{Connections: 500}, serverInfo{MaxConnections: 40, SuperuserReserved: 3, Others: 1})
	if err != nil || p.Total() != 36 {
		t.Fatalf("an override larger than the free slots must be capped at them: %+v, %v", p, err)
	}
	p, err = planSessions(Config{}, serverInfo{MaxConnections: 10000, SuperuserReserved: 3})
	if err != nil || p.Total() != maxSessions {
		t.Fatalf("a huge server must be capped at %d sessions: %+v, %v", maxSessions, p, err)
	}
	_, err = planSessions(Config{}, serverInfo{MaxConnections: 12, SuperuserReserved: 3, Others: 4})
	if err == nil || !strings.Contains(err.Error(), "only 5 free") {
		t.Fatalf("too small a server: err = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "needs a PostgreSQL server"},
		{Config{PGDSN: "x", Connections: 3}, "holds 3 sessions; use between 8 and"},
		{Config{PGDSN: "x", Database: "Talent-Flow"}, "lower-case"},
		{Config{PGDSN: "x", RedisClients: 1 << 20}, "use between 1 and 5000"},
	} {
		_, err := Start(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "--") {
			t.Errorf("Start(%+v) error = %v, want it to mention %q and no CLI flag (a library error)", tc.cfg, err, tc.want)
		}
	}
	_, err := Start(context.Background(), Config{PGDSN: "postgres://u:s3cret@[bad"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad DSN: err = %v (must not show the password)", err)
	}
}

// servers are shared by the tests of this package: starting them costs
// about a second each.
type servers struct {
	pg    *testserver.Postgres
	redis *testserver.Redis
}

func startServers(t *testing.T) servers {
	t.Helper()
	return servers{
		pg:    testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40}),
		redis: testserver.StartRedis(t, testserver.RedisOptions{MaxClients: 200}),
	}
}

func TestDrillOnRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and Redis")
	}
	srv := startServers(t)
	t.Run("RefusesADatabaseItDidNotCreate", func(t *testing.T) {
		srv.pg.Psql(t, "postgres", "CREATE DATABASE talentflow")
		_, err := Start(context.Background(), Config{PGDSN: srv.pg.DSN, Database: "talentflow"})
		if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "refusing to run: the database talentflow exists") {
			t.Fatalf("err = %v", err)
		}
		if got := srv.pg.Psql(t, "talentflow", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); got != "0" {
			t.Fatalf("the drill touched a database that is not its own: %s tables", got)
		}
	})
	t.Run("ReproducesTheIncidentAndReactsToMitigations", func(t *testing.T) {
		reproduceAndMitigate(t, srv)
	})
	t.Run("FixedBurstHoldsTheLimit", func(t *testing.T) {
		out := &syncBuffer{}
		d, err := Start(context.Background(), Config{PGDSN: srv.pg.DSN, Fixed: true, Connections: 16, Out: out})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		b := d.Status().Burst
		if b.Accepted != 1 || b.Refused != DefaultBurst-1 || b.After != b.Limit || b.OverCapacity() {
			t.Fatalf("with FOR UPDATE: %s", b)
		}
		if got := srv.pg.Psql(t, DefaultDatabase, "SELECT count(*) FROM applications WHERE job_id = 12345"); got != "50" {
			t.Fatalf("job 12345 has %s applications, want 50", got)
		}
		if !strings.Contains(out.String(), "the limit holds") {
			t.Fatalf("output does not say the limit holds:\n%s", out)
		}
	})
	t.Run("ExhaustLeavesOnlyReservedSlots", func(t *testing.T) {
		d, err := Start(context.Background(), Config{PGDSN: srv.pg.DSN, Exhaust: true})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		ex := d.Status().Exhaust
		if ex.SQLState != "53300" || !strings.Contains(ex.Refusal, "reserved") {
			t.Fatalf("exhaust result = %+v", ex)
		}
		_, err = pgx.Connect(context.Background(), srv.pg.DSNFor(DefaultRole, DefaultDatabase))
		if err == nil || !strings.Contains(err.Error(), "remaining connection slots are reserved") {
			t.Fatalf("the application's role could still connect: %v", err)
		}
		// A superuser still gets in on the reserved slots, as the console must.
		su, err := pgx.Connect(context.Background(), srv.pg.DSN)
		if err != nil {
			t.Fatalf("a superuser could not use the reserved slots: %v", err)
		}
		su.Close(context.Background())
	})
	t.Run("DropRemovesOnlyItsOwn", func(t *testing.T) { dropOnlyItsOwn(t, srv) })
}

func dropOnlyItsOwn(t *testing.T, srv servers) {
	ctx := context.Background()
	err := Drop(ctx, Config{PGDSN: srv.pg.DSN, Database: "talentflow"})
	if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "refusing to drop") {
		t.Fatalf("Drop of an unmarked database: %v", err)
	}
	out := &syncBuffer{}
	if err := Drop(ctx, Config{PGDSN: srv.pg.DSN, Out: out}); err != nil {
		t.Fatal(err)
	}
	left := srv.pg.Psql(t, "postgres", "SELECT (SELECT count(*) FROM pg_database WHERE datname IN ('talentflow_drill', 'talentflow')) || ',' || (SELECT count(*) FROM pg_roles WHERE rolname = 'talentflow_drill')")
	if left != "1,0" || !strings.Contains(out.String(), "dropped database talentflow_drill") {
		t.Fatalf("after Drop: databases,roles = %s (want only the unmarked database left)\n%s", left, out)
	}
	if err := Drop(ctx, Config{PGDSN: srv.pg.DSN, Out: out}); err != nil || !strings.Contains(out.String(), "nothing to drop") {
		t.Fatalf("a second Drop: %v\n%s", err, out)
	}
}

func reproduceAndMitigate(t *testing.T, srv servers) {
	ctx := context.Background()
	out := &syncBuffer{}
	d, err := Start(ctx, Config{PGDSN: srv.pg.DSN, RedisURL: srv.redis.URL, RedisEvery: 20 * time.Millisecond,
		RedisClients: 40, ReuseEvery: 50 * time.Millisecond, StatusEvery: time.Hour, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	plan := d.Plan()
	if plan.MaxConnections != 40 || plan.Total() < 30 {
		t.Fatalf("plan = %+v", plan)
	}
	// Workers flip to active for a moment when they serve a request, so
	// the states are compared until they settle.
	want := "active=" + strconv.Itoa(plan.Active+plan.Waiters) + ",idle=" + strconv.Itoa(plan.Idle) + ",idle in transaction=" + strconv.Itoa(plan.IdleInTx)
	var byState string
	waitFor(t, "pg_stat_activity to show "+want, func() bool {
		byState = srv.pg.Psql(t, "postgres", `SELECT string_agg(state || '=' || n, ',' ORDER BY state) FROM
			(SELECT state, count(*) n FROM pg_stat_activity WHERE application_name = 'talentflow-web' GROUP BY state) s`)
		return byState == want
	})
	// The first waiter holds the tuple lock the others queue on; the root of
	// the chain is the one idle-in-transaction blocker.
	blocker := srv.pg.Psql(t, "postgres", `SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE state = 'idle in transaction'
		AND pid IN (SELECT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity WHERE wait_event_type = 'Lock')`)
	if _, err := strconv.Atoi(blocker); err != nil {
		t.Fatalf("lock waits are blocked by idle-in-transaction pids %q, want exactly one", blocker)
	}
	b := d.Status().Burst
	if !b.OverCapacity() || b.Before != 49 || b.Limit != 50 {
		t.Fatalf("the racy burst did not overrun the job: %s", b)
	}
	if got := srv.pg.Psql(t, DefaultDatabase, "SELECT count(*) > max_applications FROM jobs j JOIN applications a ON a.job_id = j.id WHERE j.id = 12345 GROUP BY j.max_applications"); got != "t" {
		t.Fatalf("job 12345 not over capacity in the database: %s", got)
	}

	rdb := redis.NewClient(&redis.Options{Addr: srv.redis.Addr, DisableIdentity: true, Protocol: 2})
	defer rdb.Close()
	waitFor(t, "40 leaked Redis clients", func() bool { return leaked(t, rdb) == 40 })

	// Mitigate: terminate the blocker and the idle sessions, kill the leak.
	srv.pg.Psql(t, "postgres", "SELECT pg_terminate_backend("+blocker+")")
	waitFor(t, "the waiters to go through", func() bool { return d.Status().ByKind[kindWaiter] == 0 })
	// A worker serving a request at that instant is active, not idle: the
	// terminate repeats until the drill holds no idle session.
	waitFor(t, "the drill to notice the terminations", func() bool {
		srv.pg.Psql(t, "postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'talentflow-web' AND state = 'idle'")
		time.Sleep(100 * time.Millisecond)
		st := d.Status()
		return st.ByKind[kindIdle] == 0 && st.Gone >= plan.Idle
	})
	if n, err := rdb.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Result(); err != nil || n != 40 {
		t.Fatalf("CLIENT KILL: %d, %v", n, err)
	}
	waitFor(t, "the drill to notice the killed clients", func() bool { st := d.Status(); return st.RedisClosed == 40 && st.RedisOpen == 0 })
	time.Sleep(200 * time.Millisecond) // several reuse and leak ticks
	if n := srv.pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'talentflow-web' AND state = 'idle'"); n != "0" {
		t.Fatalf("terminated idle sessions came back: %s", n)
	}
	if n := leaked(t, rdb); n != 0 {
		t.Fatalf("killed Redis clients were reopened: %d", n)
	}
	for _, line := range []string{"terminated from outside", "not reopened", "went through", "over capacity by"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}

	d.Release()
	if n := srv.pg.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = 'talentflow_drill'"); n != "0" {
		t.Fatalf("%s drill sessions remain after Release", n)
	}
	if !strings.Contains(out.String(), "released") {
		t.Fatalf("no release line:\n%s", out)
	}
}

func leaked(t *testing.T, rdb *redis.Client) int {
	t.Helper()
	list, err := rdb.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+RedisNamePrefix) {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
