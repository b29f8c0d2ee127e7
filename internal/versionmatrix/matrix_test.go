package versionmatrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/slotwatch/slotwatch/actions"
	"github.com/slotwatch/slotwatch/collectors"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

const (
	maxConns      = 20
	superReserved = 3
	reserved16    = 2 // reserved_connections on PostgreSQL 16+
)

// TestVersionMatrix runs the version-dependent behaviour against every
// server in SLOTWATCH_PG_MATRIX. scripts/test always sets it; a plain
// `go test ./...` without it says how to get the servers and skips.
func TestVersionMatrix(t *testing.T) {
	bins, err := testserver.MatrixBins()
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("SLOTWATCH_PG_MATRIX is empty in CI: scripts/test must set it from scripts/pg-versions")
		}
		t.Skip("no PostgreSQL version matrix: run scripts/pg-versions and set SLOTWATCH_PG_MATRIX (scripts/test does both)")
	}
	majors := make([]int, 0, len(bins))
	for m := range bins {
		majors = append(majors, m)
	}
	sort.Ints(majors)
	for _, major := range majors {
		t.Run(fmt.Sprintf("PostgreSQL%d", major), func(t *testing.T) {
			t.Parallel()
			testVersion(t, major, bins[major])
		})
	}
}

type server struct {
	*testserver.Postgres
	major int
}

func testVersion(t *testing.T, major int, bin string) {
	opts := testserver.PGOptions{Bin: bin, MaxConnections: maxConns, SuperuserReservedConns: superReserved}
	if major >= 16 {
		opts.Settings = map[string]string{"reserved_connections": fmt.Sprint(reserved16)}
	}
	srv := server{testserver.StartPostgres(t, opts), major}
	srv.Psql(t, "postgres", `CREATE ROLE app LOGIN; CREATE ROLE watcher LOGIN;
		CREATE TABLE jobs (id int PRIMARY KEY, n int); INSERT INTO jobs VALUES (1, 0);
		GRANT ALL ON jobs TO app;`)
	if got := srv.Psql(t, "postgres", "SELECT current_setting('server_version_num')::int / 10000"); got != fmt.Sprint(major) {
		t.Fatalf("server in %s reports major %s, want %d", bin, got, major)
	}
	t.Run("collector", srv.testCollector)
	t.Run("hidden rows for a plain role", srv.testHiddenRows)
	t.Run("terminate", srv.testTerminate)
	t.Run("idle_session_timeout guard", srv.testIdleSessionGuard)
	t.Run("headroom and reserved slots", srv.testHeadroom)
}

func (s server) connect(t *testing.T, user, app string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSNFor(user, "postgres")+"&application_name="+app)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// holdLockQueue leaves one idle-in-transaction blocker holding a row lock
// and two sessions queued behind it, and returns their pids.
func (s server) holdLockQueue(t *testing.T) (blocker int32, waiters []int32) {
	t.Helper()
	b := s.connect(t, "app", "matrix-blocker")
	exec(t, b, "BEGIN")
	exec(t, b, "UPDATE jobs SET n = n + 1 WHERE id = 1")
	for i := range 2 {
		w := s.connect(t, "app", fmt.Sprintf("matrix-waiter-%d", i))
		waiters = append(waiters, int32(w.PgConn().PID()))
		go func() { _, _ = w.Exec(context.Background(), "UPDATE jobs SET n = n + 1 WHERE id = 1") }()
		s.waitFor(t, fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name LIKE 'matrix-waiter-%%'"), fmt.Sprint(i+1))
	}
	return int32(b.PgConn().PID()), waiters
}

func (s server) waitFor(t *testing.T, sql, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.Psql(t, "postgres", sql)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %s after 10s, want %s", sql, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func collect(t *testing.T, dsn string) *collectors.PGStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	snap := collectors.CollectOnce(ctx, collectors.Config{PG: &collectors.PGConfig{DSN: dsn}})
	if snap.Postgres == nil || snap.Errors[collectors.SourcePostgres] != "" {
		t.Fatalf("collect: %v", snap.Errors)
	}
	return snap.Postgres
}

func (s server) testCollector(t *testing.T) {
	for i := range 3 {
		s.connect(t, "app", fmt.Sprintf("matrix-idle-%d", i))
	}
	blocker, waiters := s.holdLockQueue(t)
	st := collect(t, s.DSN)
	if st.ServerVersionNum/10000 != s.major {
		t.Fatalf("server_version_num %d, want major %d", st.ServerVersionNum, s.major)
	}
	if st.ByState["idle"] < 3 || st.ByState["idle in transaction"] < 1 {
		t.Fatalf("by_state %v: want at least 3 idle and 1 idle in transaction", st.ByState)
	}
	if st.Waiting != 2 {
		t.Fatalf("waiting = %d, want the 2 queued sessions", st.Waiting)
	}
	for _, pid := range waiters {
		direct := s.Psql(t, "postgres", fmt.Sprintf("SELECT array_to_string(ARRAY(SELECT unnest(pg_blocking_pids(%d)) ORDER BY 1), ',')", pid))
		sess := sessionByPID(t, st, pid)
		got := make([]string, 0, len(sess.BlockedBy))
		sorted := slices.Clone(sess.BlockedBy)
		slices.Sort(sorted)
		for _, b := range sorted {
			got = append(got, fmt.Sprint(b))
		}
		if strings.Join(got, ",") != direct {
			t.Errorf("pid %d blocked_by %v, pg_blocking_pids says {%s}", pid, sess.BlockedBy, direct)
		}
		// The first waiter waits for the blocker; the second queues behind
		// the first (its tuple lock), which pg_blocking_pids reports alone.
		if pid == waiters[0] && !slices.Contains(sess.BlockedBy, blocker) {
			t.Errorf("pid %d blocked_by %v does not name the blocker %d", pid, sess.BlockedBy, blocker)
		}
	}
}

func sessionByPID(t *testing.T, st *collectors.PGStats, pid int32) collectors.Session {
	t.Helper()
	for _, s := range st.Sessions {
		if s.PID == pid {
			return s
		}
	}
	t.Fatalf("pid %d is not among the %d sessions", pid, len(st.Sessions))
	return collectors.Session{}
}

func (s server) testHiddenRows(t *testing.T) {
	other := s.connect(t, "app", "matrix-hidden")
	st := collect(t, s.DSNFor("watcher", "postgres"))
	sess := sessionByPID(t, st, int32(other.PgConn().PID()))
	if !sess.Hidden || st.ByState["hidden"] < 1 {
		t.Fatalf("a plain role sees another role's session as %+v; want it kept as hidden", sess)
	}
	if sess.ApplicationName != "matrix-hidden" || sess.Usename != "app" {
		t.Fatalf("hidden row lost what stays visible: %+v", sess)
	}
}

func newService(t *testing.T, dsn string) *actions.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pg, err := actions.DialPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close(context.Background()) })
	audit, err := actions.OpenAuditLog("")
	if err != nil {
		t.Fatal(err)
	}
	return actions.NewService(pg, nil, actions.DefaultPolicy(), audit, actions.Operator{User: "matrix"})
}

func (s server) testTerminate(t *testing.T) {
	ctx := context.Background()
	for i := range 4 {
		s.connect(t, "app", fmt.Sprintf("matrix-term-%d", i))
	}
	svc := newService(t, s.DSN)
	plan, err := svc.PreviewSessions(ctx, actions.SessionRequest{Kind: actions.Terminate,
		Filter: actions.SessionFilter{App: "matrix-term-*", States: []string{"idle"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 4 {
		t.Fatalf("preview has %d targets, want 4", len(plan.Targets))
	}
	if hasTimeout := strings.Contains(plan.Statement, "pg_terminate_backend(") && strings.Contains(plan.Statement, ","); s.major < 14 && strings.Contains(plan.Statement, "timeout") {
		t.Fatalf("PostgreSQL %d has no terminate timeout, but the statement uses one: %s (%v)", s.major, plan.Statement, hasTimeout)
	}
	rep, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Outcome != actions.Done {
			t.Errorf("pid %d: %s %s, want done", r.ID, r.Outcome, r.Reason)
		}
	}
	s.waitFor(t, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'matrix-term-%'", "0")
}

func (s server) testIdleSessionGuard(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, s.DSN)
	plan, err := svc.PreviewGuardSet(ctx, actions.GuardRequest{Setting: actions.GuardIdleSession, Role: "app", Value: "1s"})
	if s.major < 14 {
		if err == nil {
			t.Fatalf("PostgreSQL %d has no idle_session_timeout, but the guard was previewed: %+v", s.major, plan)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ExecuteGuard(ctx, plan); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Psql(t, "postgres", "ALTER ROLE app RESET idle_session_timeout") })
	c := s.connect(t, "app", "matrix-guarded")
	time.Sleep(2500 * time.Millisecond)
	_, err = c.Exec(ctx, "SELECT 1")
	var pgErr *pgconn.PgError
	if err == nil {
		t.Fatal("a session idle past the guard's idle_session_timeout still answers")
	}
	if errors.As(err, &pgErr) && pgErr.Code != "57P05" {
		t.Fatalf("idle session ended with SQLSTATE %s, want 57P05 (idle_session_timeout)", pgErr.Code)
	}
}

// testHeadroom fills every slot an ordinary role may take: the collector's
// usable count must match, the probe must be refused with 53300, and on
// PostgreSQL 16+ a role granted pg_use_reserved_connections still connects
// — the advice slotwatch gives there.
func (s server) testHeadroom(t *testing.T) {
	base := collect(t, s.DSN)
	wantReserved := 0
	if s.major >= 16 {
		wantReserved = reserved16
	}
	if base.ReservedConnections != wantReserved || base.Usable() != maxConns-superReserved-wantReserved {
		t.Fatalf("reserved %d, usable %d; want %d and %d", base.ReservedConnections, base.Usable(), wantReserved, maxConns-superReserved-wantReserved)
	}
	if s.major >= 16 {
		s.Psql(t, "postgres", "CREATE ROLE oncall LOGIN; GRANT pg_use_reserved_connections TO oncall")
	}
	// The collector's own connection closed with CollectOnce.
	free := base.Usable() - base.Total
	for i := range free {
		s.connect(t, "app", fmt.Sprintf("matrix-fill-%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	snap := collectors.CollectOnce(ctx, collectors.Config{Probe: &collectors.ProbeConfig{DSN: s.DSNFor("app", "postgres")}})
	if snap.Probe == nil || snap.Probe.OK || snap.Probe.SQLState != "53300" {
		t.Fatalf("probe with every usable slot taken: %+v; want refused with 53300", snap.Probe)
	}
	if s.major >= 16 {
		s.connect(t, "oncall", "matrix-oncall")
	}
	full := collect(t, s.DSN)
	if full.Used() < full.Usable() {
		t.Fatalf("collector counts %d used of %d usable while every usable slot is taken", full.Used(), full.Usable())
	}
}
