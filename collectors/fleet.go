package collectors

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// ServerInfo describes one configured PostgreSQL or Redis server.
type ServerInfo struct {
	Name    string // configured name, or the redacted host:port
	Kind    string // SourcePostgres or SourceRedis
	Target  string // as PGRunner.Server / RedisRunner.Server, never a password
	Primary bool
	Cluster bool // a Redis Cluster
}

// fleet reports whether several servers are configured, so that snapshots
// carry Servers.
func (c Config) fleet() bool { return len(c.MorePG)+len(c.MoreRedis) > 0 }

// attachable reports whether fleet instances can be attached live: the
// fleet is read from Prometheus and fleet.live says how to reach one.
func (c Config) attachable() bool {
	if c.PromFleet == nil {
		return false
	}
	l := c.PromFleet.Live
	return l.Postgres != "" || l.PGService != "" || l.Redis != ""
}

// pgServers lists the PostgreSQL servers, the primary first.
func (c Config) pgServers() []PGConfig {
	var out []PGConfig
	if c.PG != nil {
		out = append(out, *c.PG)
	}
	return append(out, c.MorePG...)
}

// redisServers lists the Redis servers, the primary first.
func (c Config) redisServers() []RedisConfig {
	var out []RedisConfig
	if c.Redis != nil {
		out = append(out, *c.Redis)
	}
	return append(out, c.MoreRedis...)
}

// withPrimaries makes the first extra server of a kind its primary when
// no primary of that kind is configured.
func (c Config) withPrimaries() Config {
	if c.PG == nil && len(c.MorePG) > 0 {
		pg := c.MorePG[0]
		c.PG, c.MorePG = &pg, c.MorePG[1:]
	}
	if c.Redis == nil && len(c.MoreRedis) > 0 {
		r := c.MoreRedis[0]
		c.Redis, c.MoreRedis = &r, c.MoreRedis[1:]
	}
	return c
}

// pgName is the server's configured name, or its host:port.
func pgName(cfg PGConfig) string {
	if cfg.Name != "" {
		return cfg.Name
	}
	return newEndpoint(cfg.DSN).server
}

// redisName is the server's configured name, or its (first seed node's)
// host:port.
func redisName(cfg RedisConfig) string {
	if cfg.Name != "" {
		return cfg.Name
	}
	if cfg.isCluster() {
		if opt, err := parseClusterOptions(cfg.URL, cfg.Timeout); err == nil {
			return scrub(opt.Addrs[0], secretsOf(cfg.URL)...)
		}
		return RedactURL(cfg.URL)
	}
	if opt, err := parseRedisOptions(cfg.URL, cfg.Timeout); err == nil {
		return scrub(opt.Addr, secretsOf(cfg.URL)...)
	}
	return RedactURL(cfg.URL)
}

// validateNames rejects two servers of the same name: screens and actions
// name a server by it.
func (c Config) validateNames() error {
	c = c.withPrimaries()
	seen := map[string]bool{}
	var dups []string
	add := func(name string) {
		if seen[name] && !slices.Contains(dups, name) {
			dups = append(dups, name)
		}
		seen[name] = true
	}
	for _, pg := range c.pgServers() {
		add(pgName(pg))
	}
	for _, r := range c.redisServers() {
		add(redisName(r))
	}
	if len(dups) == 0 {
		return nil
	}
	return fmt.Errorf("several servers are named %s; give each server a name of its own (name:)", strings.Join(dups, ", "))
}

// serverSource samples one server of several and records its sample at its
// place in Snapshot.Servers as well: the primary's at the top level too,
// another server's only there.
type serverSource struct {
	source
	index   int
	primary bool
	kind    string
}

func (s serverSource) collect(ctx context.Context) func(*Snapshot) {
	record := s.source.collect(ctx)
	if record == nil {
		return nil
	}
	return func(snap *Snapshot) {
		from := snap
		if !s.primary {
			// The inner record writes the top level; give it a scratch
			// snapshot so that only Servers[index] changes.
			from = &Snapshot{Errors: map[string]string{}}
		}
		record(from)
		srv := &snap.Servers[s.index]
		srv.Error = from.Errors[s.kind]
		switch s.kind {
		case SourcePostgres:
			srv.Postgres = from.Postgres
		case SourceRedis:
			srv.Redis = from.Redis
		}
	}
}

// PGServer is the runner of the PostgreSQL server of that name; "" is the
// primary (PG). Nil for an unknown name.
func (s *Set) PGServer(name string) *PGRunner {
	if s == nil {
		return nil
	}
	if name == "" {
		return s.pg
	}
	if r, ok := s.pgByName[name]; ok {
		return r
	}
	r, _ := s.live.runner(name)
	return r
}

// RedisServer is the runner of the Redis server (or cluster) of that name;
// "" is the primary (Redis). Nil for an unknown name.
func (s *Set) RedisServer(name string) *RedisRunner {
	if s == nil {
		return nil
	}
	if name == "" {
		return s.redis
	}
	if r, ok := s.redisByName[name]; ok {
		return r
	}
	_, r := s.live.runner(name)
	return r
}

// Servers lists every configured PostgreSQL and Redis server in the order
// of Snapshot.Servers.
func (s *Set) Servers() []ServerInfo {
	if s == nil {
		return nil
	}
	return append([]ServerInfo(nil), s.servers...)
}
