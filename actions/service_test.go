package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// memPG is an in-memory PGDriver for the Service's orchestration logic
// (batching, audit ordering, interruption); real behaviour is tested
// against PostgreSQL in pg_test.go.
type memPG struct {
	backends []Backend
	signals  [][]int32
	failAt   int // batch index whose Signal fails with a connection error
}

func (m *memPG) Server() string { return "mem:5432/app" }
func (m *memPG) OwnPID() int32  { return 1 }
func (m *memPG) Backends(context.Context) ([]Backend, error) {
	return m.backends, nil
}
func (m *memPG) Signal(_ context.Context, _ Kind, targets []Backend, _ SessionFilter, _ Protection) ([]TargetResult, error) {
	var pids []int32
	var out []TargetResult
	for _, t := range targets {
		pids = append(pids, t.PID)
		out = append(out, TargetResult{ID: int64(t.PID), Outcome: Done})
	}
	m.signals = append(m.signals, pids)
	if len(m.signals)-1 == m.failAt {
		return out[:1], errors.New("connection reset")
	}
	return out, nil
}

func idleBackends(n int) []Backend {
	out := make([]Backend, n)
	for i := range out {
		out[i] = Backend{PID: int32(100 + i), BackendType: "client backend", Usename: "web", ApplicationName: "web",
			State: "idle", StateSeconds: float64(1000 - i), BackendStart: time.Unix(int64(i), 0)}
	}
	return out
}

func TestExecuteStopsWhenAuditCannotRecord(t *testing.T) {
	pg := &memPG{backends: idleBackends(3), failAt: -1}
	audit, _ := OpenAuditLog(t.TempDir() + "/audit.jsonl")
	svc := NewService(pg, nil, DefaultPolicy(), audit, Operator{User: "x"})
	plan, err := svc.PreviewSessions(context.Background(), SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	audit.Close()
	if _, err := svc.ExecuteSessions(context.Background(), plan); err == nil || !strings.Contains(err.Error(), "nothing was done") {
		t.Fatalf("err = %v", err)
	}
	if len(pg.signals) != 0 {
		t.Fatalf("signalled %v without an audit record", pg.signals)
	}
}

func TestExecuteReportsEveryTargetWhenInterruptedOrFailing(t *testing.T) {
	for _, c := range []struct {
		name      string
		failAt    int
		cancelAt  int
		wantCalls int
		wantWhy   string
	}{
		{"connection lost in batch 2", 1, -1, 2, "an earlier batch failed"},
		{"interrupted before batch 2", -1, 1, 1, "interrupted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pg := &memPG{backends: idleBackends(7), failAt: c.failAt}
			policy := DefaultPolicy()
			policy.BatchSize = 3
			svc := NewService(pg, nil, policy, nil, Operator{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pauses := 0
			svc.sleep = func(ctx context.Context, _ time.Duration) error {
				if pauses++; pauses == c.cancelAt {
					cancel()
				}
				return ctx.Err()
			}
			plan, err := svc.PreviewSessions(ctx, SessionRequest{Kind: Terminate, Filter: SessionFilter{App: "web"}})
			if err != nil {
				t.Fatal(err)
			}
			report, err := svc.ExecuteSessions(ctx, plan)
			if err == nil {
				t.Fatal("no error")
			}
			if len(pg.signals) != c.wantCalls || len(report.Results) != 7 {
				t.Fatalf("%d Signal calls, %d results: %+v", len(pg.signals), len(report.Results), report.Results)
			}
			last := report.Results[6]
			if last.Outcome != Skipped || !strings.Contains(last.Reason, c.wantWhy) {
				t.Fatalf("last result %+v, want skipped: %s", last, c.wantWhy)
			}
		})
	}
}

func BenchmarkPreviewSessions(b *testing.B) {
	for _, n := range []int{100, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			pg := &memPG{backends: idleBackends(n), failAt: -1}
			svc := NewService(pg, nil, DefaultPolicy(), nil, Operator{})
			req := SessionRequest{Kind: Terminate, Filter: SessionFilter{States: []string{"idle"}, App: "w*", IdleOver: time.Second, Limit: 50}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.PreviewSessions(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRedisFilterMatch(b *testing.B) {
	m, err := compileRedisFilter(RedisFilter{Host: "10.0.*", Name: "cache-*", IdleOver: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	c := collectors.RedisClient{Addr: "10.0.3.4:51000", Name: "cache-17", IdleSeconds: 600}
	b.ReportAllocs()
	for b.Loop() {
		if !m.matches(c) {
			b.Fatal("no match")
		}
	}
}

func TestWithClockStampsAuditLines(t *testing.T) {
	audit, err := OpenAuditLog("")
	if err != nil {
		t.Fatal(err)
	}
	sim := time.Date(2024, 1, 21, 15, 12, 0, 0, time.UTC)
	svc := NewService(nil, nil, DefaultPolicy(), audit, Operator{User: "kim"}).WithClock(func() time.Time { return sim })
	_ = svc.Refuse(context.Background(), "terminate", "read-only") // returns the refusal itself
	got := audit.Recent(1)
	if len(got) != 1 || !got[0].Time.Equal(sim) {
		t.Fatalf("audit line %+v: want it stamped with the given clock %s", got, sim)
	}
}
