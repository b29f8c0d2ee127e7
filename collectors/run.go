package collectors

import (
	"context"
	"maps"
	"slices"
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

// newMerger starts from servers (nil for a single target): every snapshot
// lists them, with no stats until each answers.
func newMerger(servers []ServerSnapshot, intervals map[string]float64) *merger {
	return &merger{cur: Snapshot{Errors: map[string]string{}, Servers: servers, IntervalSeconds: intervals}}
}

// apply records one sample and returns the new merged snapshot. Published
// snapshots are never modified: each gets its own Errors map and Servers
// slice and shares only the immutable per-source structs.
func (h *merger) apply(record func(*Snapshot)) Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := h.cur
	next.Errors = maps.Clone(h.cur.Errors)
	next.Servers = slices.Clone(h.cur.Servers)
	record(&next)
	next.TakenAt = time.Now()
	h.cur = next
	return next
}

// Set is one running collection: its sources and the connections they
// keep, which actions borrow through PG and Redis (contract C2).
type Set struct {
	pg          *PGRunner
	redis       *RedisRunner
	pgByName    map[string]*PGRunner
	redisByName map[string]*RedisRunner
	servers     []ServerInfo
	closers     []func()
	// listed: snapshots carry Servers (several servers, or attaching).
	listed bool
	// live attaches fleet instances while the set runs; nil when
	// fleet.live is not configured or the set is not running (CollectOnce).
	live *liveSet
}

// Listed reports whether the set's snapshots list their servers in
// Snapshot.Servers, so actions must name the server they target.
func (s *Set) Listed() bool { return s != nil && s.listed }

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

// plan is what one Start or CollectOnce runs: the sources, the PostgreSQL
// collectors first (nPG of them), the set of their connections, and the
// servers every snapshot lists (nil for a single target).
type plan struct {
	sources []source
	nPG     int
	set     *Set
	servers []ServerSnapshot
	names   []string // each source's name, beside sources
	own     *ownBackends
}

// intervals is each source's sampling period in seconds (the first of a
// name wins: the primary of several servers).
func (p *plan) intervals() map[string]float64 {
	out := map[string]float64{}
	for i, src := range p.sources {
		if _, ok := out[p.names[i]]; !ok {
			out[p.names[i]] = src.interval().Seconds()
		}
	}
	return out
}

func (p *plan) add(name string, src source) {
	p.sources = append(p.sources, src)
	p.names = append(p.names, name)
}

// buildSources makes the sources and the connections they share: one
// collector and one connection per PostgreSQL and Redis server, and the
// jobs query on the primary PostgreSQL collector's connection when its DSN
// is the pg target's, so the console holds one slot per server.
// With attach (Start of a configuration that can attach fleet instances)
// the servers are listed even when there is one, as attached ones will be.
func buildSources(cfg Config, attach bool) (*plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withPrimaries().withDefaults()
	own := newOwnBackends()
	p := &plan{own: own, set: &Set{pgByName: map[string]*PGRunner{}, redisByName: map[string]*RedisRunner{},
		listed: cfg.fleet() || (attach && cfg.attachable())}}
	var primaryLink *pgLink
	for i, pg := range cfg.pgServers() {
		link := newPGLink(pg.DSN, "slotwatch", pg.StatementTimeout, pg.ConnectTimeout, own)
		runner := &PGRunner{link: link}
		if i == 0 {
			primaryLink = link
			if cfg.Probe != nil {
				link.users = append(link.users, newEndpoint(cfg.Probe.DSN).user)
			}
			p.set.pg = runner
		}
		p.set.closers = append(p.set.closers, link.shutdown)
		p.addServer(cfg, ServerInfo{Name: pgName(pg), Kind: SourcePostgres, Target: link.ep.target, Primary: i == 0},
			newPGCollectorOn(pg, link))
		p.set.pgByName[pgName(pg)] = runner
	}
	p.nPG = len(p.sources)
	failures := &probeFailures{}
	if cfg.Probe != nil {
		pr := newProbe(*cfg.Probe, own)
		pr.failures = failures
		p.add(SourceProbe, pr)
	}
	if primaryLink != nil && (cfg.PGLog == nil || !cfg.PGLog.Disabled) {
		p.add("pglog", newPGLogCollector(orZero(cfg.PGLog), primaryLink, failures))
	}
	if cfg.PgBouncer != nil {
		p.add(SourcePgBouncer, newPgBouncerCollector(*cfg.PgBouncer))
	}
	for i, r := range cfg.redisServers() {
		src, runner, shutdown := newRedisSource(r)
		if i == 0 {
			p.set.redis = runner
		}
		p.set.closers = append(p.set.closers, shutdown)
		p.addServer(cfg, ServerInfo{Name: redisName(r), Kind: SourceRedis, Target: runner.Server(), Primary: i == 0,
			Cluster: runner.Cluster()}, src)
		p.set.redisByName[redisName(r)] = runner
	}
	if cfg.Jobs != nil {
		if primaryLink != nil && cfg.Jobs.DSN == cfg.PG.DSN {
			p.add(SourceJobs, newJobsCollector(*cfg.Jobs, primaryLink, true))
		} else {
			link := newPGLink(cfg.Jobs.DSN, "slotwatch-jobs", cfg.Jobs.StatementTimeout, defaultConnectTimeout, own)
			p.set.closers = append(p.set.closers, link.shutdown)
			p.add(SourceJobs, newJobsCollector(*cfg.Jobs, link, false))
		}
	}
	if cfg.Alerting != nil {
		// Validate has checked the URLs, so this cannot fail.
		if a, err := newAlertingCollector(*cfg.Alerting); err == nil {
			p.add(SourceAlerting, a)
		}
	}
	if cfg.PromFleet != nil {
		if f, err := newPromFleetCollector(*cfg.PromFleet); err == nil {
			p.add(SourcePromFleet, f)
		}
	}
	return p, nil
}

// addServer adds a server's collector; with several servers it records
// into its place in Snapshot.Servers too.
func (p *plan) addServer(cfg Config, info ServerInfo, src source) {
	p.set.servers = append(p.set.servers, info)
	if !p.set.listed {
		p.add(info.Kind, src)
		return
	}
	p.add(info.Kind, serverSource{source: src, index: len(p.servers), primary: info.Primary, kind: info.Kind})
	p.servers = append(p.servers, ServerSnapshot{Name: info.Name, Kind: info.Kind, Primary: info.Primary})
}

// newRedisSource is the collector of one Redis server or cluster, its
// runner and what closes its connections.
func newRedisSource(cfg RedisConfig) (source, *RedisRunner, func()) {
	if cfg.isCluster() {
		cc := newClusterCollector(cfg)
		return cc, &RedisRunner{cl: cc}, cc.shutdown
	}
	rc := newRedisCollector(cfg)
	return rc, &RedisRunner{c: rc}, rc.shutdown
}

// Start runs one goroutine per configured source; each publishes the merged
// snapshot into out (a Mailbox, or a Hub for several consumers) after every
// sample. It returns at once; the goroutines stop and the set's
// connections close when ctx is cancelled. The error is only for invalid
// configuration.
func Start(ctx context.Context, cfg Config, out Sink) (*Set, error) {
	p, err := buildSources(cfg, true)
	if err != nil {
		return nil, err
	}
	h := newMerger(p.servers, p.intervals())
	if cfg.attachable() {
		p.set.live = &liveSet{ctx: ctx, merger: h, out: out, templates: cfg.PromFleet.Live,
			max: cfg.PromFleet.maxLive(), own: p.own, attached: map[string]*liveServer{}}
	}
	var wg sync.WaitGroup
	for _, src := range p.sources {
		wg.Go(func() { runSource(ctx, src, h, out) })
	}
	go func() {
		wg.Wait()
		p.set.close()
	}()
	return p.set, nil
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
// connection it opened. The PostgreSQL servers are sampled first (together,
// one connection each), so that their sessions are exactly the servers'
// client backends with none of slotwatch's own but the collectors' (the
// probe and jobs connections open after them); the other sources then run
// concurrently. Invalid configuration is reported in Errors under
// "config".
func CollectOnce(ctx context.Context, cfg Config) Snapshot {
	p, err := buildSources(cfg, false)
	if err != nil {
		return Snapshot{TakenAt: time.Now(), Errors: map[string]string{"config": err.Error()}}
	}
	defer p.set.close()
	records := make([]func(*Snapshot), len(p.sources))
	collect := func(from, to int) {
		var wg sync.WaitGroup
		for i := from; i < to; i++ {
			wg.Go(func() {
				defer p.sources[i].close()
				records[i] = p.sources[i].collect(ctx)
			})
		}
		wg.Wait()
	}
	collect(0, p.nPG)
	collect(p.nPG, len(p.sources))
	h := newMerger(p.servers, p.intervals())
	snap := h.apply(func(*Snapshot) {})
	for _, record := range records {
		if record != nil {
			snap = h.apply(record)
		}
	}
	return snap
}

// orZero is *p, or the zero value for nil.
func orZero[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
