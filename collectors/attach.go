package collectors

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// DefaultMaxLive is how many fleet instances may be attached at once when
// fleet.max_live is not set: each holds one connection of its own.
const DefaultMaxLive = 3

// LivePrefix starts the name of every attached server, so that it never
// collides with a configured one (whose names may not hold ':').
const LivePrefix = "live:"

// liveSet is the part of a running Set that attaches fleet instances: each
// attached server has its own goroutine and connection, publishes through
// the Set's merger and sink, and is listed in Snapshot.Servers after the
// configured servers, never as a primary.
type liveSet struct {
	ctx       context.Context // the Start's: attached servers stop with the rest
	merger    *merger
	out       Sink
	templates LiveTemplates
	max       int
	own       *ownBackends

	mu       sync.Mutex
	attached map[string]*liveServer
	order    []string // attach order, for Attached
}

type liveServer struct {
	info   ServerInfo
	pg     *PGRunner
	redis  *RedisRunner
	cancel context.CancelFunc
	done   chan struct{} // closed once its connection is closed
}

// LiveName is the server name an instance's rendered live target gets:
// LivePrefix and the target's host:port (its first seed node for a
// cluster, the service for a pg_service.conf name).
func LiveName(kind, target string) string {
	if kind == SourceRedis {
		return LivePrefix + redisName(RedisConfig{URL: target})
	}
	return LivePrefix + newEndpoint(target).server
}

// ErrLiveLimit is the refusal of an attach beyond fleet.max_live.
type ErrLiveLimit struct{ Max int }

func (e *ErrLiveLimit) Error() string {
	return fmt.Sprintf("%d servers are attached live, the most fleet.max_live allows; detach one first or raise fleet.max_live", e.Max)
}

// Attach starts live collectors on one instance of the fleet: the target
// rendered from fleet.live over its labels, one goroutine and one
// connection of its own, listed in Snapshot.Servers as LiveName. Attaching
// an instance already attached returns it again, with no new connection.
// Beyond fleet.max_live attached servers it is refused (*ErrLiveLimit).
func (s *Set) Attach(ctx context.Context, in FleetInstance) (ServerInfo, error) {
	if s == nil || s.live == nil {
		return ServerInfo{}, fmt.Errorf("attaching needs fleet.prometheus and a fleet.live template (postgres, pg_service or redis) in the configuration")
	}
	return s.live.attach(ctx, in)
}

func (l *liveSet) attach(ctx context.Context, in FleetInstance) (ServerInfo, error) {
	kind := map[string]string{FleetPostgres: SourcePostgres, FleetRedis: SourceRedis}[in.Kind]
	if kind == "" {
		return ServerInfo{}, fmt.Errorf("%s is a %s instance; only PostgreSQL and Redis instances can be attached", in.Labels["instance"], fleetKindName(in.Kind))
	}
	target, err := l.templates.LiveTarget(&in)
	if err != nil {
		return ServerInfo{}, err
	}
	if target == "" {
		return ServerInfo{}, fmt.Errorf("no fleet.live template for %s instances; set fleet.live.%s", fleetKindName(in.Kind), map[string]string{SourcePostgres: "postgres", SourceRedis: "redis"}[kind])
	}
	if err := ctx.Err(); err != nil {
		return ServerInfo{}, err
	}
	name := LiveName(kind, target)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ls, ok := l.attached[name]; ok {
		return ls.info, nil
	}
	if len(l.attached) >= l.max {
		return ServerInfo{}, &ErrLiveLimit{Max: l.max}
	}
	ls, src, shutdown := l.build(kind, name, target)
	l.attached[name] = ls
	l.order = append(l.order, name)
	l.out.Put(l.merger.apply(func(snap *Snapshot) {
		snap.Servers = append(snap.Servers, ServerSnapshot{Name: name, Kind: kind})
	}))
	runCtx, cancel := context.WithCancel(l.ctx)
	ls.cancel = cancel
	go func() {
		defer close(ls.done)
		defer shutdown()
		runSource(runCtx, src, l.merger, l.out)
	}()
	return ls.info, nil
}

// build makes an attached server's collector, runner and what closes its
// connection, with the same defaults as a configured server's.
func (l *liveSet) build(kind, name, target string) (*liveServer, source, func()) {
	ls := &liveServer{done: make(chan struct{})}
	var src source
	var shutdown func()
	if kind == SourcePostgres {
		cfg := Config{MorePG: []PGConfig{{Name: name, DSN: target}}}.withDefaults().MorePG[0]
		link := newPGLink(cfg.DSN, "slotwatch", cfg.StatementTimeout, cfg.ConnectTimeout, l.own)
		ls.pg = &PGRunner{link: link}
		src, shutdown = newPGCollectorOn(cfg, link), link.shutdown
		ls.info = ServerInfo{Name: name, Kind: kind, Target: link.ep.target}
	} else {
		cfg := Config{MoreRedis: []RedisConfig{{Name: name, URL: target}}}.withDefaults().MoreRedis[0]
		src, ls.redis, shutdown = newRedisSource(cfg)
		ls.info = ServerInfo{Name: name, Kind: kind, Target: ls.redis.Server(), Cluster: ls.redis.Cluster()}
	}
	return ls, liveSource{source: src, name: name, kind: kind}, shutdown
}

// Detach stops the attached server of that name and closes its
// connection; it returns once the connection is closed (or ctx ends).
// Its runner is gone at once, so an action on it is refused from then on.
func (s *Set) Detach(ctx context.Context, name string) error {
	if s == nil || s.live == nil {
		return fmt.Errorf("no server is attached live: attaching needs fleet.live in the configuration")
	}
	return s.live.detach(ctx, name)
}

func (l *liveSet) detach(ctx context.Context, name string) error {
	l.mu.Lock()
	ls, ok := l.attached[name]
	if ok {
		delete(l.attached, name)
		l.order = slices.DeleteFunc(l.order, func(n string) bool { return n == name })
	}
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("no server named %q is attached live; the attached ones are %s", name, l.list())
	}
	ls.cancel()
	l.out.Put(l.merger.apply(func(snap *Snapshot) {
		snap.Servers = slices.DeleteFunc(snap.Servers, func(s ServerSnapshot) bool { return s.Name == name })
	}))
	select {
	case <-ls.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s is detached but its connection was not closed yet: %w", name, ctx.Err())
	}
}

func (l *liveSet) list() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.order) == 0 {
		return "none"
	}
	return fmt.Sprint(l.order)
}

// Attached lists the attached servers in attach order.
func (s *Set) Attached() []ServerInfo {
	if s == nil || s.live == nil {
		return nil
	}
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	out := make([]ServerInfo, 0, len(s.live.order))
	for _, n := range s.live.order {
		out = append(out, s.live.attached[n].info)
	}
	return out
}

// MaxLive is how many servers may be attached at once (0: attaching is
// not configured).
func (s *Set) MaxLive() int {
	if s == nil || s.live == nil {
		return 0
	}
	return s.live.max
}

func (l *liveSet) runner(name string) (*PGRunner, *RedisRunner) {
	if l == nil {
		return nil, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ls, ok := l.attached[name]; ok {
		return ls.pg, ls.redis
	}
	return nil, nil
}

// liveSource records an attached server's sample into its entry of
// Snapshot.Servers, found by name: entries move as others detach, and a
// sample that lands after its detach is dropped.
type liveSource struct {
	source
	name, kind string
}

func (s liveSource) collect(ctx context.Context) func(*Snapshot) {
	record := s.source.collect(ctx)
	if record == nil {
		return nil
	}
	return func(snap *Snapshot) {
		i := slices.IndexFunc(snap.Servers, func(sv ServerSnapshot) bool { return sv.Name == s.name })
		if i < 0 {
			return
		}
		from := &Snapshot{Errors: map[string]string{}}
		record(from)
		srv := &snap.Servers[i]
		srv.Error = from.Errors[s.kind]
		srv.Postgres, srv.Redis = from.Postgres, from.Redis
	}
}

func fleetKindName(kind string) string {
	switch kind {
	case FleetPostgres:
		return "PostgreSQL"
	case FleetRedis:
		return "Redis"
	case FleetPgBouncer:
		return "pgbouncer"
	default:
		return "unknown"
	}
}
