package testserver

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ConnectMany opens n connections to dsn, 16 at a time (a server forks a
// backend per connection; more at once only queues in the postmaster), and
// fails the test if any cannot be opened. The caller closes them.
func ConnectMany(t testing.TB, dsn string, n int) []*pgx.Conn {
	t.Helper()
	conns := make([]*pgx.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			conns[i], errs[i] = pgx.Connect(context.Background(), dsn)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("hold backend %d of %d: %v", i+1, n, err)
		}
	}
	return conns
}
