package actions

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPipelinedTerminate: SignalPipelined signals batch k+1 while batch k's
// backends are still exiting, and still settles every target on its own,
// by its (pid, backend_start) and its own deadline.
func TestPipelinedTerminate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	t.Parallel()
	f := newPGFixture(t, "CREATE ROLE web LOGIN")
	t.Run("each target settles on its own while later batches are signalled", f.testPipelinedPerTarget)
	t.Run("identity is (pid, backend_start) when signalling and when waiting", f.testPipelinedIdentity)
	t.Run("interrupted: the batch signalled is verified, no further batch starts", f.testPipelinedInterrupted)
}

// pipelineTargets opens n idle sessions of app and previews them with the
// default policy, on a driver over a test runner connected as postgres.
func (f *pgFixture) pipelineTargets(t *testing.T, n int, app string) (*PGConn, *testRunner, []Backend, map[int32]*pgx.Conn) {
	t.Helper()
	conns := f.holdN(t, n, "web", app)
	t.Cleanup(func() { closeAll(conns) })
	runner := newTestRunner(t, f.srv.DSNFor("postgres", "talentflow"))
	pg := NewPGDriver(runner)
	svc := NewService(pg, nil, DefaultPolicy(), nil, Operator{User: "t"})
	plan, err := svc.PreviewSessions(context.Background(), SessionRequest{Kind: Terminate, Filter: SessionFilter{App: app}})
	if err != nil || len(plan.Targets) != n {
		t.Fatalf("preview %v, %v; want %d targets", plan.PIDs(), err, n)
	}
	return pg, runner, plan.Targets, conns
}

// stop stops a backend process (SIGSTOP: it cannot act on a terminate, as
// a backend stuck in the kernel) until the returned function continues it.
func stop(t *testing.T, pid int32) (cont func()) {
	t.Helper()
	proc, err := os.FindProcess(int(pid))
	if err == nil {
		err = proc.Signal(syscall.SIGSTOP)
	}
	if err != nil {
		t.Skipf("cannot stop the backend process (the server runs as another user): %v", err)
	}
	var once sync.Once
	cont = func() { once.Do(func() { _ = proc.Signal(syscall.SIGCONT) }) }
	t.Cleanup(cont)
	return cont
}

func (f *pgFixture) waitGoneT(t *testing.T, pid int32) {
	t.Helper()
	for range 500 {
		if f.alive(t, pid) == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d did not exit", pid)
}

// testPipelinedPerTarget: three batches of three. In batch 1, A cannot exit
// until every backend of batch 3 is gone: so batch 3 must be signalled while
// A is still exiting (a pipeline; waiting for batch 1 before batch 2 would
// leave A stopped until its deadline and fail it). A is Done only once it
// really exited. In batch 2, B never exits during the action: Failed at its
// own deadline, while every other target is Done, and B is still there.
func (f *pgFixture) testPipelinedPerTarget(t *testing.T) {
	ctx := context.Background()
	pg, runner, targets, _ := f.pipelineTargets(t, 9, "pipe-web")
	pg.TerminateTimeout = 5 * time.Second // A is continued well before: batch 3 is gone in tens of ms
	a, b, third := targets[0].PID, targets[4].PID, []int32{targets[6].PID, targets[7].PID, targets[8].PID}
	contA, contB := stop(t, a), stop(t, b)
	var continuedA bool
	runner.setHook(func(int) {
		if !continuedA && f.alive(t, third...) == nil {
			continuedA = true
			contA()
		}
	})
	res, attempted, err := pg.SignalPipelined(ctx, Terminate, targets, SessionFilter{App: "pipe-web"}, DefaultPolicy().compile().protection(),
		Pace{BatchSize: 3, Interval: 20 * time.Millisecond})
	runner.setHook(nil)
	if err != nil || attempted != 9 || len(res) != 9 {
		t.Fatalf("attempted %d, %d results, %v", attempted, len(res), err)
	}
	if !continuedA {
		t.Fatal("batch 3 was not gone while A (batch 1) was still exiting: not pipelined")
	}
	byID := resultsByID(res)
	for _, tg := range targets {
		r := byID[int64(tg.PID)]
		switch tg.PID {
		case b:
			if r.Outcome != Failed || !strings.HasPrefix(r.Reason, "still running after 5s") {
				t.Errorf("B (pid %d, never exited): %+v, want failed: still running after 5s", b, r)
			}
		default:
			if r.Outcome != Done {
				t.Errorf("pid %d: %+v, want done", tg.PID, r)
			}
		}
	}
	if got := f.alive(t, pidsOf(targets)...); len(got) != 1 || got[0] != b {
		t.Fatalf("alive %v, want only B (%d)", got, b)
	}
	contB()
	f.waitGoneT(t, b)
}

// testPipelinedIdentity: a target whose pid now belongs to another backend
// (its previewed backend_start differs) and the console's own backend are
// skipped by the signalling statement, in a later batch of a pipeline, and
// survive. The wait's check tells backends apart by backend_start too: the
// same pid with another backend_start is a newer backend (the signalled one
// is gone), and a backend whose backend_start this role may not see is never
// counted gone.
func (f *pgFixture) testPipelinedIdentity(t *testing.T) {
	ctx := context.Background()
	pg, runner, targets, _ := f.pipelineTargets(t, 5, "pipe-id")
	reused := targets[3]
	targets[3].BackendStart = reused.BackendStart.Add(-time.Second) // as if its backend exited and a new one got the pid
	own := Backend{PID: pg.OwnPID(), BackendStart: time.Now(), BackendType: "client backend", State: "active"}
	if err := runner.WithConn(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()").Scan(&own.BackendStart)
	}); err != nil {
		t.Fatal(err)
	}
	targets = append(targets, own)
	res, attempted, err := pg.SignalPipelined(ctx, Terminate, targets, SessionFilter{}, DefaultPolicy().compile().protection(),
		Pace{BatchSize: 2, Interval: 10 * time.Millisecond})
	if err != nil || attempted != 6 {
		t.Fatalf("attempted %d, %v", attempted, err)
	}
	byID := resultsByID(res)
	if r := byID[int64(reused.PID)]; r.Outcome != Skipped || !strings.Contains(r.Reason, "now belongs to another backend") {
		t.Errorf("reused pid %d: %+v, want skipped as another backend", reused.PID, r)
	}
	if r := byID[int64(own.PID)]; r.Outcome != Skipped || !strings.Contains(r.Reason, "the console's own connection") {
		t.Errorf("own pid %d: %+v, want skipped as the console's own", own.PID, r)
	}
	for _, i := range []int{0, 1, 2, 4} {
		if r := byID[int64(targets[i].PID)]; r.Outcome != Done {
			t.Errorf("pid %d: %+v, want done", targets[i].PID, r)
		}
	}
	if got := f.alive(t, pidsOf(targets)...); !slices.Equal(got, sorted(reused.PID, own.PID)) {
		t.Fatalf("alive %v, want the reused pid %d and the own %d", got, reused.PID, own.PID)
	}

	// The wait's check, on a connection of a role without pg_read_all_stats.
	var adminStart time.Time
	if err := f.admin.QueryRow(ctx, "SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()").Scan(&adminStart); err != nil {
		t.Fatal(err)
	}
	adminPID := int32(f.admin.PgConn().PID())
	web := newTestRunner(t, f.srv.DSNFor("web", "talentflow"))
	if err := web.WithConn(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		alive, err := alivePIDs(ctx, conn, []awaiting{
			{target: Backend{PID: reused.PID, BackendStart: reused.BackendStart}}, // web's own session: visible
			{target: Backend{PID: targets[3].PID, BackendStart: targets[3].BackendStart}},
			{target: Backend{PID: adminPID, BackendStart: adminStart.Add(-time.Second)}}, // another role's: hidden
		})
		if err != nil {
			return err
		}
		if !alive[reused.PID] || len(alive) != 2 || !alive[adminPID] {
			t.Errorf("alive %v: want the visible backend with its backend_start and the hidden one, not the pid with another backend_start", alive)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// testPipelinedInterrupted: ctx ends while the first batch is being
// signalled (a SIGTERM to slotwatch). That batch is finished and verified,
// no further batch starts, and the error is ctx's.
func (f *pgFixture) testPipelinedInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pg, runner, targets, _ := f.pipelineTargets(t, 6, "pipe-int")
	runner.setHook(func(call int) {
		if call == 1 {
			cancel()
		}
	})
	res, attempted, err := pg.SignalPipelined(ctx, Terminate, targets, SessionFilter{App: "pipe-int"}, DefaultPolicy().compile().protection(),
		Pace{BatchSize: 2, Interval: 10 * time.Millisecond})
	runner.setHook(nil)
	if !errors.Is(err, context.Canceled) || attempted != 2 || len(res) != 2 {
		t.Fatalf("attempted %d, results %+v, err %v; want the first batch and context.Canceled", attempted, res, err)
	}
	for _, r := range res {
		if r.Outcome != Done {
			t.Errorf("in-flight pid %d: %+v, want done", r.ID, r)
		}
	}
	if got := f.alive(t, pidsOf(targets)...); !slices.Equal(got, sorted(pidsOf(targets[2:])...)) {
		t.Fatalf("alive %v, want exactly the 4 not attempted", got)
	}
}

func pidsOf(bs []Backend) []int32 {
	out := make([]int32, len(bs))
	for i, b := range bs {
		out[i] = b.PID
	}
	return out
}
