package actions

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedisRunner is a RedisSession shaped like the collectors' runner: one
// client connection named slotwatch, replaced when Redis closed it.
type testRedisRunner struct {
	mu  sync.Mutex
	rdb *redis.Client
}

func (r *testRedisRunner) Server() string { return "test-redis-runner" }

func (r *testRedisRunner) WithConn(ctx context.Context, fn func(context.Context, *redis.Conn) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		if err := r.rdb.Ping(ctx).Err(); err != nil { // the failed PING dropped the dead connection
			return err
		}
	}
	cn := r.rdb.Conn()
	defer cn.Close()
	return fn(ctx, cn)
}

// testBorrowed: the driver runs on a borrowed connection that the server
// closed once (as after a restart or a CLIENT KILL): the runner reconnects,
// the driver reads its new own id, never kills it, and kills the targets.
func (f *redisFixture) testBorrowed(t *testing.T) {
	defer f.closeAll(t)
	ctx := context.Background()
	runner := &testRedisRunner{rdb: redis.NewClient(&redis.Options{Addr: f.srv.Addr, ClientName: "slotwatch", PoolSize: 1, MaxRetries: -1})}
	defer runner.rdb.Close()
	drv := NewRedisDriver(runner)
	audit, _ := OpenAuditLog("")
	svc := NewService(nil, drv, DefaultPolicy(), audit, Operator{User: "kim"})
	if _, err := drv.Clients(ctx); err != nil {
		t.Fatal(err)
	}
	first := drv.OwnID()
	if err := f.admin.Do(ctx, "CLIENT", "KILL", "ID", first).Err(); err != nil {
		t.Fatal(err)
	}
	f.client(t, "127.0.0.1", "leaky-1")
	f.client(t, "127.0.0.1", "leaky-2")
	plan, err := svc.PreviewRedis(ctx, RedisFilter{Name: "leaky-*"})
	if err != nil {
		t.Fatal(err)
	}
	if drv.OwnID() == first || drv.OwnID() == 0 {
		t.Fatalf("own id %d after the reconnect, was %d", drv.OwnID(), first)
	}
	report, err := svc.ExecuteRedis(ctx, plan)
	if err != nil || Counts(report.Results)[Done] != 2 {
		t.Fatalf("kill on a borrowed connection: %+v, %v", report.Results, err)
	}
	again, err := svc.WithOperator(Operator{User: "sam"}).ExecuteRedis(ctx, plan)
	for _, r := range again.Results {
		if err != nil || r.Outcome != Gone || !strings.HasPrefix(r.Reason, "already killed by kim at ") {
			t.Fatalf("the same plan again: %+v, %v; want already killed by kim", r, err)
		}
	}
	// The killed connection may still be listed for a moment while Redis
	// frees it; a second console connection that stays is the defect.
	names := f.names(t)
	for deadline := time.Now().Add(5 * time.Second); !slicesEqual(names, []string{"slotwatch", "test-admin"}) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		names = f.names(t)
	}
	if !slicesEqual(names, []string{"slotwatch", "test-admin"}) {
		t.Fatalf("clients left %v, want only the console's and the admin", names)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestAuditLogSharedByProcesses: two logs on one file (two processes, or a
// CLI beside a serve) see each other's lines in Recent, and concurrent
// appends from many sessions stay whole lines.
func TestAuditLogSharedByProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Append(AuditEntry{ActionID: "from-a", Phase: PhaseIntent}); err != nil {
		t.Fatal(err)
	}
	if got := b.Recent(5); len(got) != 1 || got[0].ActionID != "from-a" {
		t.Fatalf("b.Recent = %+v, want a's line", got)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		log := a
		if i%2 == 1 {
			log = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := log.Append(AuditEntry{ActionID: "x", Phase: PhaseResult, Notes: []string{strings.Repeat("n", 2000)}}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	all, err := ReadAuditLog(path)
	if err != nil || len(all) != 401 {
		t.Fatalf("%d whole lines, want 401 (%v)", len(all), err)
	}
	if n := len(a.Recent(1000)); n != recentKept {
		t.Fatalf("a.Recent keeps %d, want the newest %d", n, recentKept)
	}
}

// TestRefuseAndPreviewedAreAudited: the dashboard's refusals (read-only, a
// served viewer) and a CLI preview without --yes are recorded, each in its
// phase, under the operator.
func TestRefuseAndPreviewedAreAudited(t *testing.T) {
	audit, _ := OpenAuditLog("")
	pg := &memPG{backends: idleBackends(2), failAt: -1}
	ro := DefaultPolicy()
	ro.ReadOnly = true
	kim := Operator{User: "kim", Fingerprint: "SHA256:abc", SSHClient: "10.1.2.3"}
	err := NewService(pg, nil, ro, audit, Operator{User: "local"}).Refuse(context.Background(), ActionTerminate, "")
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only refuse: %v", err)
	}
	svc := NewService(pg, nil, DefaultPolicy(), audit, Operator{User: "local"})
	viewer := svc.WithOperator(kim).AsViewer()
	if err := viewer.Refuse(context.Background(), ActionTerminate, "Read-only viewer: kim may watch but not act"); !IsRefused(err) {
		t.Fatalf("viewer refuse: %v", err)
	}
	if _, err := PreviewAs[SessionPlan](context.Background(), viewer, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "web"}}); !errors.Is(err, ErrViewer) {
		t.Fatalf("viewer preview: %v", err)
	}
	plan, err := svc.PreviewSessions(context.Background(), SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Previewed(context.Background(), plan); err != nil {
		t.Fatal(err)
	}
	es := audit.Recent(10)
	if len(es) != 4 {
		t.Fatalf("audit %+v, want 4 lines", es)
	}
	if es[0].Phase != PhaseRefused || !strings.Contains(es[0].Error, "read-only") || es[0].Operator.User != "local" {
		t.Errorf("read-only refusal %+v", es[0])
	}
	for _, e := range es[1:3] {
		if e.Phase != PhaseRefused || e.Operator != kim {
			t.Errorf("viewer refusal %+v", e)
		}
	}
	if p := es[3]; p.Phase != PhasePreviewed || p.Confirmed || len(p.Previewed) != 2 || svc.Operator().User != "local" {
		t.Errorf("previewed %+v", p)
	}
	_ = time.Second
}
