package collectors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestConnectionBudget checks contract C2 on a server as small as the
// incident's margins: max_connections 12, 3 reserved for superusers.
func TestConnectionBudget(t *testing.T) {
	t.Parallel()
	p := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 12, SuperuserReservedConns: 3})
	p.Psql(t, "postgres", "CREATE ROLE app LOGIN")
	t.Run("one backend at rest, again after a restart", func(t *testing.T) { testOneBackend(t, p) })
	t.Run("WithConn after the backend was terminated", func(t *testing.T) { testWithConnAfterTerminate(t, p) })
	t.Run("WithConn acts when no slot is left", func(t *testing.T) { testWithConnAtLimit(t, p) })
	t.Run("53300 for an ordinary role and for a superuser", func(t *testing.T) { testRefusals(t, p) })
	t.Run("the probe's and jobs' connections are slotwatch's own", func(t *testing.T) { testOwnProbe(t, p) })
	t.Run("honest sources: last good data, or none", func(t *testing.T) { testHonestSources(t, p) })
}

// fill opens connections of dsn until the server refuses one, and returns
// them with the refusal.
func fill(t *testing.T, dsn, app string) ([]*pgx.Conn, *pgconn.PgError) {
	t.Helper()
	var conns []*pgx.Conn
	for range 20 {
		c, err := holdConn(dsn, app)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return conns, pgErr
		}
		if err != nil {
			closeAll(conns...)
			t.Fatalf("filling the slots failed for another reason: %v", err)
		}
		conns = append(conns, c)
	}
	closeAll(conns...)
	t.Fatal("the server never refused a connection")
	return nil, nil
}

// refill takes the slots that became free again. A refused connection's
// backend holds a slot until it exits, a moment after the refusal: fill
// again until two rounds, after a pause, find no slot.
func refill(t *testing.T, dsn, app string) []*pgx.Conn {
	t.Helper()
	var conns []*pgx.Conn
	for empty := 0; empty < 2; {
		more, _ := fill(t, dsn, app)
		conns = append(conns, more...)
		if len(more) == 0 {
			empty++
		}
		time.Sleep(100 * time.Millisecond)
	}
	return conns
}

func testRefusals(t *testing.T, p *testserver.Postgres) {
	ctx := context.Background()
	appDSN := p.DSNFor("app", "postgres")

	// An ordinary role that connected before: the collector knows it.
	ordinary, mb, cancel := startSet(t, Config{PG: &PGConfig{DSN: appDSN, Interval: time.Hour}, Probe: &ProbeConfig{DSN: appDSN, Interval: time.Hour}})
	defer cancel()
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && s.Probe != nil })
	pid, err := backendPID(ctx, ordinary.PG())
	if err != nil {
		t.Fatal(err)
	}
	hogs, reserved := fill(t, appDSN, "hog")
	defer func() { closeAll(hogs...) }()
	p.Psql(t, "postgres", "SELECT pg_terminate_backend("+strconv.Itoa(int(pid))+", 5000)")
	more := refill(t, appDSN, "hog")
	hogs = append(hogs, more...)
	err = ordinary.PG().WithConn(ctx, func(context.Context, *pgx.Conn) error { return nil })
	var refused *pgconn.PgError
	if !errors.As(err, &refused) || refused.Code != SQLStateTooManyConnections {
		t.Fatalf("reconnecting with every ordinary slot taken gave %v; want the 53300 refusal, kept for errors.As", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "as app, an ordinary role") || !strings.Contains(msg, `the server says: "`+reserved.Message+`"`) ||
		!strings.Contains(msg, "pg_use_reserved_connections") {
		t.Errorf("an ordinary role's refusal = %q; want it named ordinary, the server's words quoted, the reserved-slot advice", msg)
	}
	// A fresh collector knows nothing of the role: both cases are said.
	s := CollectOnce(ctx, Config{PG: &PGConfig{DSN: appDSN}, Probe: &ProbeConfig{DSN: appDSN}})
	if msg := s.Errors[SourcePostgres]; !strings.Contains(msg, "If app is an ordinary role") || !strings.Contains(msg, "slotwatch itself holds 0") {
		t.Errorf("a refusal of an unknown role = %q; want both cases explained", msg)
	}
	if s.Probe == nil || s.Probe.SQLState != SQLStateTooManyConnections || s.Probe.Reason != reserved.Message {
		t.Errorf("probe = %+v; want the server's reason %q", s.Probe, reserved.Message)
	}
	cancel()

	// A superuser collector, then every slot including the reserved ones.
	super, mb, cancelSuper := startSet(t, Config{PG: &PGConfig{DSN: p.DSN, Interval: time.Hour}})
	defer cancelSuper()
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && len(s.Errors) == 0 })
	admins, tooMany := fill(t, p.DSN, "admin")
	defer func() { closeAll(admins...) }()
	if tooMany.Code != SQLStateTooManyConnections {
		t.Fatalf("the superusers were refused with %v", tooMany)
	}
	pid, err = backendPID(ctx, super.PG())
	if err != nil {
		t.Fatal(err)
	}
	// Terminated from a held connection; its slot is taken at once.
	if _, err := admins[0].Exec(ctx, "SELECT pg_terminate_backend($1, 5000)", pid); err != nil {
		t.Fatal(err)
	}
	more = refill(t, p.DSN, "admin")
	admins = append(admins, more...)
	err = super.PG().WithConn(ctx, func(context.Context, *pgx.Conn) error { return nil })
	msg = fmt.Sprint(err)
	if !strings.Contains(msg, "even those reserved for superusers") || !strings.Contains(msg, `the server says: "`+tooMany.Message+`"`) ||
		!strings.Contains(msg, "slotwatch itself holds 0") || strings.Contains(msg, "as a superuser") || strings.Contains(msg, "pg_use_reserved_connections") {
		t.Errorf("a superuser's refusal = %q; want every slot gone, the server's words, slotwatch's count, and no advice to become a superuser", msg)
	}
}

func startSet(t *testing.T, cfg Config) (*Set, *Mailbox, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	mb := NewMailbox()
	set, err := Start(ctx, cfg, mb)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return set, mb, cancel
}

func testOneBackend(t *testing.T, p *testserver.Postgres) {
	cfg := Config{
		PG:    &PGConfig{DSN: p.DSN, Interval: 50 * time.Millisecond},
		Jobs:  &JobsConfig{DSN: p.DSN, Query: oneJobQuery, Interval: 50 * time.Millisecond},
		Probe: &ProbeConfig{DSN: p.DSNFor("app", "postgres"), Interval: time.Hour},
	}
	_, mb, cancel := startSet(t, cfg)
	defer func() {
		cancel()
		waitPGCount(t, p, "slotwatch%", "0")
	}()
	waitMailbox(t, mb, func(s Snapshot) bool {
		return s.Postgres != nil && s.Jobs != nil && s.Probe != nil && s.Probe.OK && len(s.Errors) == 0
	})
	// The probe's connection was momentary; the jobs query shares the
	// collector's: one backend, sampled several times.
	waitPGCount(t, p, "slotwatch%", "1")
	for range 5 {
		time.Sleep(60 * time.Millisecond)
		if n := pgCount(t, p, "slotwatch%"); n != "1" {
			t.Fatalf("slotwatch holds %s backends at rest, want 1", n)
		}
	}
	restartedAt := time.Now()
	p.Restart(t)
	s := waitMailbox(t, mb, func(s Snapshot) bool {
		return s.Postgres != nil && s.Postgres.LastGoodAt.After(restartedAt) && s.Jobs != nil && s.Jobs.LastGoodAt.After(restartedAt) &&
			len(s.Errors) == 0
	})
	waitPGCount(t, p, "slotwatch%", "1")
	if s.Postgres.OwnConnections != 1 {
		t.Errorf("after the restart own_connections = %d, want 1", s.Postgres.OwnConnections)
	}
}

func backendPID(ctx context.Context, r *PGRunner) (int32, error) {
	var pid int32
	err := r.WithConn(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)
	})
	return pid, err
}

func testWithConnAfterTerminate(t *testing.T, p *testserver.Postgres) {
	// One tick only: WithConn itself must find the dead connection.
	set, mb, cancel := startSet(t, Config{PG: &PGConfig{DSN: p.DSN, Interval: time.Hour}})
	defer func() {
		cancel()
		waitPGCount(t, p, "slotwatch%", "0")
	}()
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && len(s.Errors) == 0 })
	ctx := context.Background()
	before, err := backendPID(ctx, set.PG())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Psql(t, "postgres", "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'slotwatch%'"); got != strconv.Itoa(int(before)) {
		t.Fatalf("WithConn ran on backend %d, slotwatch's backends are %q: it must be the collector's", before, got)
	}
	p.Psql(t, "postgres", "SELECT pg_terminate_backend("+strconv.Itoa(int(before))+")")
	after, err := backendPID(ctx, set.PG())
	if err != nil || after == before || after == 0 {
		t.Fatalf("WithConn after the backend was terminated: pid %d (before %d), %v; want a new connection", after, before, err)
	}
	waitPGCount(t, p, "slotwatch%", "1")
	if got := set.PG().Server(); got != "127.0.0.1:"+strconv.Itoa(p.Port)+"/postgres" {
		t.Errorf("Server() = %q", got)
	}
	// A statement error leaves the connection in place, in no transaction.
	errTx := set.PG().WithConn(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "BEGIN; SELECT 1/0")
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(errTx, &pgErr) || pgErr.Code != "22012" {
		t.Fatalf("WithConn must return fn's error as is: %v", errTx)
	}
	if again, err := backendPID(ctx, set.PG()); err != nil || again != after {
		t.Errorf("after a failed statement WithConn ran on %d (%v), want the same backend %d", again, err, after)
	}
	var none *Set
	if err := none.PG().WithConn(ctx, func(context.Context, *pgx.Conn) error { return nil }); err == nil {
		t.Error("WithConn without a PostgreSQL target must fail")
	}
	cancel()
	waitPGCount(t, p, "slotwatch%", "0")
	if _, err := backendPID(ctx, set.PG()); !errors.Is(err, errStopped) {
		t.Errorf("WithConn after the collectors stopped = %v, want errStopped", err)
	}
}

// testWithConnAtLimit is the connection-budget measurement, taken to the end: every
// ordinary slot held by an ordinary role besides the console's (a superuser
// takes an ordinary slot while there is one), then superuser connections
// until even the reserved slots are gone; the console can still terminate.
func testWithConnAtLimit(t *testing.T, p *testserver.Postgres) {
	set, mb, cancel := startSet(t, Config{PG: &PGConfig{DSN: p.DSN, Interval: 50 * time.Millisecond}})
	defer func() {
		cancel()
		waitPGCount(t, p, "slotwatch%", "0")
	}()
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && len(s.Errors) == 0 })
	hogs := refill(t, p.DSNFor("app", "postgres"), "hog")
	defer func() { closeAll(hogs...) }()
	supers := refill(t, p.DSN, "admin")
	defer func() { closeAll(supers...) }()
	if len(hogs) != 8 || len(supers) != 3 {
		t.Fatalf("held %d ordinary and %d superuser connections beside slotwatch's; want 8 and 3 (12 slots, 3 reserved)", len(hogs), len(supers))
	}
	victim := hogs[0].PgConn().PID()
	var terminated bool
	err := set.PG().WithConn(context.Background(), func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT pg_terminate_backend($1, 5000)", int32(victim)).Scan(&terminated)
	})
	if err != nil || !terminated {
		t.Fatalf("terminate through WithConn with every slot taken: %v (terminated %v)", err, terminated)
	}
	s := waitMailbox(t, mb, func(s Snapshot) bool {
		return s.Postgres != nil && len(sessionsOf(s.Postgres, "hog")) == 7 && len(s.Errors) == 0
	})
	if s.Postgres.OwnConnections != 1 || len(sessionsOf(s.Postgres, "admin")) != 3 {
		t.Errorf("own_connections %d, sessions %+v", s.Postgres.OwnConnections, s.Postgres.Groups)
	}
}

func redisClientsNamed(t *testing.T, admin *redisConn, name string) []string {
	t.Helper()
	list, err := admin.do("CLIENT LIST")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range strings.Lines(list) {
		if strings.Contains(line, " name="+name+" ") {
			id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
			ids = append(ids, id)
		}
	}
	return ids
}

func TestRedisBudget(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t, testserver.RedisOptions{})
	admin := holdRedis(t, "tcp", r.Addr, "admin-%d", 1)[0]
	set, mb, cancel := startSet(t, Config{Redis: &RedisConfig{URL: r.URL, Interval: time.Hour}})
	defer cancel()
	s := waitMailbox(t, mb, func(s Snapshot) bool { return s.Redis != nil && len(s.Errors) == 0 })
	if s.Redis.OwnConnections != 1 || len(s.Redis.Clients) != 1 || s.Redis.Clients[0].Name != "admin-0" {
		t.Errorf("own_connections %d, clients %+v; want slotwatch's own left out and counted", s.Redis.OwnConnections, s.Redis.Clients)
	}
	ctx := context.Background()
	clientID := func() (int64, error) {
		var id int64
		err := set.Redis().WithConn(ctx, func(ctx context.Context, conn *redis.Conn) error {
			var err error
			id, err = conn.ClientID(ctx).Result()
			return err
		})
		return id, err
	}
	before, err := clientID()
	if err != nil {
		t.Fatal(err)
	}
	ids := redisClientsNamed(t, admin, "slotwatch")
	if len(ids) != 1 || ids[0] != strconv.FormatInt(before, 10) {
		t.Fatalf("slotwatch clients %v, WithConn ran on %d: want one client, the collector's", ids, before)
	}
	if reply, err := admin.do("CLIENT KILL ID " + ids[0]); err != nil || reply != ":1" {
		t.Fatalf("CLIENT KILL: %q, %v", reply, err)
	}
	after, err := clientID()
	if err != nil || after == before {
		t.Fatalf("WithConn after CLIENT KILL: id %d (before %d), %v", after, before, err)
	}
	if ids := redisClientsNamed(t, admin, "slotwatch"); len(ids) != 1 {
		t.Errorf("slotwatch clients after the kill: %v, want one", ids)
	}
	if set.Redis().Server() != r.Addr+"/0" {
		t.Errorf("Server() = %q", set.Redis().Server())
	}
}

// testOwnProbe samples while the probe opens and closes a connection every
// few ticks, and a jobs query on another database keeps one: neither is
// ever a session or a group, and both are counted when present.
func testOwnProbe(t *testing.T, p *testserver.Postgres) {
	cfg := Config{
		PG:    &PGConfig{DSN: p.DSN, Interval: 20 * time.Millisecond},
		Probe: &ProbeConfig{DSN: p.DSNFor("app", "postgres"), Interval: 30 * time.Millisecond},
		Jobs:  &JobsConfig{DSN: p.DSNFor("postgres", "template1"), Query: oneJobQuery, Interval: 20 * time.Millisecond},
	}
	_, mb, cancel := startSet(t, cfg)
	defer func() {
		cancel()
		waitPGCount(t, p, "slotwatch%", "0")
	}()
	probes, maxOwn := map[time.Time]bool{}, 0
	deadline := time.Now().Add(10 * time.Second)
	for len(probes) < 20 && time.Now().Before(deadline) {
		s := waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && s.Probe != nil })
		probes[s.Probe.SampledAt] = true
		maxOwn = max(maxOwn, s.Postgres.OwnConnections)
		for _, sess := range s.Postgres.Sessions {
			if strings.HasPrefix(sess.ApplicationName, "slotwatch") {
				t.Fatalf("slotwatch's own connection is listed as a session: %+v", sess)
			}
		}
		for _, g := range s.Postgres.Groups {
			if strings.HasPrefix(g.ApplicationName, "slotwatch") {
				t.Fatalf("slotwatch's own connection is listed as a group: %+v", g)
			}
		}
	}
	if len(probes) < 20 || maxOwn < 2 {
		t.Errorf("%d probes seen, own_connections at most %d; want 20 probes and the jobs connection counted", len(probes), maxOwn)
	}
}

// TestFleetBudget is contract C2 with several servers: exactly one
// slotwatch backend on each PostgreSQL server and one client on each Redis
// server at rest, none once stopped; the probe and jobs stay with the
// primary.
func TestFleetBudget(t *testing.T) {
	t.Parallel()
	pgs := []*testserver.Postgres{
		testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 12}),
		testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 12}),
		testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 12}),
	}
	reds := []*testserver.Redis{testserver.StartRedis(t, testserver.RedisOptions{}), testserver.StartRedis(t, testserver.RedisOptions{})}
	admins := []*redisConn{holdRedis(t, "tcp", reds[0].Addr, "admin-%d", 1)[0], holdRedis(t, "tcp", reds[1].Addr, "admin-%d", 1)[0]}
	cfg := Config{
		PG:        &PGConfig{DSN: pgs[0].DSN, Interval: 20 * time.Millisecond},
		Jobs:      &JobsConfig{DSN: pgs[0].DSN, Query: oneJobQuery, Interval: 20 * time.Millisecond},
		Probe:     &ProbeConfig{DSN: pgs[0].DSN, Interval: time.Hour},
		Redis:     &RedisConfig{URL: reds[0].URL, Interval: 20 * time.Millisecond},
		MoreRedis: []RedisConfig{{URL: reds[1].URL, Interval: 20 * time.Millisecond}},
	}
	for _, p := range pgs[1:] {
		cfg.MorePG = append(cfg.MorePG, PGConfig{DSN: p.DSN, Interval: 20 * time.Millisecond})
	}
	_, mb, cancel := startSet(t, cfg)
	defer cancel()
	s := waitMailbox(t, mb, func(s Snapshot) bool { return serversAnswered(s) && s.Jobs != nil && s.Probe != nil })
	if len(s.Servers) != 5 {
		t.Fatalf("%d servers, want 5", len(s.Servers))
	}
	for _, p := range pgs {
		waitPGCount(t, p, "slotwatch%", "1")
	}
	for range 5 {
		time.Sleep(30 * time.Millisecond)
		for i, p := range pgs {
			if n := pgCount(t, p, "slotwatch%"); n != "1" {
				t.Fatalf("PostgreSQL server %d: slotwatch holds %s backends at rest, want 1", i, n)
			}
		}
		for i, a := range admins {
			if ids := redisClientsNamed(t, a, "slotwatch"); len(ids) != 1 {
				t.Fatalf("Redis server %d: slotwatch holds %d clients, want 1", i, len(ids))
			}
		}
	}
	s = waitMailbox(t, mb, serversAnswered)
	for _, srv := range s.Servers {
		if srv.Postgres != nil && srv.Postgres.OwnConnections != 1 || srv.Redis != nil && srv.Redis.OwnConnections != 1 {
			t.Errorf("%s: own connections %+v %+v, want 1", srv.Name, srv.Postgres, srv.Redis)
		}
	}
	cancel()
	for _, p := range pgs {
		waitPGCount(t, p, "slotwatch%", "0")
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range admins {
		for len(redisClientsNamed(t, a, "slotwatch")) != 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if ids := redisClientsNamed(t, a, "slotwatch"); len(ids) != 0 {
			t.Errorf("slotwatch clients after stop: %v", ids)
		}
	}
}
