package actions

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// pgFixture is one throwaway server shared by the subtests of TestPostgres.
type pgFixture struct {
	srv   *testserver.Postgres
	admin *pgx.Conn // test-side checks, not the code under test
}

// newPGFixture starts a throwaway server with max_connections 40, runs
// roles (the suite's CREATE ROLE statements) and creates database
// talentflow, and opens the test's own admin connection.
func newPGFixture(t *testing.T, roles string) *pgFixture {
	t.Helper()
	srv := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 40})
	srv.Psql(t, "postgres", roles)
	srv.Psql(t, "postgres", "CREATE DATABASE talentflow")
	admin, err := pgx.Connect(context.Background(), srv.DSN+"&application_name=test-admin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	return &pgFixture{srv: srv, admin: admin}
}

func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	t.Parallel()
	f := newPGFixture(t, `CREATE ROLE web LOGIN; CREATE ROLE reporting LOGIN;
		CREATE ROLE ops LOGIN; GRANT pg_read_all_stats TO ops; CREATE ROLE renamer LOGIN`)
	t.Run("preview kills nothing, execute kills exactly the targets", f.testTerminateIdleWeb)
	t.Run("session turning active between preview and execute survives", f.testBecameActive)
	t.Run("reused pid survives", f.testReusedPID)
	t.Run("own connection is never a target", f.testOwnConnection)
	t.Run("cancel on idle says terminate, cancel on active cancels", f.testCancel)
	t.Run("missing pg_signal_backend is named", f.testMissingPrivilege)
	t.Run("read-only refuses", f.testReadOnly)
	t.Run("limit and batches", f.testLimitAndBatches)
	t.Run("empty filter is refused", f.testEmptyFilter)
	t.Run("session turning protected after the preview survives", f.testBecameProtected)
	t.Run("globs mean the same in PostgreSQL", f.testGlobAgreement)
	t.Run("guards set, show and revert step by step", f.testGuards)
	t.Run("renamed to a protected application mid-action survives, every time", f.testRenameMidBatch)
	t.Run("the signalling statement re-checks the whole policy", f.testSignalRechecksPolicy)
	t.Run("interrupted mid-batch records true outcomes", f.testInterrupted)
	t.Run("two operators on the same sessions", f.testTwoOperators)
	t.Run("borrowed connection terminated, reconnected", f.testBorrowedReconnect)
	t.Run("a backend that does not exit is still running after the timeout", f.testStillRunning)
}

// hold opens a session as user with application_name app and runs setup.
func (f *pgFixture) hold(t *testing.T, user, app string, setup ...string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.srv.DSNFor(user, "talentflow")+"&application_name="+app)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	for _, sql := range setup {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return conn
}

// holdActive starts a long query on a new session and returns its pid. At
// cleanup the backend is terminated and the query goroutine awaited before
// the connection is closed.
func (f *pgFixture) holdActive(t *testing.T, user, app string) int32 {
	t.Helper()
	conn := f.hold(t, user, app)
	pid := int32(conn.PgConn().PID())
	done := runAsync(conn, "SELECT pg_sleep(60)")
	f.waitState(t, pid, "active")
	t.Cleanup(func() {
		f.srv.Psql(t, "postgres", "SELECT pg_terminate_backend("+itoa(pid)+")")
		<-done
	})
	return pid
}

// runAsync runs sql on conn in a goroutine; the channel closes when it ends.
func runAsync(conn *pgx.Conn, sql string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = conn.Exec(context.Background(), sql)
	}()
	return done
}

func itoa(pid int32) string { return strconv.Itoa(int(pid)) }

func (f *pgFixture) waitState(t *testing.T, pid int32, state string) {
	t.Helper()
	for range 200 {
		var now string
		_ = f.admin.QueryRow(context.Background(), "SELECT COALESCE(state, '') FROM pg_stat_activity WHERE pid = $1", pid).Scan(&now)
		if now == state {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("pid %d never reached state %q", pid, state)
}

// alive lists which of pids are still in pg_stat_activity, in one query on
// the fixture's admin connection.
func (f *pgFixture) alive(t *testing.T, pids ...int32) []int32 {
	t.Helper()
	rows, err := f.admin.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE pid = ANY($1) ORDER BY pid", pids)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		return nil // callers test "none alive" with == nil
	}
	return out
}

func pidOf(c *pgx.Conn) int32 { return int32(c.PgConn().PID()) }

func (f *pgFixture) service(t *testing.T, user string, policy Policy) (*Service, *PGConn, string) {
	t.Helper()
	ctx := context.Background()
	pg, err := DialPostgres(ctx, f.srv.DSNFor(user, "talentflow"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close(context.Background()) })
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = audit.Close() })
	return NewService(pg, nil, policy, audit, Operator{User: "oncall", SSHClient: "10.0.0.9"}), pg, path
}

func readAudit(t *testing.T, path string) []AuditEntry {
	t.Helper()
	es, err := ReadAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func targetPIDs(p SessionPlan) []int32 {
	pids := p.PIDs()
	slices.Sort(pids)
	return pids
}

func sorted(pids ...int32) []int32 { slices.Sort(pids); return pids }

func (f *pgFixture) testTerminateIdleWeb(t *testing.T) {
	ctx := context.Background()
	web := []int32{pidOf(f.hold(t, "web", "talentflow-web")), pidOf(f.hold(t, "web", "talentflow-web")), pidOf(f.hold(t, "web", "talentflow-web"))}
	inTx := pidOf(f.hold(t, "web", "talentflow-web", "BEGIN", "SELECT 1"))
	active := f.holdActive(t, "web", "talentflow-web")
	dump := pidOf(f.hold(t, "web", "pg_dump"))
	other := pidOf(f.hold(t, "reporting", "talentflow-web"))
	super := pidOf(f.hold(t, "postgres", "talentflow-web"))
	all := append(slices.Clone(web), inTx, active, dump, other, super)
	time.Sleep(1100 * time.Millisecond)

	svc, pg, path := f.service(t, "postgres", DefaultPolicy())
	req := SessionRequest{Kind: Terminate, Filter: SessionFilter{States: []string{"idle"}, IdleOver: time.Second, User: "web", App: "talentflow-*"}}
	plan, err := svc.PreviewSessions(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := targetPIDs(plan); !slices.Equal(got, sorted(web...)) {
		t.Fatalf("targets %v, want the idle web sessions %v", got, sorted(web...))
	}
	if !strings.Contains(plan.Statement, "pg_terminate_backend(a.pid)") || !strings.Contains(plan.Statement, "a.backend_start =") ||
		!strings.Contains(plan.Statement, "pg_dump") || !strings.Contains(plan.Statement, "'client backend'") {
		t.Errorf("statement does not re-check and terminate with a timeout:\n%s", plan.Statement)
	}
	if got := f.alive(t, all...); len(got) != len(all) {
		t.Fatalf("preview killed sessions: alive %v of %v", got, all)
	}

	// A wider filter shows the policy at work: superuser and pg_dump excluded.
	wide, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{States: []string{"idle"}}})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[int32]string{}
	for _, x := range wide.Excluded {
		reasons[x.Backend.PID] = x.Reason
	}
	if !strings.Contains(reasons[super], "superuser") || !strings.Contains(reasons[dump], "protected application") {
		t.Errorf("exclusions = %v; want superuser %d and pg_dump %d excluded", reasons, super, dump)
	}
	if slices.Contains(wide.PIDs(), pg.OwnPID()) {
		t.Error("own connection is a target")
	}

	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if c := Counts(report.Results); c[Done] != 3 || len(report.Results) != 3 {
		t.Fatalf("results %+v, want 3 done", report.Results)
	}
	if got := f.alive(t, all...); !slices.Equal(sorted(got...), sorted(inTx, active, dump, other, super)) {
		t.Fatalf("alive after terminate = %v, want exactly %v", sorted(got...), sorted(inTx, active, dump, other, super))
	}
	if f.alive(t, pg.OwnPID()) == nil {
		t.Fatal("the console's own connection was terminated")
	}
	es := readAudit(t, path)
	last := es[len(es)-2:]
	if last[0].Phase != PhaseIntent || last[1].Phase != PhaseResult || last[0].ActionID != last[1].ActionID {
		t.Fatalf("audit tail = %+v, want intent then result of one action", last)
	}
	if last[1].Operator.User != "oncall" || last[1].Server != pg.Server() || len(last[1].Done) != 3 || last[1].Action != "terminate" || !last[1].Confirmed {
		t.Fatalf("result line = %+v", last[1])
	}
	if strings.Contains(last[1].Server, "@") || !strings.Contains(last[0].Predicate, "user = web") {
		t.Fatalf("intent line = %+v", last[0])
	}
}

func (f *pgFixture) testBecameActive(t *testing.T) {
	ctx := context.Background()
	conn := f.hold(t, "web", "talentflow-web")
	pid := pidOf(conn)
	svc, _, path := f.service(t, "postgres", DefaultPolicy())
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{PIDs: []int32{pid}}})
	if err != nil || len(plan.Targets) != 1 || plan.Targets[0].State != "idle" {
		t.Fatalf("preview = %+v, %v", plan, err)
	}
	done := runAsync(conn, "SELECT pg_sleep(30)")
	defer func() {
		f.srv.Psql(t, "postgres", "SELECT pg_cancel_backend("+itoa(pid)+")")
		<-done
	}()
	f.waitState(t, pid, "active")
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if r := report.Results[0]; r.Outcome != Skipped || !strings.Contains(r.Reason, `"active"`) {
		t.Fatalf("result %+v, want skipped because it is active now", r)
	}
	if f.alive(t, pid) == nil {
		t.Fatal("the session that became active was terminated")
	}
	es := readAudit(t, path)
	if res := es[len(es)-1]; len(res.Skipped) != 1 || res.Skipped[0].ID != int64(pid) || len(res.Done) != 0 {
		t.Fatalf("audit result = %+v", res)
	}
}

func (f *pgFixture) testReusedPID(t *testing.T) {
	ctx := context.Background()
	pid := pidOf(f.hold(t, "web", "talentflow-web"))
	svc, _, _ := f.service(t, "postgres", DefaultPolicy())
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{PIDs: []int32{pid}}})
	if err != nil || len(plan.Targets) != 1 {
		t.Fatalf("preview = %+v, %v", plan, err)
	}
	// As if the previewed backend had exited and a new one got its pid.
	plan.Targets[0].BackendStart = plan.Targets[0].BackendStart.Add(-time.Second)
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if r := report.Results[0]; r.Outcome != Skipped || !strings.Contains(r.Reason, "another backend") {
		t.Fatalf("result %+v, want skipped as another backend", r)
	}
	if f.alive(t, pid) == nil {
		t.Fatal("the new backend on the reused pid was terminated")
	}
}

func (f *pgFixture) testOwnConnection(t *testing.T) {
	ctx := context.Background()
	policy := DefaultPolicy()
	policy.ProtectedApps = nil
	policy.AllowSuperuser = true
	svc, pg, _ := f.service(t, "postgres", policy)
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{PIDs: []int32{pg.OwnPID()}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 0 || len(plan.Excluded) != 1 || plan.Excluded[0].Reason != "the console's own connection" {
		t.Fatalf("plan = %+v, want own connection excluded", plan)
	}
	// Even a plan forged to include it is not executed.
	plan.Targets = []Backend{plan.Excluded[0].Backend}
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if report.Results[0].Outcome != Skipped || f.alive(t, pg.OwnPID()) == nil {
		t.Fatalf("own connection: %+v", report.Results)
	}
}

func (f *pgFixture) testCancel(t *testing.T) {
	ctx := context.Background()
	idle := pidOf(f.hold(t, "web", "talentflow-cancel"))
	active := f.holdActive(t, "web", "talentflow-cancel")
	svc, _, _ := f.service(t, "postgres", DefaultPolicy())
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Cancel, Filter: SessionFilter{App: "talentflow-cancel"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.PIDs(), []int32{active}) || len(plan.Notes) == 0 || !strings.Contains(plan.Notes[0], "terminate") {
		t.Fatalf("plan targets %v notes %q, want only the active session and a note to terminate", plan.PIDs(), plan.Notes)
	}
	if !strings.Contains(plan.Statement, "pg_cancel_backend") {
		t.Errorf("statement %q", plan.Statement)
	}
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil || report.Results[0].Outcome != Done {
		t.Fatalf("cancel: %+v, %v", report.Results, err)
	}
	f.waitState(t, active, "idle")
	if got := f.alive(t, idle, active); len(got) != 2 {
		t.Fatalf("cancel closed a session: alive %v", got)
	}
}

func (f *pgFixture) testMissingPrivilege(t *testing.T) {
	ctx := context.Background()
	victim := pidOf(f.hold(t, "web", "talentflow-priv"))
	svc, _, path := f.service(t, "ops", DefaultPolicy())
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "talentflow-priv"}})
	if err != nil || len(plan.Targets) != 1 {
		t.Fatalf("preview = %+v, %v", plan, err)
	}
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	r := report.Results[0]
	if r.Outcome != Failed || !strings.Contains(r.Reason, "GRANT pg_signal_backend TO ops") {
		t.Fatalf("result %+v, want failed naming pg_signal_backend", r)
	}
	if f.alive(t, victim) == nil {
		t.Fatal("session terminated without privilege")
	}
	es := readAudit(t, path)
	if res := es[len(es)-1]; len(res.Failed) != 1 || !strings.Contains(res.Failed[0].Reason, "pg_signal_backend") {
		t.Fatalf("audit = %+v", res)
	}
}

func (f *pgFixture) testReadOnly(t *testing.T) {
	ctx := context.Background()
	pid := pidOf(f.hold(t, "web", "talentflow-ro"))
	policy := DefaultPolicy()
	policy.ReadOnly = true
	svc, _, path := f.service(t, "postgres", policy)
	_, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{PIDs: []int32{pid}}})
	if !errors.Is(err, ErrReadOnly) || !IsRefused(err) {
		t.Fatalf("preview err = %v, want ErrReadOnly", err)
	}
	_, err = svc.ExecuteSessions(ctx, SessionPlan{Request: SessionRequest{Kind: Terminate}, Targets: []Backend{{PID: pid}}})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("execute err = %v, want ErrReadOnly", err)
	}
	if f.alive(t, pid) == nil {
		t.Fatal("read-only terminated a session")
	}
	es := readAudit(t, path)
	if len(es) != 2 || es[0].Phase != PhaseRefused || !strings.Contains(es[0].Error, "read-only") {
		t.Fatalf("audit = %+v, want two refusals", es)
	}
}

func (f *pgFixture) testLimitAndBatches(t *testing.T) {
	ctx := context.Background()
	var pids []int32
	for range 5 {
		pids = append(pids, pidOf(f.hold(t, "web", "talentflow-batch")))
	}
	policy := DefaultPolicy()
	policy.BatchSize, policy.BatchInterval = 2, time.Hour
	svc, _, _ := f.service(t, "postgres", policy)
	var pauses []time.Duration
	svc.sleep = func(_ context.Context, d time.Duration) error { pauses = append(pauses, d); return nil }
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "talentflow-batch", Limit: 4}})
	if err != nil || len(plan.Targets) != 4 || len(plan.Notes) != 1 {
		t.Fatalf("plan %v notes %q err %v, want 4 targets and a limit note", plan.PIDs(), plan.Notes, err)
	}
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil || Counts(report.Results)[Done] != 4 {
		t.Fatalf("report %+v err %v", report.Results, err)
	}
	if len(pauses) != 1 || pauses[0] <= 59*time.Minute || pauses[0] > time.Hour {
		t.Fatalf("pauses %v, want one pause of what is left of the hour between two batches of 2", pauses)
	}
	if got := f.alive(t, pids...); len(got) != 1 {
		t.Fatalf("alive %v, want exactly one of %v left by the limit", got, pids)
	}
}

func (f *pgFixture) testEmptyFilter(t *testing.T) {
	svc, _, path := f.service(t, "postgres", DefaultPolicy())
	_, err := svc.PreviewSessions(context.Background(), SessionRequest{Kind: Terminate, Filter: SessionFilter{Limit: 3}})
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "never means every session") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if es := readAudit(t, path); len(es) != 1 || es[0].Phase != PhaseRefused {
		t.Fatalf("audit = %+v", es)
	}
}

// TestGlobAgreesWithPostgres runs inside TestPostgres's server: the regexp a
// glob becomes must mean the same in PostgreSQL (re-check) as in Go (preview).
func (f *pgFixture) testGlobAgreement(t *testing.T) {
	ctx := context.Background()
	conn := f.hold(t, "postgres", "glob-check")
	for _, c := range globCases {
		if c.glob == "" {
			continue // an empty filter field adds no predicate to the statement
		}
		var got bool
		if err := conn.QueryRow(ctx, "SELECT $1::text ~ $2", c.text, globRegexp(c.glob)).Scan(&got); err != nil {
			t.Fatalf("glob %q: %v", c.glob, err)
		}
		if got != c.want {
			t.Errorf("PostgreSQL: glob %q on %q = %v, want %v", c.glob, c.text, got, c.want)
		}
	}
}

func (f *pgFixture) testBecameProtected(t *testing.T) {
	ctx := context.Background()
	conn := f.hold(t, "web", "talentflow-web")
	pid := pidOf(conn)
	svc, _, path := f.service(t, "postgres", DefaultPolicy())
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{PIDs: []int32{pid}}})
	if err != nil || len(plan.Targets) != 1 {
		t.Fatalf("preview = %+v, %v", plan, err)
	}
	if _, err := conn.Exec(ctx, "SET application_name = 'pg_dump'"); err != nil {
		t.Fatal(err)
	}
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if r := report.Results[0]; r.Outcome != Skipped || !strings.Contains(r.Reason, "protected application") {
		t.Fatalf("result %+v, want skipped as protected now", r)
	}
	if f.alive(t, pid) == nil {
		t.Fatal("a session that became pg_dump was terminated")
	}
	if res := readAudit(t, path)[1]; len(res.Skipped) != 1 {
		t.Fatalf("audit %+v", res)
	}
}
