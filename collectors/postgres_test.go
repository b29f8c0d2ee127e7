package collectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

// TestPostgres shares one throwaway server (max_connections=20) between
// subtests, which run one after the other and each close what they open.
func TestPostgres(t *testing.T) {
	t.Parallel()
	p := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 20})
	p.Psql(t, "postgres", "CREATE ROLE app LOGIN; CREATE ROLE watcher LOGIN; CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0); GRANT ALL ON t TO app")
	t.Run("states groups and blocked_by", func(t *testing.T) { testStatesAndGroups(t, p) })
	t.Run("non-privileged role sees hidden rows", func(t *testing.T) { testHiddenRows(t, p) })
	t.Run("db filter", func(t *testing.T) { testDBFilter(t, p) })
	t.Run("jobs capacity", func(t *testing.T) { testJobs(t, p) })
	t.Run("names roles and databases created after it started", func(t *testing.T) { testLateNames(t, p) })
	t.Run("leaves its own jobs connection out", func(t *testing.T) { testOwnJobsConnection(t, p) })
	t.Run("reconnects after its backend is terminated", func(t *testing.T) { testReconnect(t, p) })
	t.Run("probe sees 53300 while the collector keeps working", func(t *testing.T) { testProbeExhausted(t, p) })
	t.Run("unreachable server and bad DSN", testPGErrors)
}

// hold opens a connection named app and closes it when the test ends.
func hold(t *testing.T, dsn, app string) *pgx.Conn {
	t.Helper()
	conn, err := holdConn(dsn, app)
	if err != nil {
		t.Fatalf("open a %s session: %v", app, err)
	}
	return conn
}

func holdConn(dsn, app string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cc.RuntimeParams["application_name"] = app
	return pgx.ConnectConfig(ctx, cc)
}

func closeAll(conns ...*pgx.Conn) {
	for _, c := range conns {
		_ = c.Close(context.Background())
	}
}

// exec runs sql on conn in the background (it is expected to block) and
// cancels it when the test ends.
func execBackground(t *testing.T, conn *pgx.Conn, sql string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = conn.Exec(ctx, sql)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		closeAll(conn)
	})
}

// collectUntil runs CollectOnce until ok accepts the snapshot (10 s at most).
func collectUntil(t *testing.T, cfg Config, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := CollectOnce(context.Background(), cfg)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			out, _ := json.MarshalIndent(s, "", " ")
			t.Fatalf("the snapshot never reached the expected state; last one:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// withoutPsql counts the sessions and states besides those of psql, which
// the tests use for setup, and of an earlier collection: their backends may
// still be exiting.
func withoutPsql(pg *PGStats) (int, map[string]int) {
	total, byState := 0, map[string]int{}
	for i := range pg.Sessions {
		if app := pg.Sessions[i].ApplicationName; app != "psql" && !strings.HasPrefix(app, "slotwatch") {
			total++
			byState[sessionState(&pg.Sessions[i])]++
		}
	}
	return total, byState
}

func sessionsOf(pg *PGStats, app string) []Session {
	var out []Session
	for _, s := range pg.Sessions {
		if s.ApplicationName == app {
			out = append(out, s)
		}
	}
	return out
}

func groupOf(pg *PGStats, app string) *SessionGroup {
	for i := range pg.Groups {
		if pg.Groups[i].ApplicationName == app {
			return &pg.Groups[i]
		}
	}
	return nil
}

func testStatesAndGroups(t *testing.T, p *testserver.Postgres) {
	dsn := p.DSNFor("app", "postgres")
	var idle []*pgx.Conn
	for range 3 {
		idle = append(idle, hold(t, dsn, "web-idle"))
	}
	defer closeAll(idle...)
	ctx := context.Background()
	var iit []*pgx.Conn
	for range 2 {
		c := hold(t, dsn, "web-iit")
		if _, err := c.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
			t.Fatal(err)
		}
		iit = append(iit, c)
	}
	defer closeAll(iit...)
	execBackground(t, hold(t, dsn, "web-active"), "SELECT pg_sleep(60)")
	locker := hold(t, dsn, "locker")
	defer closeAll(locker)
	if _, err := locker.Exec(ctx, "BEGIN; UPDATE t SET v = v + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	execBackground(t, hold(t, dsn, "waiter"), "UPDATE t SET v = v + 1 WHERE id = 1")

	cfg := Config{PG: &PGConfig{DSN: p.DSN}}
	s := collectUntil(t, cfg, func(s Snapshot) bool {
		pg := s.Postgres
		return pg != nil && len(s.Errors) == 0 && pg.Waiting == 1 &&
			len(sessionsOf(pg, "web-active")) == 1 && sessionsOf(pg, "web-active")[0].State == "active"
	})
	pg := s.Postgres
	if pg.MaxConnections != 20 || pg.SuperuserReservedConnections != 3 || pg.Usable() != 17 || pg.ServerVersionNum < 120000 {
		t.Errorf("settings = max %d, superuser reserved %d, usable %d, version %d; want 20, 3, 17, >= 12",
			pg.MaxConnections, pg.SuperuserReservedConnections, pg.Usable(), pg.ServerVersionNum)
	}
	want := map[string]struct {
		total int
		state string
	}{"web-idle": {3, "idle"}, "web-iit": {2, "idle in transaction"}, "web-active": {1, "active"},
		"locker": {1, "idle in transaction"}, "waiter": {1, "active"}}
	for app, w := range want {
		g := groupOf(pg, app)
		if g == nil || g.Total != w.total || g.ByState[w.state] != w.total || g.Usename != "app" || g.Datname != "postgres" || g.ClientAddr != "" {
			t.Errorf("group %s = %+v, want %d sessions %s of app on postgres, not split by client", app, g, w.total, w.state)
		}
	}
	if pg.Groups[0].ApplicationName != "web-idle" || pg.Groups[1].ApplicationName != "web-iit" {
		t.Errorf("groups are not ranked by connections held: %s, %s first", pg.Groups[0].ApplicationName, pg.Groups[1].ApplicationName)
	}
	if g := groupOf(pg, "web-idle"); g.OldestIdleSeconds <= 0 || g.OldestBackendSeconds < g.OldestIdleSeconds {
		t.Errorf("web-idle oldest idle %.3f s, oldest backend %.3f s: want 0 < idle <= backend", g.OldestIdleSeconds, g.OldestBackendSeconds)
	}
	waiter, lockerS := sessionsOf(pg, "waiter")[0], sessionsOf(pg, "locker")[0]
	if waiter.WaitEventType != "Lock" || waiter.WaitEvent != "transactionid" || !slices.Equal(waiter.BlockedBy, []int32{int32(locker.PgConn().PID())}) {
		t.Errorf("waiter waits on %s/%s blocked by %v; want Lock/transactionid blocked by [%d]",
			waiter.WaitEventType, waiter.WaitEvent, waiter.BlockedBy, locker.PgConn().PID())
	}
	if lockerS.PID != int32(locker.PgConn().PID()) || lockerS.XactSeconds <= 0 || lockerS.BlockedBy == nil || len(lockerS.BlockedBy) != 0 ||
		!strings.Contains(lockerS.Query, "UPDATE t") || lockerS.BackendStart.IsZero() {
		t.Errorf("locker session = %+v; want its pid, an open transaction, no blockers and its last query", lockerS)
	}
	for _, sess := range pg.Sessions {
		if sess.ApplicationName == "slotwatch" || sess.Hidden {
			t.Errorf("unexpected session %+v: the collector's own backend must be left out and a superuser sees every row", sess)
		}
	}
	// The counts are exactly those of pg_stat_activity (psql's own session
	// and the collector's excepted).
	rows := p.Psql(t, "postgres", `SELECT state || '=' || count(*) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND application_name NOT IN ('psql', 'slotwatch') GROUP BY state ORDER BY state`)
	total, byState := withoutPsql(pg)
	var got []string
	for _, state := range slices.Sorted(maps.Keys(byState)) {
		got = append(got, fmt.Sprintf("%s=%d", state, byState[state]))
	}
	if strings.Join(got, "\n") != rows {
		t.Errorf("by_state = %v, pg_stat_activity says %q", got, rows)
	}
	if total != 8 || pg.Total != len(pg.Sessions) {
		t.Errorf("total = %d (%d sessions, %d besides psql's), want the 8 sessions held", pg.Total, len(pg.Sessions), total)
	}
	sum := 0
	for _, n := range pg.ByState {
		sum += n
	}
	if sum != pg.Total {
		t.Errorf("by_state adds up to %d, total is %d", sum, pg.Total)
	}
}

func testHiddenRows(t *testing.T, p *testserver.Postgres) {
	other := hold(t, p.DSNFor("app", "postgres"), "other-role")
	defer closeAll(other)
	mine := hold(t, p.DSNFor("watcher", "postgres"), "watcher-own")
	defer closeAll(mine)

	cfg := Config{PG: &PGConfig{DSN: p.DSNFor("watcher", "postgres")}}
	s := collectUntil(t, cfg, func(s Snapshot) bool {
		return s.Postgres != nil && len(sessionsOf(s.Postgres, "other-role")) == 1 && len(sessionsOf(s.Postgres, "watcher-own")) == 1
	})
	pg := s.Postgres
	hidden := sessionsOf(pg, "other-role")[0]
	if !hidden.Hidden || hidden.State != "" || hidden.Query != "<insufficient privilege>" || hidden.Usename != "app" || hidden.PID != int32(other.PgConn().PID()) {
		t.Errorf("another role's session seen by a non-privileged role = %+v; want it kept, marked hidden, with pid and user", hidden)
	}
	if g := groupOf(pg, "other-role"); g == nil || g.ByState[HiddenState] != 1 {
		t.Errorf("group of the hidden session = %+v, want by_state[%q] = 1", g, HiddenState)
	}
	if pg.HiddenSessions == 0 || pg.Role != "watcher" || pg.ReadsAllStats ||
		!strings.Contains(pg.PrivilegeGap(), "hidden from role watcher: GRANT pg_monitor TO watcher") {
		t.Errorf("hidden %d, role %q, reads all stats %v, gap %q; want the hidden rows counted for role watcher with the grant named",
			pg.HiddenSessions, pg.Role, pg.ReadsAllStats, pg.PrivilegeGap())
	}
	own := sessionsOf(pg, "watcher-own")[0]
	if own.Hidden || own.State != "idle" {
		t.Errorf("the role's own session = %+v, want fully visible and idle", own)
	}
	// A superuser counts the same client backends. Only this test's own
	// are compared: an earlier test's backends may still be exiting.
	superuser := CollectOnce(context.Background(), Config{PG: &PGConfig{DSN: p.DSN}})
	ours := func(pg *PGStats) int { return len(sessionsOf(pg, "other-role")) + len(sessionsOf(pg, "watcher-own")) }
	if superTotal, total := ours(superuser.Postgres), ours(pg); superTotal != total || total != 2 || pg.ByState[HiddenState] == 0 {
		t.Errorf("non-privileged total %d (hidden %d), superuser total %d: hidden rows must be counted, not dropped\n%+v\n%+v",
			pg.Total, pg.ByState[HiddenState], superuser.Postgres.Total, pg.Sessions, superuser.Postgres.Sessions)
	}
}

func testDBFilter(t *testing.T, p *testserver.Postgres) {
	p.Psql(t, "postgres", "CREATE DATABASE other")
	c := hold(t, p.DSNFor("app", "other"), "in-other")
	defer closeAll(c)
	all := collectUntil(t, Config{PG: &PGConfig{DSN: p.DSN}}, func(s Snapshot) bool {
		return s.Postgres != nil && len(sessionsOf(s.Postgres, "in-other")) == 1
	})
	if all.Postgres.Total < 1 {
		t.Fatalf("the unfiltered sample should list the session in other: %+v", all.Postgres.Sessions)
	}
	// Compare databases, not totals: backends of earlier subtests may still
	// be exiting between the two samples.
	filtered := CollectOnce(context.Background(), Config{PG: &PGConfig{DSN: p.DSN, DB: "postgres"}})
	for _, s := range filtered.Postgres.Sessions {
		if s.Datname != "postgres" {
			t.Errorf("--db postgres still shows a session of database %q: %+v", s.Datname, s)
		}
	}
	if filtered.Postgres.Total != len(filtered.Postgres.Sessions) {
		t.Errorf("--db postgres: total %d but %d sessions listed", filtered.Postgres.Total, len(filtered.Postgres.Sessions))
	}
	none := CollectOnce(context.Background(), Config{PG: &PGConfig{DSN: p.DSN, DB: "nosuchdb"}})
	if msg := none.Errors[SourcePostgres]; none.Postgres != nil ||
		!strings.Contains(msg, fmt.Sprintf("database nosuchdb does not exist on 127.0.0.1:%d; watch one of ", p.Port)) || !strings.Contains(msg, "other") {
		t.Errorf("--db nosuchdb gave %+v, error %q; want no data and the error naming the databases there", none.Postgres, msg)
	}
	only := CollectOnce(context.Background(), Config{PG: &PGConfig{DSN: p.DSN, DB: "other"}})
	if only.Postgres.Total != 1 || only.Postgres.Sessions[0].Datname != "other" {
		t.Errorf("--db other shows %d sessions, want the one in other", only.Postgres.Total)
	}
}

func testJobs(t *testing.T, p *testserver.Postgres) {
	p.Psql(t, "postgres", "CREATE DATABASE talentflow")
	schema, err := os.ReadFile(filepath.Join("..", "testdata", "talentflow", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	p.Psql(t, "talentflow", string(schema))
	p.Psql(t, "talentflow", `INSERT INTO jobs (id, title, max_applications) VALUES (12345, 'Senior Backend Engineer', 3), (20001, 'Data Engineer', 10);
		INSERT INTO candidates (name, email) SELECT 'c' || g, g || '@x' FROM generate_series(1, 6) g;
		INSERT INTO applications (job_id, candidate_id) SELECT 12345, g FROM generate_series(1, 5) g;
		INSERT INTO applications (job_id, candidate_id) SELECT 20001, g FROM generate_series(1, 2) g`)
	dsn := p.DSNFor("postgres", "talentflow")

	s := CollectOnce(context.Background(), Config{Jobs: &JobsConfig{DSN: dsn}})
	want := []JobCapacity{{ID: "12345", Label: "Senior Backend Engineer", Count: 5, Limit: 3, Excess: 2}}
	if s.Errors[SourceJobs] != "" || s.Jobs == nil || !slices.Equal(s.Jobs.OverCapacity, want) {
		t.Fatalf("jobs = %+v, errors %v; want %+v", s.Jobs, s.Errors, want)
	}

	uuidQuery := `SELECT gen_random_uuid() AS id, 'uuid job' AS label, 7 AS count, 5 AS "limit";`
	s = CollectOnce(context.Background(), Config{Jobs: &JobsConfig{DSN: dsn, Query: uuidQuery}})
	if s.Jobs == nil || len(s.Jobs.OverCapacity) != 1 || len(s.Jobs.OverCapacity[0].ID) != 36 || s.Jobs.OverCapacity[0].Excess != 2 {
		t.Errorf("a uuid id must be rendered as text: %+v, %v", s.Jobs, s.Errors)
	}

	s = CollectOnce(context.Background(), Config{Jobs: &JobsConfig{DSN: dsn, Query: "SELECT id, title AS label, 1 AS count FROM jobs"}})
	if msg := s.Errors[SourceJobs]; !strings.Contains(msg, "no column named limit") {
		t.Errorf("a query without limit gave %q, want an error naming the column", msg)
	}
	// A wrong column inside the query itself is the query's error, quoted.
	s = CollectOnce(context.Background(), Config{Jobs: &JobsConfig{DSN: dsn, Query: `SELECT id, nosuch AS label, 1 AS count, 0 AS "limit" FROM jobs`}})
	if msg := s.Errors[SourceJobs]; !strings.Contains(msg, "the jobs query on") || !strings.Contains(msg, "SQLSTATE 42703") || strings.Contains(msg, "no column named") {
		t.Errorf("a wrong column inside the query gave %q, want the server's error on the query", msg)
	}

	// The default query without the TalentFlow tables does not apply: no
	// data, no error, no STALE.
	s = CollectOnce(context.Background(), Config{PG: &PGConfig{DSN: p.DSN}, Jobs: &JobsConfig{DSN: p.DSN}})
	if _, failed := s.Errors[SourceJobs]; failed || s.Jobs != nil || s.Postgres == nil {
		t.Errorf("default query without the TalentFlow tables gave jobs %+v, errors %v; want nothing", s.Jobs, s.Errors)
	}
	s = CollectOnce(context.Background(), Config{Jobs: &JobsConfig{DSN: p.DSN, Query: "SELECT id, 'x' AS label, 1 AS count, 0 AS \"limit\" FROM missing_table"}})
	if s.Jobs != nil || !strings.Contains(s.Errors[SourceJobs], "missing_table") {
		t.Errorf("a configured query on a missing table gave %q (jobs %+v); want a failure naming the table and no data", s.Errors[SourceJobs], s.Jobs)
	}
}

func slotwatchBackends(t *testing.T, p *testserver.Postgres) []string {
	out := p.Psql(t, "postgres", "SELECT pid FROM pg_stat_activity WHERE application_name = 'slotwatch'")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func testReconnect(t *testing.T, p *testserver.Postgres) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mb := NewMailbox()
	if _, err := Start(ctx, Config{PG: &PGConfig{DSN: p.DSN, Interval: 50 * time.Millisecond}}, mb); err != nil {
		t.Fatal(err)
	}
	first := waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && len(s.Errors) == 0 })
	before := slotwatchBackends(t, p)
	if len(before) != 1 {
		t.Fatalf("slotwatch backends = %v, want exactly one connection", before)
	}
	p.Psql(t, "postgres", "SELECT pg_terminate_backend("+before[0]+")")
	failed := waitMailbox(t, mb, func(s Snapshot) bool { return s.Errors[SourcePostgres] != "" })
	if !failed.Postgres.LastGoodAt.After(first.Postgres.LastGoodAt.Add(-time.Nanosecond)) || failed.Postgres.MaxConnections != 20 {
		t.Errorf("a failed tick must keep the last good data: %+v", failed.Postgres)
	}
	waitMailbox(t, mb, func(s Snapshot) bool {
		after := slotwatchBackends(t, p)
		return len(s.Errors) == 0 && len(after) == 1 && after[0] != before[0]
	})
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for len(slotwatchBackends(t, p)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the collector's connection is still open after its context was cancelled")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMailbox takes snapshots from mb until ok accepts one (10 s at most).
func waitMailbox(t *testing.T, mb *Mailbox, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var last Snapshot
	for {
		select {
		case <-mb.Ready():
			// Several Puts share one signal: the mailbox may be empty.
			s, held := mb.Take()
			if !held {
				continue
			}
			last = s
			if ok(s) {
				return s
			}
		case <-timeout:
			out, _ := json.MarshalIndent(last, "", " ")
			t.Fatalf("no snapshot reached the expected state; last one:\n%s", out)
		}
	}
}

func testProbeExhausted(t *testing.T, p *testserver.Postgres) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	appDSN := p.DSNFor("app", "postgres")
	mb := NewMailbox()
	cfg := Config{
		PG:    &PGConfig{DSN: appDSN, Interval: 50 * time.Millisecond},
		Probe: &ProbeConfig{DSN: appDSN, Interval: 100 * time.Millisecond},
	}
	if _, err := Start(ctx, cfg, mb); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && s.Probe != nil && s.Probe.OK && len(s.Errors) == 0 })

	// Take every slot an ordinary role may take.
	var held []*pgx.Conn
	defer func() { closeAll(held...) }()
	var refusal *pgconn.PgError
	// The probe's momentary connection may hold the last slot when a hog
	// asks for it: full means refused three times in a row, between probes.
	for refusals := 0; refusals < 3 && len(held) < 25; {
		c, err := holdConn(appDSN, "hog")
		if err != nil {
			if !errors.As(err, &refusal) {
				t.Fatalf("filling the slots failed for another reason: %v", err)
			}
			refusals++
			time.Sleep(70 * time.Millisecond)
			continue
		}
		refusals = 0
		held = append(held, c)
	}
	if refusal == nil || refusal.Code != SQLStateTooManyConnections {
		t.Fatalf("the server never refused an ordinary role (held %d): %v", len(held), refusal)
	}
	exhaustedAt := time.Now()
	s := waitMailbox(t, mb, func(s Snapshot) bool {
		return s.Probe != nil && s.Probe.SampledAt.After(exhaustedAt) && s.Postgres.SampledAt.After(exhaustedAt)
	})
	if s.Probe.OK || s.Probe.SQLState != "53300" || !strings.Contains(s.Probe.Error, "remaining connection slots are reserved") {
		t.Errorf("probe = %+v; want a 53300 refusal about reserved slots", s.Probe)
	}
	if _, failed := s.Errors[SourceProbe]; failed {
		t.Errorf("a 53300 refusal is the probe's finding, not a probe failure: %v", s.Errors)
	}
	if msg := s.Errors[SourcePostgres]; msg != "" || !s.Postgres.LastGoodAt.After(exhaustedAt) {
		t.Errorf("the collector's pre-opened connection stopped working: %q", msg)
	}
	if got := len(sessionsOf(s.Postgres, "hog")); got != len(held) {
		t.Errorf("collector sees %d hog sessions, %d are held", got, len(held))
	}
	if s.Postgres.Total != s.Postgres.Usable()-1 {
		t.Errorf("total %d, want every usable slot but the collector's own (%d): %+v", s.Postgres.Total, s.Postgres.Usable()-1, s.Postgres.Groups)
	}
}

func testPGErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dead := "postgres://app:S3cretPW@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"
	s := CollectOnce(context.Background(), Config{PG: &PGConfig{DSN: dead}, Probe: &ProbeConfig{DSN: dead}, Jobs: &JobsConfig{DSN: dead, Query: "SELECT 1 AS id, '' AS label, 1 AS count, 0 AS \"limit\""}})
	wantTarget := fmt.Sprintf("127.0.0.1:%d/postgres", port)
	for _, src := range []string{SourcePostgres, SourceProbe, SourceJobs} {
		msg := s.Errors[src]
		if !strings.Contains(msg, "cannot connect to PostgreSQL at "+wantTarget) || !strings.Contains(msg, "connection refused") {
			t.Errorf("%s error for an unreachable server = %q, want a sentence naming %s", src, msg, wantTarget)
		}
	}
	if s.Postgres != nil || s.Jobs != nil {
		t.Errorf("a source that never answered has no data, only its error: postgres %+v, jobs %+v", s.Postgres, s.Jobs)
	}
	out, _ := json.Marshal(s)
	if strings.Contains(string(out), "S3cretPW") {
		t.Errorf("the password leaked into the snapshot: %s", out)
	}

	for _, bad := range []string{"postgres://app:S3cretPW@127.0.0.1:notaport/db", "host=127.0.0.1 password=S3cretPW sslmode=bogus"} {
		err := Config{PG: &PGConfig{DSN: bad}}.Validate()
		if err == nil || !strings.Contains(err.Error(), "is not valid") || strings.Contains(err.Error(), "S3cretPW") {
			t.Errorf("Validate(%q) = %v; want a clear error without the password", RedactDSN(bad), err)
		}
		if _, err := Start(context.Background(), Config{PG: &PGConfig{DSN: bad}}, NewMailbox()); err == nil {
			t.Errorf("Start accepted the invalid DSN %q", RedactDSN(bad))
		}
	}
}

// pgCount counts slotwatch's backends (application_name slotwatch%), from
// psql's own superuser connection.
func pgCount(t *testing.T, p *testserver.Postgres, app string) string {
	return p.Psql(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '"+app+"'")
}

// waitPGCount waits until slotwatch holds want backends named like app.
func waitPGCount(t *testing.T, p *testserver.Postgres, app, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := pgCount(t, p, app)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s backends: %s, want %s", app, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const oneJobQuery = `SELECT 7 AS id, 'job' AS label, 3 AS count, 2 AS "limit"`

func testOwnJobsConnection(t *testing.T, p *testserver.Postgres) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mb := NewMailbox()
	// Same DSN: the jobs query runs on the collector's connection.
	cfg := Config{PG: &PGConfig{DSN: p.DSN, Interval: 50 * time.Millisecond}, Jobs: &JobsConfig{DSN: p.DSN, Query: oneJobQuery, Interval: 50 * time.Millisecond}}
	if _, err := Start(ctx, cfg, mb); err != nil {
		t.Fatal(err)
	}
	s := waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && s.Jobs != nil && len(s.Errors) == 0 })
	if s.Postgres.OwnConnections != 1 || len(s.Jobs.OverCapacity) != 1 || pgCount(t, p, "slotwatch%") != "1" {
		t.Errorf("with jobs on the pg DSN: own_connections %d, jobs %+v, %s slotwatch backends; want one connection for both",
			s.Postgres.OwnConnections, s.Jobs, pgCount(t, p, "slotwatch%"))
	}
	cancel()
	waitPGCount(t, p, "slotwatch%", "0")

	// Another DSN (another database): its own connection, left out and counted.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	mb = NewMailbox()
	cfg.Jobs.DSN = p.DSNFor("postgres", "template1")
	if _, err := Start(ctx, cfg, mb); err != nil {
		t.Fatal(err)
	}
	s = waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && s.Postgres.OwnConnections == 2 })
	if got := sessionsOf(s.Postgres, "slotwatch-jobs"); len(got) != 0 {
		t.Errorf("the jobs collector's own connection is listed: %+v", got)
	}
	if n := pgCount(t, p, "slotwatch-jobs"); n != "1" {
		t.Errorf("the jobs collector holds %s connections, want 1", n)
	}
	cancel()
	waitPGCount(t, p, "slotwatch%", "0")

	// The default query where its tables do not exist takes no slot at all.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	mb = NewMailbox()
	cfg.Jobs.Query = ""
	if _, err := Start(ctx, cfg, mb); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil })
	waitPGCount(t, p, "slotwatch-jobs", "0")
	// A sample taken after the jobs backend left, not one republished
	// with the jobs result.
	gone := time.Now()
	s = waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && s.Postgres.SampledAt.After(gone) })
	if _, failed := s.Errors[SourceJobs]; failed || s.Jobs != nil || s.Postgres.OwnConnections != 1 {
		t.Errorf("jobs without its tables: jobs %+v, errors %v, own %d; want nothing and one connection", s.Jobs, s.Errors, s.Postgres.OwnConnections)
	}
	cancel()
	waitPGCount(t, p, "slotwatch%", "0")
}

func testLateNames(t *testing.T, p *testserver.Postgres) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mb := NewMailbox()
	if _, err := Start(ctx, Config{PG: &PGConfig{DSN: p.DSN, Interval: 50 * time.Millisecond}}, mb); err != nil {
		t.Fatal(err)
	}
	waitMailbox(t, mb, func(s Snapshot) bool { return s.Postgres != nil && len(s.Errors) == 0 })
	p.Psql(t, "postgres", "CREATE ROLE latecomer LOGIN")
	p.Psql(t, "postgres", "CREATE DATABASE latedb")
	c := hold(t, p.DSNFor("latecomer", "latedb"), "late")
	defer closeAll(c)
	s := waitMailbox(t, mb, func(s Snapshot) bool { return len(sessionsOf(s.Postgres, "late")) == 1 })
	if late := sessionsOf(s.Postgres, "late")[0]; late.Usename != "latecomer" || late.Datname != "latedb" {
		t.Errorf("a session of a new role on a new database is named %q on %q", late.Usename, late.Datname)
	}
}
