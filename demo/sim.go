// Package demo simulates the TalentFlow incident in process: a PostgreSQL
// server whose slots are held by idle persistent Django connections, with a
// lock queue behind an idle-in-transaction session and a refused connect
// probe; a Redis server whose analytics host leaks one client per request;
// and a job over its application limit. It produces the same snapshots the
// collectors do and implements the actions drivers over the simulation, so
// `slotwatch demo` is the real console on a fake world, and mitigations
// change that world the way they would change the real servers.
//
// The simulation is deterministic: the same seed and the same sequence of
// Advance calls and actions give the same snapshots.
package demo

import (
	"context"
	"sync"
	"time"

	"github.com/slotwatch/slotwatch/collectors"
)

// Options configure a simulation. Zero values take the defaults.
type Options struct {
	// Seed varies pids, addresses, ages and queries; the incident's numbers
	// stay the same for every seed.
	Seed int64
	// Speed is simulated seconds per wall second in Run (default 1).
	Speed float64
	// Interval is the wall time between snapshots in Run (default 1s).
	Interval time.Duration
	// Start is the simulated time of the first snapshot (default
	// 2024-01-21 15:00 UTC, when the Redis leak stood at 45 clients).
	Start time.Time
}

// DefaultWarm and DefaultWarmStep are how far `slotwatch demo` and the
// served demo run the simulation before the first frame (Warm), so alerts
// already fire: one default for every caller.
const (
	DefaultWarm     = 12 * time.Minute
	DefaultWarmStep = 5 * time.Second
)

// DefaultStart is the simulated clock's default start.
var DefaultStart = time.Date(2024, 1, 21, 15, 0, 0, 0, time.UTC)

// Sim is the simulated world. It is safe for concurrent use: Run, the
// drivers and Snapshot may be called from different goroutines.
type Sim struct {
	mu    sync.Mutex
	opts  Options
	rnd   *source
	start time.Time
	now   time.Time
	pg    *pgServer
	redis *redisServer
	jobs  []collectors.JobCapacity
	// refused is the server's log of refused connections (refused.go).
	refused appRefusals
}

// New builds the world at opts.Start, in the middle of the incident.
func New(opts Options) *Sim {
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Start.IsZero() {
		opts.Start = DefaultStart
	}
	rnd := newSource(opts.Seed)
	s := &Sim{opts: opts, rnd: rnd, start: opts.Start, now: opts.Start}
	pods := webPods(rnd)
	s.pg = newPGServer(rnd, opts.Start, pods)
	s.redis = newRedisServer(rnd, opts.Start, pods)
	s.jobs = []collectors.JobCapacity{{ID: "12345", Label: "Senior Backend Engineer", Count: 58, Limit: 50, Excess: 8}}
	return s
}

// Now is the simulated clock.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves the simulated clock by d; the Redis leak opens the clients
// due in that time.
func (s *Sim) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.now
	s.now = s.now.Add(d)
	s.refused.advance(s.start, from, s.now, s.pg.used() >= s.pg.usable())
	s.redis.advance(s.now.Sub(s.start), s.start)
}

// Snapshot samples every simulated source, as collectors.CollectOnce would.
func (s *Sim) Snapshot() collectors.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := collectors.Snapshot{
		TakenAt:  s.now,
		Postgres: s.pg.stats(s.now, s.rnd),
		Probe:    s.pg.probe(s.now, s.start, s.rnd),
		Refused:  s.refused.stats(s.now),
		Redis:    s.redis.stats(s.now),
		Errors:   map[string]string{},
	}
	jobs := append([]collectors.JobCapacity(nil), s.jobs...)
	snap.Jobs = &collectors.JobsStats{Sample: collectors.Sample{SampledAt: s.now, LastGoodAt: s.now}, OverCapacity: jobs}
	return snap
}

// Run publishes a snapshot at once and then every Interval of wall time,
// advancing the simulated clock by Interval×Speed each time, until ctx ends.
func (s *Sim) Run(ctx context.Context, mb collectors.Sink) {
	mb.Put(s.Snapshot())
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	step := time.Duration(float64(s.opts.Interval) * s.opts.Speed)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Advance(step)
			mb.Put(s.Snapshot())
		}
	}
}

// Warm runs the simulation through d of simulated time in steps, handing
// every snapshot to feed (an analysis pipeline's Step), so a screen or a
// golden test starts with the alerts, trends and findings the real pipeline
// computed, not hand-written values.
func (s *Sim) Warm(d, step time.Duration, feed func(collectors.Snapshot)) {
	if step <= 0 {
		step = time.Second
	}
	for t := time.Duration(0); t < d; t += step {
		feed(s.Snapshot())
		s.Advance(step)
	}
}

// Options returns the options in force, defaults filled in.
func (s *Sim) Options() Options { return s.opts }
