package serve

import (
	"context"
	"io"
	"sync/atomic"
	"time"
)

// stallGuard is a session's terminal output. A client that stops reading
// (a frozen laptop, a suspended ssh) makes writes block once the SSH window
// and TCP buffers are full; the guard notices a write blocked longer than
// the limit and drops the session, which unblocks the write. Other sessions
// never wait for it: each has its own program, bridge and guard.
type stallGuard struct {
	w     io.Writer
	since atomic.Int64 // unix nanoseconds the pending write started; 0: none
	now   func() time.Time
}

func newStallGuard(w io.Writer) *stallGuard { return &stallGuard{w: w, now: time.Now} }

func (g *stallGuard) Write(p []byte) (int, error) {
	g.since.Store(g.now().UnixNano())
	defer g.since.Store(0)
	return g.w.Write(p)
}

// blockedFor is how long the pending write has been blocked (0: none).
func (g *stallGuard) blockedFor() time.Duration {
	start := g.since.Load()
	if start == 0 {
		return 0
	}
	return g.now().Sub(time.Unix(0, start))
}

// watch calls drop once, when a write has been blocked for longer than
// limit, and returns; it also returns when ctx ends.
func (g *stallGuard) watch(ctx context.Context, limit time.Duration, drop func(blocked time.Duration)) {
	t := time.NewTicker(max(limit/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d := g.blockedFor(); d > limit {
			drop(d)
			return
		}
	}
}
