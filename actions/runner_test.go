package actions

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// testRunner is a PGSession shaped like the collectors' runner: one
// connection with the collector's 2 s statement_timeout, reconnected when it
// is closed or broken, serialised; before each call it runs hook (when set)
// so a test can change the server at an exact point of an action.
type testRunner struct {
	dsn    string
	server string
	mu     sync.Mutex
	conn   *pgx.Conn
	calls  int
	hook   func(call int)
}

func newTestRunner(t testing.TB, dsn string) *testRunner {
	t.Helper()
	r := &testRunner{dsn: dsn, server: "test-runner"}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.conn != nil {
			_ = r.conn.Close(context.Background())
		}
	})
	return r
}

func (r *testRunner) Server() string { return r.server }

func (r *testRunner) WithConn(ctx context.Context, fn func(context.Context, *pgx.Conn) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil || r.conn.IsClosed() {
		cfg, err := pgx.ParseConfig(r.dsn)
		if err != nil {
			return err
		}
		cfg.RuntimeParams["application_name"] = "slotwatch"
		cfg.RuntimeParams["statement_timeout"] = "2000"
		if r.conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
			return err
		}
	}
	r.calls++
	if r.hook != nil {
		r.hook(r.calls)
	}
	err := fn(ctx, r.conn)
	if err != nil && r.conn.PgConn().IsBusy() {
		_ = r.conn.Close(context.Background())
	}
	return err
}

// setHook installs hook and resets the call count.
func (r *testRunner) setHook(hook func(call int)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls, r.hook = 0, hook
}
