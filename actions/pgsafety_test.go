package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/slotwatch/slotwatch/internal/testserver"
)

// holdN opens n idle sessions as user with application_name app and
// returns them by pid.
func (f *pgFixture) holdN(t *testing.T, n int, user, app string) map[int32]*pgx.Conn {
	t.Helper()
	out := map[int32]*pgx.Conn{}
	for range n {
		c := f.hold(t, user, app)
		out[pidOf(c)] = c
	}
	return out
}

func closeAll(conns map[int32]*pgx.Conn) {
	for _, c := range conns {
		_ = c.Close(context.Background())
	}
}

func resultsByID(rs []TargetResult) map[int64]TargetResult {
	out := map[int64]TargetResult{}
	for _, r := range rs {
		out[r.ID] = r
	}
	return out
}

// testRenameMidBatch: a session renamed to a protected application between
// the preview and the execute, or while the batches before its own are being
// signalled, survives — every time. The policy is re-checked only by the
// signalling statement here (the plan's copy still says talentflow-web), so
// this is that statement's check at work.
func (f *pgFixture) testRenameMidBatch(t *testing.T) {
	ctx := context.Background()
	runner := newTestRunner(t, f.srv.DSNFor("postgres", "talentflow"))
	policy := DefaultPolicy()
	policy.BatchSize, policy.BatchInterval = 1, 0
	policy.ProtectedApps = append(policy.ProtectedApps, "etl-*")
	svc := NewService(NewPGDriver(runner), nil, policy, nil, Operator{User: "t"})
	for rep := range 20 {
		conns := f.holdN(t, 3, "renamer", "talentflow-web")
		plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{User: "renamer", States: []string{"idle"}}})
		if err != nil || len(plan.Targets) != 3 {
			t.Fatalf("rep %d: preview %v, %v", rep, plan.PIDs(), err)
		}
		first, middle, last := plan.Targets[0].PID, plan.Targets[1].PID, plan.Targets[2].PID
		if _, err := conns[first].Exec(ctx, "SET application_name = 'pg_dump'"); err != nil {
			t.Fatal(err)
		}
		runner.setHook(func(call int) {
			if call == 3 { // the last target's batch, after two were signalled
				if _, err := conns[last].Exec(ctx, "SET application_name = 'etl-nightly'"); err != nil {
					t.Error(err)
				}
			}
		})
		report, err := svc.ExecuteSessions(ctx, plan)
		runner.setHook(nil)
		if err != nil {
			t.Fatal(err)
		}
		res := resultsByID(report.Results)
		for _, pid := range []int32{first, last} {
			if r := res[int64(pid)]; r.Outcome != Skipped || !strings.Contains(r.Reason, "protected now: protected application") {
				t.Fatalf("rep %d: renamed pid %d: %+v, want skipped as protected now", rep, pid, r)
			}
		}
		if r := res[int64(middle)]; r.Outcome != Done {
			t.Fatalf("rep %d: pid %d: %+v, want done", rep, middle, r)
		}
		if got := f.alive(t, first, middle, last); !slices.Equal(sorted(got...), sorted(first, last)) {
			t.Fatalf("rep %d: alive %v, want the renamed %d and %d", rep, got, first, last)
		}
		closeAll(conns)
	}
}

// testSignalRechecksPolicy calls the driver directly with forged targets:
// the statement itself refuses the own backend, a superuser's session and a
// non-client backend.
func (f *pgFixture) testSignalRechecksPolicy(t *testing.T) {
	ctx := context.Background()
	pg := NewPGDriver(newTestRunner(t, f.srv.DSNFor("postgres", "talentflow")))
	super := f.hold(t, "postgres", "talentflow-admin")
	all, err := pg.Backends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var own, superB, checkpointer Backend
	for _, b := range all {
		switch {
		case b.Own:
			own = b
		case b.PID == pidOf(super):
			superB = b
		case b.BackendType == "checkpointer":
			checkpointer = b
		}
	}
	if own.PID == 0 || own.PID != pg.OwnPID() || superB.PID == 0 || checkpointer.PID == 0 {
		t.Fatalf("own %+v (driver says %d), superuser %+v, checkpointer %+v", own, pg.OwnPID(), superB, checkpointer)
	}
	protect := DefaultPolicy().compile().protection()
	res, err := pg.Signal(ctx, Terminate, []Backend{own, superB, checkpointer}, SessionFilter{}, protect)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]string{own.PID: "the console's own connection", superB.PID: "superuser session", checkpointer.PID: "not a client backend (checkpointer)"}
	for _, r := range res {
		if r.Outcome != Skipped || !strings.Contains(r.Reason, want[int32(r.ID)]) {
			t.Errorf("pid %d: %+v, want skipped: %s", r.ID, r, want[int32(r.ID)])
		}
	}
	if got := f.alive(t, own.PID, superB.PID, checkpointer.PID); len(got) != 3 {
		t.Fatalf("alive %v, want all three", got)
	}
	allow := DefaultPolicy()
	allow.AllowSuperuser = true
	res, err = pg.Signal(ctx, Terminate, []Backend{superB}, SessionFilter{}, allow.compile().protection())
	if err != nil || res[0].Outcome != Done || f.alive(t, superB.PID) != nil {
		t.Fatalf("with allow_superuser: %+v, %v", res, err)
	}
}

// testInterrupted: the context ends while the first batch is in flight. That
// batch is finished and verified, the rest is not attempted, and the audit
// log holds the intent (written before any signal) and the true result.
func (f *pgFixture) testInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conns := f.holdN(t, 5, "web", "talentflow-interrupt")
	defer closeAll(conns)
	runner := newTestRunner(t, f.srv.DSNFor("postgres", "talentflow"))
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	policy := DefaultPolicy()
	policy.BatchSize = 2
	svc := NewService(NewPGDriver(runner), nil, policy, audit, Operator{User: "t"})
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "talentflow-interrupt"}})
	if err != nil || len(plan.Targets) != 5 {
		t.Fatalf("preview %v, %v", plan.PIDs(), err)
	}
	var onDisk []AuditEntry
	runner.setHook(func(call int) {
		if call == 1 {
			onDisk = readAudit(t, path)
			cancel() // SIGTERM arrives with the first batch in flight
		}
	})
	report, err := svc.ExecuteSessions(ctx, plan)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want interrupted", err)
	}
	if len(onDisk) != 1 || onDisk[0].Phase != PhaseIntent || len(onDisk[0].Previewed) != 5 {
		t.Fatalf("audit before the first signal = %+v, want the intent with 5 targets", onDisk)
	}
	res := resultsByID(report.Results)
	first := plan.Targets[:2]
	for _, b := range first {
		if r := res[int64(b.PID)]; r.Outcome != Done {
			t.Errorf("in-flight pid %d: %+v, want done", b.PID, r)
		}
	}
	for _, b := range plan.Targets[2:] {
		if r := res[int64(b.PID)]; r.Outcome != Skipped || r.Reason != "not attempted: interrupted" {
			t.Errorf("pid %d: %+v, want not attempted", b.PID, r)
		}
	}
	if got := f.alive(t, plan.PIDs()...); len(got) != 3 || slices.Contains(got, first[0].PID) || slices.Contains(got, first[1].PID) {
		t.Fatalf("alive %v, want exactly the 3 not attempted", got)
	}
	es := readAudit(t, path)
	last := es[len(es)-1]
	if last.Phase != PhaseResult || len(last.Done) != 2 || len(last.Skipped) != 3 || len(last.Failed) != 0 || !strings.Contains(last.Error, "interrupted") {
		t.Fatalf("result line %+v", last)
	}
}

// testTwoOperators: kim terminates first; sam's plan, previewed before,
// finds the sessions gone and says who terminated them. Then both act on
// the same sessions at the same time over two connections: nothing fails
// and every session is terminated once.
func (f *pgFixture) testTwoOperators(t *testing.T) {
	ctx := context.Background()
	audit, err := OpenAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	base := NewService(NewPGDriver(newTestRunner(t, f.srv.DSNFor("postgres", "talentflow"))), nil, DefaultPolicy(), audit, Operator{})
	kim := base.WithOperator(Operator{User: "kim", Fingerprint: "SHA256:kim", SSHClient: "10.0.0.7"})
	sam := base.WithOperator(Operator{User: "sam", Fingerprint: "SHA256:sam", SSHClient: "10.0.0.8"})
	conns := f.holdN(t, 3, "web", "talentflow-twice")
	defer closeAll(conns)
	req := SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "talentflow-twice"}}
	samPlan, err := sam.PreviewSessions(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	kimPlan, err := kim.PreviewSessions(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := kim.ExecuteSessions(ctx, kimPlan); err != nil || Counts(r.Results)[Done] != 3 {
		t.Fatalf("kim: %+v, %v", r.Results, err)
	}
	r, err := sam.ExecuteSessions(ctx, samPlan)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range r.Results {
		if x.Outcome != Gone || !strings.HasPrefix(x.Reason, "already terminated by kim at ") {
			t.Fatalf("sam: %+v, want already terminated by kim", x)
		}
	}
	es := audit.Recent(10)
	if op := es[len(es)-1].Operator; op.User != "sam" || op.Fingerprint != "SHA256:sam" || op.SSHClient != "10.0.0.8" {
		t.Fatalf("operator in the audit line = %+v", op)
	}

	conns = f.holdN(t, 10, "web", "talentflow-race")
	defer closeAll(conns)
	other := NewService(NewPGDriver(newTestRunner(t, f.srv.DSNFor("postgres", "talentflow"))), nil, DefaultPolicy(), audit, Operator{User: "sam"})
	req.Filter.App = "talentflow-race"
	var reports [2]SessionReport
	var errs [2]error
	var wg sync.WaitGroup
	svcs := []*Service{kim, other}
	var plans [2]SessionPlan
	for i, svc := range svcs {
		var err error
		if plans[i], err = svc.PreviewSessions(ctx, req); err != nil || len(plans[i].Targets) != 10 {
			t.Fatalf("service %d: preview %v, %v", i, plans[i].PIDs(), err)
		}
	}
	for i, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], errs[i] = svc.ExecuteSessions(ctx, plans[i])
		}()
	}
	wg.Wait()
	done := map[int64]int{}
	for i, rep := range reports {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		for _, x := range rep.Results {
			if x.Outcome != Done && x.Outcome != Gone {
				t.Fatalf("concurrent terminate: %+v", x)
			}
			if x.Outcome == Done {
				done[x.ID]++
			}
		}
	}
	if len(done) != 10 {
		t.Fatalf("terminated %v, want every one of the 10 by one of the operators", done)
	}
	pids := make([]int32, 0, len(conns))
	for pid := range conns {
		pids = append(pids, pid)
	}
	if got := f.alive(t, pids...); len(got) != 0 {
		t.Fatalf("still alive: %v", got)
	}
}

// TestConnectErrorFullServer fills a server's ordinary slots, then its
// reserved ones, and checks the advice for each 53300: the ordinary role is
// pointed at reserved slots, the superuser is never told to become one, and
// the server's own message is quoted.
func TestConnectErrorFullServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	t.Parallel()
	srv := testserver.StartPostgres(t, testserver.PGOptions{MaxConnections: 5, SuperuserReservedConns: 2})
	srv.Psql(t, "postgres", "CREATE ROLE app LOGIN")
	ctx := context.Background()
	// fill takes slots as user until the server refuses with 53300. Any
	// other failure (a busy machine's server still starting up, a refused
	// backend still holding its slot for a moment) is retried: only a
	// refusal for want of slots proves the server is full for user.
	fill := func(user string) error {
		held := 0
		for attempt := 0; held < 10 && attempt < 200; attempt++ {
			c, err := pgx.Connect(ctx, srv.DSNFor(user, "postgres"))
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr) && pgErr.Code == "53300":
				return err
			case err != nil:
				time.Sleep(20 * time.Millisecond)
				continue
			}
			held++
			t.Cleanup(func() { _ = c.Close(context.Background()) })
		}
		return fmt.Errorf("%d %s connections fit", held, user)
	}
	if err := fill("app"); err == nil {
		t.Fatal("no refusal")
	}
	_, err := DialPostgres(ctx, srv.DSNFor("app", "postgres"))
	if err == nil || !strings.Contains(err.Error(), "only reserved slots are left and app may not use them") ||
		!strings.Contains(err.Error(), "reserved") || !strings.Contains(err.Error(), "SQLSTATE 53300") {
		t.Fatalf("ordinary role: %v", err)
	}
	if err := fill("postgres"); err == nil {
		t.Fatal("no refusal")
	}
	_, err = DialPostgres(ctx, srv.DSN)
	if err == nil || !strings.Contains(err.Error(), "no connection slot left at all") || strings.Contains(err.Error(), "connect as") ||
		!strings.Contains(err.Error(), "too many clients") {
		t.Fatalf("superuser: %v", err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "53300" {
		t.Fatalf("the driver's error is not kept for errors.As: %v", err)
	}
}

// testBorrowedReconnect: someone terminates the console's connection; the
// runner reconnects on next use and the driver knows its new backend, so
// the policy still protects it.
func (f *pgFixture) testBorrowedReconnect(t *testing.T) {
	ctx := context.Background()
	runner := newTestRunner(t, f.srv.DSNFor("postgres", "talentflow"))
	pg := NewPGDriver(runner)
	svc := NewService(pg, nil, DefaultPolicy(), nil, Operator{User: "t"})
	if _, err := pg.Backends(ctx); err != nil {
		t.Fatal(err)
	}
	old := pg.OwnPID()
	if _, err := f.admin.Exec(ctx, "SELECT pg_terminate_backend($1)", old); err != nil {
		t.Fatal(err)
	}
	for range 100 { // until the backend is gone
		if f.alive(t, old) == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, _ = pg.Backends(ctx) // the broken connection fails once; the runner then reconnects
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "slotwatch"}})
	if err != nil {
		t.Fatal(err)
	}
	own := pg.OwnPID()
	if own == old || own == 0 || len(plan.Targets) != 0 {
		t.Fatalf("own pid %d (was %d), targets %v", own, old, plan.PIDs())
	}
	if !slices.ContainsFunc(plan.Excluded, func(x Exclusion) bool { return x.Backend.PID == own && x.Reason == "the console's own connection" }) {
		t.Fatalf("the new own backend is not excluded as the console's: %+v", plan.Excluded)
	}
}

// testStillRunning: a backend that cannot act on SIGTERM yet (stopped with
// SIGSTOP, as a backend stuck in the kernel would be) is reported as still
// running after the terminate timeout, not as done; once it runs again it
// exits.
func (f *pgFixture) testStillRunning(t *testing.T) {
	ctx := context.Background()
	conn := f.hold(t, "web", "talentflow-stuck")
	pid := pidOf(conn)
	proc, err := os.FindProcess(int(pid))
	if err == nil {
		err = proc.Signal(syscall.SIGSTOP)
	}
	if err != nil {
		t.Skipf("cannot stop the backend process (the server runs as another user): %v", err)
	}
	defer func() { _ = proc.Signal(syscall.SIGCONT) }()
	pg := NewPGDriver(newTestRunner(t, f.srv.DSNFor("postgres", "talentflow")))
	pg.TerminateTimeout = 300 * time.Millisecond
	svc := NewService(pg, nil, DefaultPolicy(), nil, Operator{User: "t"})
	plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "talentflow-stuck"}})
	if err != nil || len(plan.Targets) != 1 {
		t.Fatalf("preview %v, %v", plan.PIDs(), err)
	}
	report, err := svc.ExecuteSessions(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if r := report.Results[0]; r.Outcome != Failed || !strings.HasPrefix(r.Reason, "still running after 300ms") {
		t.Fatalf("stuck backend: %+v, want failed: still running after 300ms", r)
	}
	_ = proc.Signal(syscall.SIGCONT)
	for range 200 {
		if f.alive(t, pid) == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the backend did not exit once it could act on the terminate")
}
