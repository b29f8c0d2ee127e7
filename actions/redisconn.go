package actions

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/slotwatch/slotwatch/collectors"
)

// RedisSession runs fn on a Redis connection it owns, connecting or
// reconnecting first when needed; calls are serialised. The collectors'
// runner (collectors.Set.Redis()) satisfies it; DialRedis makes one over a
// dedicated client.
type RedisSession interface {
	WithConn(ctx context.Context, fn func(ctx context.Context, conn *redis.Conn) error) error
	// Server names the target without credentials.
	Server() string
}

// RedisConn is the real RedisDriver and RedisGuardDriver. Redis never
// reuses client ids, so a previewed id still names the same client at kill
// time. Its own client id is read on the connection at use time (the
// session may have reconnected).
type RedisConn struct {
	sess  RedisSession
	close func() error
	ownID atomic.Int64

	mu      sync.Mutex
	version string
	// byID tells whether CLIENT LIST ID (6.2+) is available.
	byID bool
}

var (
	_ RedisDriver       = (*RedisConn)(nil)
	_ ClientsByIDLister = (*RedisConn)(nil)
)

// NewRedisDriver makes a driver that borrows s's connection for every
// command.
func NewRedisDriver(s RedisSession) *RedisConn { return &RedisConn{sess: s} }

// DialRedis opens a dedicated connection to a redis:// or rediss:// URL for
// the duration of a command (the CLI).
func DialRedis(ctx context.Context, rawURL string) (*RedisConn, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("the Redis URL %s is not valid: %s", collectors.RedactURL(rawURL), scrubPassword(err.Error(), rawURL))
	}
	opt.ClientName = "slotwatch"
	// One connection, no silent re-dial behind our back: the own id stays true.
	opt.PoolSize, opt.MaxActiveConns, opt.MinIdleConns, opt.MaxIdleConns = 1, 1, 0, 1
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.MaxRetries = -1
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	opt.ContextTimeoutEnabled = true
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		_ = cn.Do(ctx, "CLIENT", "NO-EVICT", "ON").Err() // 7.0+; older servers refuse, harmlessly
		return nil
	}
	s := &ownRedis{rdb: redis.NewClient(opt), server: opt.Addr + "/" + strconv.Itoa(opt.DB)}
	c := NewRedisDriver(s)
	c.close = s.rdb.Close
	if err := c.with(ctx, func(ctx context.Context, cn *redis.Conn) error { return c.refreshOwnID(ctx, cn) }); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("cannot connect to Redis on %s: %s", s.server, scrubPassword(err.Error(), rawURL))
	}
	return c, nil
}

// ownRedis is a RedisSession over a dedicated one-connection client.
type ownRedis struct {
	mu     sync.Mutex
	rdb    *redis.Client
	server string
}

func (s *ownRedis) Server() string { return s.server }

func (s *ownRedis) WithConn(ctx context.Context, fn func(context.Context, *redis.Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cn := s.rdb.Conn()
	defer cn.Close()
	return fn(ctx, cn)
}

// scrubPassword removes the URL's password from a parser's or dialer's
// message, which may quote its input.
func scrubPassword(msg, rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// with runs fn on the session's connection, reading the server version
// once.
func (c *RedisConn) with(ctx context.Context, fn func(ctx context.Context, cn *redis.Conn) error) error {
	return c.sess.WithConn(ctx, func(ctx context.Context, cn *redis.Conn) error {
		c.mu.Lock()
		known := c.version != ""
		c.mu.Unlock()
		if !known {
			if v := serverVersion(ctx, cn); v != "" {
				c.mu.Lock()
				c.version, c.byID = v, versionAtLeast(v, 6, 2)
				c.mu.Unlock()
			}
		}
		return fn(ctx, cn)
	})
}

func (c *RedisConn) refreshOwnID(ctx context.Context, cn *redis.Conn) error {
	id, err := cn.ClientID(ctx).Result()
	if err != nil {
		return fmt.Errorf("CLIENT ID: %w", err)
	}
	c.ownID.Store(id)
	return nil
}

func serverVersion(ctx context.Context, cn *redis.Conn) string {
	info, err := cn.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (ma > major || ma == major && mi >= minor)
}

// Close closes a client DialRedis opened; a borrowed one is left to its
// owner.
func (c *RedisConn) Close() error {
	if c.close == nil {
		return nil
	}
	return c.close()
}

// Server names the target as host:port/db, never with a password.
func (c *RedisConn) Server() string { return c.sess.Server() }

// OwnID is the connection's client id as of its last use.
func (c *RedisConn) OwnID() int64 { return c.ownID.Load() }

// Clients reads CLIENT LIST, and the own id on the same connection.
func (c *RedisConn) Clients(ctx context.Context) ([]collectors.RedisClient, error) {
	var out []collectors.RedisClient
	err := c.with(ctx, func(ctx context.Context, cn *redis.Conn) error {
		if err := c.refreshOwnID(ctx, cn); err != nil {
			return err
		}
		reply, err := cn.ClientList(ctx).Result()
		if err != nil {
			return fmt.Errorf("CLIENT LIST: %w", err)
		}
		out, err = collectors.ParseClientList(reply)
		return err
	})
	return out, err
}

// ClientsByID reads only the given clients (CLIENT LIST ID, 6.2+; the whole
// list on older servers).
func (c *RedisConn) ClientsByID(ctx context.Context, ids []int64) ([]collectors.RedisClient, error) {
	c.mu.Lock()
	byID := c.byID
	c.mu.Unlock()
	if !byID || len(ids) == 0 {
		return c.Clients(ctx)
	}
	var out []collectors.RedisClient
	err := c.with(ctx, func(ctx context.Context, cn *redis.Conn) error {
		if err := c.refreshOwnID(ctx, cn); err != nil {
			return err
		}
		args := []any{"CLIENT", "LIST", "ID"}
		for _, id := range ids {
			args = append(args, id)
		}
		reply, err := cn.Do(ctx, args...).Text()
		if err != nil {
			return fmt.Errorf("CLIENT LIST ID: %w", err)
		}
		out, err = collectors.ParseClientList(reply)
		return err
	})
	return out, err
}

// Kill closes one client with CLIENT KILL ID (SKIPME yes: never this
// connection); false means no such client any more.
func (c *RedisConn) Kill(ctx context.Context, id int64) (bool, error) {
	var n int64
	err := c.with(ctx, func(ctx context.Context, cn *redis.Conn) error {
		var err error
		n, err = cn.Do(ctx, "CLIENT", "KILL", "ID", id, "SKIPME", "yes").Int64()
		if err != nil {
			return fmt.Errorf("CLIENT KILL ID %d: %w", id, err)
		}
		return nil
	})
	return n > 0, err
}

var _ RedisGuardDriver = (*RedisConn)(nil)

// ConfigGet reads one configuration parameter.
func (c *RedisConn) ConfigGet(ctx context.Context, name string) (string, error) {
	var v string
	err := c.with(ctx, func(ctx context.Context, cn *redis.Conn) error {
		m, err := cn.ConfigGet(ctx, name).Result()
		if err != nil {
			return fmt.Errorf("CONFIG GET %s: %w (managed Redis may rename or disable CONFIG)", name, err)
		}
		var ok bool
		if v, ok = m[name]; !ok {
			return fmt.Errorf("CONFIG GET %s returned nothing", name)
		}
		return nil
	})
	return v, err
}

// ConfigSet changes one configuration parameter at runtime.
func (c *RedisConn) ConfigSet(ctx context.Context, name, value string) error {
	return c.with(ctx, func(ctx context.Context, cn *redis.Conn) error {
		if err := cn.ConfigSet(ctx, name, value).Err(); err != nil {
			return fmt.Errorf("CONFIG SET %s %s: %w (managed Redis may rename or disable CONFIG)", name, value, err)
		}
		return nil
	})
}
