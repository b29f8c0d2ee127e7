package actions

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/slotwatch/slotwatch/collectors"
)

// RedisConn is the real RedisDriver: one connection named slotwatch
// (protected by the default policy). Redis never reuses client ids, so a
// previewed id still names the same client at kill time.
type RedisConn struct {
	rdb     *redis.Client
	server  string
	ownID   atomic.Int64
	version string
	// byID tells whether CLIENT LIST ID (6.2+) is available.
	byID bool
}

var (
	_ RedisDriver       = (*RedisConn)(nil)
	_ ClientsByIDLister = (*RedisConn)(nil)
)

// DialRedis opens the actions connection to a redis:// or rediss:// URL.
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
	c := &RedisConn{rdb: redis.NewClient(opt), server: opt.Addr + "/" + strconv.Itoa(opt.DB)}
	if err := c.refreshOwnID(ctx); err != nil {
		_ = c.rdb.Close()
		return nil, fmt.Errorf("cannot connect to Redis on %s: %s", c.server, scrubPassword(err.Error(), rawURL))
	}
	c.version = c.serverVersion(ctx)
	c.byID = versionAtLeast(c.version, 6, 2)
	return c, nil
}

func scrubPassword(msg, rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

func (c *RedisConn) refreshOwnID(ctx context.Context) error {
	id, err := c.rdb.ClientID(ctx).Result()
	if err != nil {
		return err
	}
	c.ownID.Store(id)
	return nil
}

func (c *RedisConn) serverVersion(ctx context.Context) string {
	info, err := c.rdb.Info(ctx, "server").Result()
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

// Close closes the connection.
func (c *RedisConn) Close() error { return c.rdb.Close() }

// Server names the target as host:port/db, never with a password.
func (c *RedisConn) Server() string { return c.server }

// OwnID is this connection's client id.
func (c *RedisConn) OwnID() int64 { return c.ownID.Load() }

// Clients reads CLIENT LIST.
func (c *RedisConn) Clients(ctx context.Context) ([]collectors.RedisClient, error) {
	if err := c.refreshOwnID(ctx); err != nil {
		return nil, fmt.Errorf("CLIENT ID: %w", err)
	}
	reply, err := c.rdb.ClientList(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("CLIENT LIST: %w", err)
	}
	return collectors.ParseClientList(reply)
}

// ClientsByID reads only the given clients (CLIENT LIST ID, 6.2+; the whole
// list on older servers).
func (c *RedisConn) ClientsByID(ctx context.Context, ids []int64) ([]collectors.RedisClient, error) {
	if !c.byID || len(ids) == 0 {
		return c.Clients(ctx)
	}
	args := []any{"CLIENT", "LIST", "ID"}
	for _, id := range ids {
		args = append(args, id)
	}
	reply, err := c.rdb.Do(ctx, args...).Text()
	if err != nil {
		return nil, fmt.Errorf("CLIENT LIST ID: %w", err)
	}
	return collectors.ParseClientList(reply)
}

// Kill closes one client with CLIENT KILL ID (SKIPME yes: never this
// connection); false means no such client any more.
func (c *RedisConn) Kill(ctx context.Context, id int64) (bool, error) {
	n, err := c.rdb.Do(ctx, "CLIENT", "KILL", "ID", id, "SKIPME", "yes").Int64()
	if err != nil {
		return false, fmt.Errorf("CLIENT KILL ID %d: %w", id, err)
	}
	return n > 0, nil
}

var _ RedisGuardDriver = (*RedisConn)(nil)

// ConfigGet reads one configuration parameter.
func (c *RedisConn) ConfigGet(ctx context.Context, name string) (string, error) {
	m, err := c.rdb.ConfigGet(ctx, name).Result()
	if err != nil {
		return "", fmt.Errorf("CONFIG GET %s: %w (managed Redis may rename or disable CONFIG)", name, err)
	}
	v, ok := m[name]
	if !ok {
		return "", fmt.Errorf("CONFIG GET %s returned nothing", name)
	}
	return v, nil
}

// ConfigSet changes one configuration parameter at runtime.
func (c *RedisConn) ConfigSet(ctx context.Context, name, value string) error {
	if err := c.rdb.ConfigSet(ctx, name, value).Err(); err != nil {
		return fmt.Errorf("CONFIG SET %s %s: %w (managed Redis may rename or disable CONFIG)", name, value, err)
	}
	return nil
}
