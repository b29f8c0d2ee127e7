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

func buildSources(cfg Config) ([]source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var sources []source
	own := newOwnBackends()
	if cfg.PG != nil {
		sources = append(sources, newPGCollector(*cfg.PG, own))
	}
	if cfg.Probe != nil {
		sources = append(sources, newProbe(*cfg.Probe))
	}
	if cfg.Redis != nil {
		sources = append(sources, newRedisCollector(*cfg.Redis))
	}
	if cfg.Jobs != nil {
		// The jobs connection is left out of the sessions only when it is
		// on the watched server: elsewhere its pid means another backend.
		var jobsOwn *ownBackends
		if cfg.PG != nil && cfg.Jobs.DSN == cfg.PG.DSN {
			jobsOwn = own
		}
		sources = append(sources, newJobsCollector(*cfg.Jobs, jobsOwn))
	}
	if cfg.Alerting != nil {
		// Validate has checked the URLs, so this cannot fail.
		if a, err := newAlertingCollector(*cfg.Alerting); err == nil {
			sources = append(sources, a)
		}
	}
	return sources, nil
}

// Start runs one goroutine per configured source; each publishes the merged
// snapshot into out (a Mailbox, or a Hub for several consumers) after every
// sample. It returns at once; the goroutines
// close their connections and stop when ctx is cancelled. The error is only
// for invalid configuration.
func Start(ctx context.Context, cfg Config, out Sink) error {
	sources, err := buildSources(cfg)
	if err != nil {
		return err
	}
	h := newMerger()
	for _, src := range sources {
		go runSource(ctx, src, h, out)
	}
	return nil
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
		out.Put(h.apply(record))
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
	sources, err := buildSources(cfg)
	if err != nil {
		return Snapshot{TakenAt: time.Now(), Errors: map[string]string{"config": err.Error()}}
	}
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
		snap = h.apply(record)
	}
	return snap
}
