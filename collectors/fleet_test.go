package collectors

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slotwatch/slotwatch/internal/testserver"
)

func TestValidateNames(t *testing.T) {
	pg := "postgres://u@127.0.0.1:5999/db"
	dup := Config{PG: &PGConfig{DSN: pg, Name: "main"}, MorePG: []PGConfig{{DSN: "postgres://u@127.0.0.1:5998/db", Name: "main"}}}
	if err := dup.Validate(); err == nil || !strings.Contains(err.Error(), "several servers are named main") {
		t.Errorf("two servers named main: %v", err)
	}
	// Unnamed, the same host:port twice (two databases of one server).
	same := Config{PG: &PGConfig{DSN: pg}, MorePG: []PGConfig{{DSN: "postgres://u@127.0.0.1:5999/other"}}}
	if err := same.Validate(); err == nil || !strings.Contains(err.Error(), "127.0.0.1:5999") {
		t.Errorf("two unnamed servers of one address: %v", err)
	}
	across := Config{PG: &PGConfig{DSN: pg, Name: "a"}, Redis: &RedisConfig{URL: "redis://127.0.0.1:1/0", Name: "a"}}
	if err := across.Validate(); err == nil {
		t.Error("a PostgreSQL and a Redis server of one name must be refused: actions name servers alone")
	}
	ok := Config{PG: &PGConfig{DSN: pg}, MorePG: []PGConfig{{DSN: "postgres://u@127.0.0.1:5998/db"}},
		Redis: &RedisConfig{URL: "redis://127.0.0.1:1/0"}, MoreRedis: []RedisConfig{{URL: "redis://127.0.0.1:2/0", Name: "cache"}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("distinct servers: %v", err)
	}
	// Without a primary the first extra server is one.
	p, err := buildSources(Config{MoreRedis: []RedisConfig{{URL: "redis://127.0.0.1:1/0"}, {URL: "redis://127.0.0.1:2/0"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.set.close()
	infos := p.set.Servers()
	if len(infos) != 2 || !infos[0].Primary || infos[0].Name != "127.0.0.1:1" || p.set.Redis() != p.set.RedisServer("127.0.0.1:1") ||
		len(p.servers) != 2 {
		t.Errorf("servers %+v", infos)
	}
}

// serverNamed is the entry of s.Servers of that name.
func serverNamed(s Snapshot, name string) *ServerSnapshot {
	for i := range s.Servers {
		if s.Servers[i].Name == name {
			return &s.Servers[i]
		}
	}
	return nil
}

func serversAnswered(s Snapshot) bool {
	if len(s.Servers) == 0 {
		return false
	}
	for _, srv := range s.Servers {
		if srv.Error != "" || (srv.Postgres == nil && srv.Redis == nil) {
			return false
		}
	}
	return true
}

// TestFleet is two PostgreSQL and two Redis servers: each its own
// collector and connection, all listed in Servers.
func TestFleet(t *testing.T) {
	t.Parallel()
	p1 := testserver.StartPostgres(t, testserver.PGOptions{})
	p2 := testserver.StartPostgres(t, testserver.PGOptions{})
	r1 := testserver.StartRedis(t, testserver.RedisOptions{})
	r2 := testserver.StartRedis(t, testserver.RedisOptions{})
	// Kept referenced: an unreachable connection's socket is closed by
	// the garbage collector.
	replicaApp := hold(t, p2.DSN, "replica-app")
	t.Cleanup(func() { closeAll(replicaApp) })
	holdRedis(t, "tcp", r2.Addr, "cache-%d", 2)
	cfg := Config{
		PG:        &PGConfig{DSN: p1.DSN, Name: "primary", Interval: 50 * time.Millisecond},
		MorePG:    []PGConfig{{DSN: p2.DSN, Name: "replica", Interval: 50 * time.Millisecond}},
		Redis:     &RedisConfig{URL: r1.URL, Interval: 50 * time.Millisecond},
		MoreRedis: []RedisConfig{{URL: r2.URL, Name: "cache", Interval: 50 * time.Millisecond}},
	}
	names := []string{"primary", "replica", r1.Addr, "cache"}

	t.Run("CollectOnce", func(t *testing.T) {
		s := CollectOnce(context.Background(), cfg)
		if !serversAnswered(s) || len(s.Servers) != 4 || len(s.Errors) != 0 {
			t.Fatalf("servers %+v, errors %v", s.Servers, s.Errors)
		}
		if s.Servers[0].Postgres != s.Postgres || s.Servers[2].Redis != s.Redis {
			t.Error("the primaries' entries must share the top-level stats")
		}
		if len(sessionsOf(s.Servers[1].Postgres, "replica-app")) != 1 || len(sessionsOf(s.Postgres, "replica-app")) != 0 {
			t.Errorf("replica-app must be a session of the replica only")
		}
	})

	set, mb, cancel := startSet(t, cfg)
	defer cancel()
	s := waitMailbox(t, mb, func(s Snapshot) bool {
		return serversAnswered(s) && len(serverNamed(s, "replica").Postgres.Sessions) > 0 && len(serverNamed(s, "cache").Redis.Clients) == 2
	})
	t.Run("every server, its name and its own stats", func(t *testing.T) {
		for i, srv := range s.Servers {
			wantKind := SourcePostgres
			if i >= 2 {
				wantKind = SourceRedis
			}
			if srv.Name != names[i] || srv.Kind != wantKind || srv.Primary != (i == 0 || i == 2) {
				t.Errorf("server %d = %s/%s primary %v; want %s/%s", i, srv.Name, srv.Kind, srv.Primary, names[i], wantKind)
			}
		}
		if s.Servers[0].Postgres != s.Postgres || s.Servers[2].Redis != s.Redis || len(s.Errors) != 0 {
			t.Errorf("the primaries' entries must share the top-level stats; errors %v", s.Errors)
		}
		if got := s.Servers[1].Postgres.Target; got != "127.0.0.1:"+strconv.Itoa(p2.Port)+"/postgres" {
			t.Errorf("replica target %q", got)
		}
		if s.Servers[3].Redis.Target != r2.Addr+"/0" || s.Redis.Target != r1.Addr+"/0" {
			t.Errorf("redis targets %q, %q", s.Redis.Target, s.Servers[3].Redis.Target)
		}
		if len(sessionsOf(s.Servers[1].Postgres, "replica-app")) != 1 || len(sessionsOf(s.Postgres, "replica-app")) != 0 {
			t.Errorf("replica-app must be a session of the replica only")
		}
		if len(s.Redis.Clients) != 0 || len(s.Servers[3].Redis.Clients) != 2 {
			t.Errorf("clients: primary %+v, cache %+v", s.Redis.Clients, s.Servers[3].Redis.Clients)
		}
		for _, srv := range s.Servers {
			own := 0
			if srv.Postgres != nil {
				own = srv.Postgres.OwnConnections
			} else {
				own = srv.Redis.OwnConnections
			}
			if own != 1 {
				t.Errorf("%s: own_connections %d, want 1", srv.Name, own)
			}
		}
	})
	ctx := context.Background()
	t.Run("runners by name", func(t *testing.T) {
		var port int
		err := set.PGServer("replica").WithConn(ctx, func(ctx context.Context, conn *pgx.Conn) error {
			return conn.QueryRow(ctx, "SELECT inet_server_port()").Scan(&port)
		})
		if err != nil || port != p2.Port {
			t.Errorf("PGServer(replica) ran on port %d (%v), want %d", port, err, p2.Port)
		}
		if set.PGServer("") != set.PG() || set.PGServer("primary") != set.PG() || set.PGServer("cache") != nil || set.PGServer("nope") != nil {
			t.Error("PGServer: \"\" and the primary's name are PG(); another kind's or an unknown name is nil")
		}
		if set.RedisServer("") != set.Redis() || set.RedisServer(r1.Addr) != set.Redis() || set.RedisServer("cache").Server() != r2.Addr+"/0" {
			t.Error("RedisServer by name")
		}
		infos := set.Servers()
		if len(infos) != 4 || infos[1] != (ServerInfo{Name: "replica", Kind: SourcePostgres, Target: "127.0.0.1:" + strconv.Itoa(p2.Port) + "/postgres"}) ||
			!infos[2].Primary || infos[3].Cluster {
			t.Errorf("Servers() = %+v", infos)
		}
	})
	t.Run("a stopped server shows its error, the others are fine", func(t *testing.T) {
		before := s
		p2.Stop(t)
		r2.Stop(t)
		s := waitMailbox(t, mb, func(s Snapshot) bool {
			return serverNamed(s, "replica").Error != "" && serverNamed(s, "cache").Error != "" &&
				s.Servers[0].Error == "" && s.Servers[2].Error == ""
		})
		replica, cache := serverNamed(s, "replica"), serverNamed(s, "cache")
		if !strings.Contains(replica.Error, strconv.Itoa(p2.Port)) || !strings.Contains(cache.Error, r2.Addr) {
			t.Errorf("errors %q / %q; want each server's address", replica.Error, cache.Error)
		}
		if replica.Postgres == nil || !replica.Postgres.LastGoodAt.Before(replica.Postgres.SampledAt) || cache.Redis == nil {
			t.Errorf("a failed server keeps its last good stats: %+v %+v", replica.Postgres, cache.Redis)
		}
		if len(s.Errors) != 0 || s.Postgres == nil || s.Redis == nil {
			t.Errorf("the primaries are fine, yet errors %v", s.Errors)
		}
		if before.Servers[1].Error != "" || before.Servers[3].Error != "" {
			t.Error("a published snapshot changed")
		}
	})
}
