package collectors

import (
	"context"
	"maps"
	"sync"
	"time"
)

// source is one collector. It owns one connection and is used by one
// goroutine only.
type source interface {
	interval() time.Duration
	// collect takes one sample and returns how to record it (data or error)
	// into the merged snapshot; recording happens under the hub's lock.
	collect(ctx context.Context) func(*Snapshot)
	close()
}

// merger merges the newest sample of every source into one snapshot.
type merger struct {
	mu  sync.Mutex
	cur Snapshot
}

func newMerger() *merger { return &merger{cur: Snapshot{Errors: map[string]string{}}} }

// apply records one sample and returns the new merged snapshot. Published
// snapshots are never modified: each gets its own Errors map and shares
// only the immutable per-source structs.
func (h *merger) apply(record func(*Snapshot)) Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := h.cur
	next.Errors = maps.Clone(h.cur.Errors)
	record(&next)
	next.TakenAt = time.Now()
	h.cur = next
	return next
}

// Set is one running collection: its sources and the connections they
// keep, which actions borrow through PG and Redis (contract C2).
type Set struct {
	pg      *PGRunner
	redis   *RedisRunner
	closers []func()
}

// PG runs statements on the PostgreSQL collector's connection; nil when no
// PostgreSQL target is configured (its WithConn then says so).
func (s *Set) PG() *PGRunner {
	if s == nil {
		return nil
	}
	return s.pg
}

// Redis runs commands on the Redis collector's connection; nil when no
// Redis target is configured.
func (s *Set) Redis() *RedisRunner {
	if s == nil {
		return nil
	}
	return s.redis
}

// close closes every connection of the set, once its sources stopped.
func (s *Set) close() {
	for _, c := range s.closers {
		c()
	}
}

// buildSources makes the sources and the connections they share: the jobs
// query runs on the PostgreSQL collector's connection when its DSN is the
// pg target's, so the console holds one slot per server.
func buildSources(cfg Config) ([]source, *Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = cfg.withDefaults()
	var sources []source
	set := &Set{}
	own := newOwnBackends()
	var pgLinkOf *pgLink
	if cfg.PG != nil {
		pgLinkOf = newPGLink(cfg.PG.DSN, "slotwatch", cfg.PG.StatementTimeout, cfg.PG.ConnectTimeout, own)
		if cfg.Probe != nil {
			pgLinkOf.users = append(pgLinkOf.users, newEndpoint(cfg.Probe.DSN).user)
		}
		set.pg = &PGRunner{link: pgLinkOf}
		set.closers = append(set.closers, pgLinkOf.shutdown)
		sources = append(sources, newPGCollectorOn(*cfg.PG, pgLinkOf))
	}
	if cfg.Probe != nil {
		sources = append(sources, newProbe(*cfg.Probe, own))
	}
	if cfg.PgBouncer != nil {
		sources = append(sources, newPgBouncerCollector(*cfg.PgBouncer))
	}
	if cfg.Redis != nil {
		rc := newRedisCollector(*cfg.Redis)
		set.redis = &RedisRunner{c: rc}
		set.closers = append(set.closers, rc.shutdown)
		sources = append(sources, rc)
	}
	if cfg.Jobs != nil {
		if pgLinkOf != nil && cfg.Jobs.DSN == cfg.PG.DSN {
			sources = append(sources, newJobsCollector(*cfg.Jobs, pgLinkOf, true))
		} else {
			link := newPGLink(cfg.Jobs.DSN, "slotwatch-jobs", cfg.Jobs.StatementTimeout, defaultConnectTimeout, own)
			set.closers = append(set.closers, link.shutdown)
			sources = append(sources, newJobsCollector(*cfg.Jobs, link, false))
		}
	}
	if cfg.Alerting != nil {
		// Validate has checked the URLs, so this cannot fail.
		if a, err := newAlertingCollector(*cfg.Alerting); err == nil {
			sources = append(sources, a)
		}
	}
	return sources, set, nil
}

// Start runs one goroutine per configured source; each publishes the merged
// snapshot into out (a Mailbox, or a Hub for several consumers) after every
// sample. It returns at once; the goroutines stop and the set's
// connections close when ctx is cancelled. The error is only for invalid
// configuration.
func Start(ctx context.Context, cfg Config, out Sink) (*Set, error) {
	sources, set, err := buildSources(cfg)
	if err != nil {
		return nil, err
	}
	h := newMerger()
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Go(func() { runSource(ctx, src, h, out) })
	}
	go func() {
		wg.Wait()
		set.close()
	}()
	return set, nil
}

func runSource(ctx context.Context, src source, h *merger, out Sink) {
	defer src.close()
	ticker := time.NewTicker(src.interval())
	defer ticker.Stop()
	for {
		record := src.collect(ctx)
		if ctx.Err() != nil {
			return
		}
		// nil: nothing to record (a source that does not apply).
		if record != nil {
			out.Put(h.apply(record))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// CollectOnce takes one sample of every configured source and closes every
// connection it opened. PostgreSQL is sampled first, alone, so that its
// sessions are exactly the server's client backends with none of
// slotwatch's own (the probe and jobs connections open after it); the other
// sources then run concurrently. Invalid configuration is reported in
// Errors under "config".
func CollectOnce(ctx context.Context, cfg Config) Snapshot {
	sources, set, err := buildSources(cfg)
	if err != nil {
		return Snapshot{TakenAt: time.Now(), Errors: map[string]string{"config": err.Error()}}
	}
	defer set.close()
	records := make([]func(*Snapshot), len(sources))
	first := 0
	if cfg.PG != nil {
		// buildSources puts the PostgreSQL collector first.
		records[0] = sources[0].collect(ctx)
		sources[0].close()
		first = 1
	}
	var wg sync.WaitGroup
	for i := first; i < len(sources); i++ {
		wg.Go(func() {
			defer sources[i].close()
			records[i] = sources[i].collect(ctx)
		})
	}
	wg.Wait()
	h := newMerger()
	snap := h.apply(func(*Snapshot) {})
	for _, record := range records {
		if record != nil {
			snap = h.apply(record)
		}
	}
	return snap
}
